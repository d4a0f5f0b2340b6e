-- Seat-ledger retention (docs/design.md §4b, Retention): the pruner folds the oldest ledger rows
-- into seat_ledger_base a chunk at a time, oldest first, which needs the rows by time.
CREATE INDEX seat_ledger_by_time ON seat_ledger (at);
