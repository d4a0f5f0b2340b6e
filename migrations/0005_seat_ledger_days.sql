-- Seat-ledger reads and retention (docs/design.md §4b).

-- Per workspace, UTC day and role, the sum of the ledger's rows of that day, kept in the batch's
-- transaction like the rows: a count at t is the base, the whole days before t's day and the
-- rows of t's day up to t (a few thousand rows at most, not the whole history).
CREATE TABLE seat_ledger_days (
    account_id text        NOT NULL,
    day        timestamptz NOT NULL,  -- midnight UTC
    role       text        NOT NULL,
    members    bigint      NOT NULL,
    billable   bigint      NOT NULL,
    PRIMARY KEY (account_id, day, role)
);

INSERT INTO seat_ledger_days (account_id, day, role, members, billable)
SELECT account_id, date_trunc('day', at, 'UTC'), role, sum(members), sum(billable)
  FROM seat_ledger GROUP BY 1, 2, 3 HAVING sum(members) <> 0 OR sum(billable) <> 0;

-- Retention folds the oldest rows into the base a chunk at a time, oldest first.
CREATE INDEX seat_ledger_by_time ON seat_ledger (at);
