-- The seat ledger (docs/design.md §4b): seat history keyed by fact time.

-- Every fact that decides a seat (domain/seat_history.h), won or stale: a membership fact of
-- (account, user) ('m'), a whole member list of an account ('l', user_id ''), a user's state
-- ('u', account_id ''). One key serves the three lookups of a recompute (by pair, by account,
-- by user). is_on: present after a membership fact, active after a state fact.
CREATE TABLE seat_facts (
    kind       "char"      NOT NULL CHECK (kind IN ('m', 'l', 'u')),
    account_id text        NOT NULL,
    user_id    text        NOT NULL,
    fact_time  timestamptz NOT NULL,
    event_id   text        NOT NULL,
    ordinal    integer     NOT NULL,
    is_on      boolean     NOT NULL,
    role       text        NOT NULL DEFAULT '',
    PRIMARY KEY (kind, account_id, user_id, fact_time, event_id, ordinal)
);

-- One row per change of a member's seat: at the fact time of the event that caused it, in one
-- role, with the change of present memberships and of billable seats (-1, 0 or +1 per fact;
-- rows of one key summed). Rows at or after the horizon only; what came before is summed in
-- seat_ledger_base.
CREATE TABLE seat_ledger (
    account_id text        NOT NULL,
    at         timestamptz NOT NULL,
    user_id    text        NOT NULL,
    event_id   text        NOT NULL,
    role       text        NOT NULL,
    members    integer     NOT NULL,
    billable   integer     NOT NULL,
    PRIMARY KEY (account_id, at, user_id, event_id, role)
);

-- The counts before the horizon, per account and role: the state this migration found, and
-- later what retention folds away.
CREATE TABLE seat_ledger_base (
    account_id text   NOT NULL,
    role       text   NOT NULL,
    members    bigint NOT NULL,
    billable   bigint NOT NULL,
    PRIMARY KEY (account_id, role)
);

-- The oldest instant the ledger answers for: -infinity on a database that had no memberships
-- when this ran; otherwise this migration's time (the history before it was never recorded).
CREATE TABLE seat_ledger_horizon (
    singleton boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    oldest    timestamptz NOT NULL
);

-- A populated database: its current records become facts (their winning versions), the
-- current counts the base, and the ledger answers from now on.
INSERT INTO seat_facts (kind, account_id, user_id, fact_time, event_id, ordinal, is_on, role)
SELECT 'm', account_id, user_id, (record->'version'->>'at')::timestamptz, record->'version'->>'event_id', 0,
       present, CASE WHEN present THEN role ELSE '' END
  FROM memberships WHERE record ? 'version'
UNION ALL
SELECT 'u', '', user_id, (record->'state_version'->>'at')::timestamptz, record->'state_version'->>'event_id', 0,
       state = 'active', ''
  FROM users WHERE record ? 'state_version'
UNION ALL
SELECT 'l', account_id, '', (record->'member_list_version'->>'at')::timestamptz,
       record->'member_list_version'->>'event_id', 0, false, ''
  FROM accounts WHERE record ? 'member_list_version';

INSERT INTO seat_ledger_base (account_id, role, members, billable)
SELECT account_id, role, members, billable FROM seat_counts;

INSERT INTO seat_ledger_horizon (oldest)
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM memberships) THEN '-infinity'::timestamptz
            ELSE greatest(now(), (SELECT max(fact_time) + interval '1 microsecond' FROM seat_facts)) END;
