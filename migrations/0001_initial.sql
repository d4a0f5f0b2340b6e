-- membership-mirror initial schema.
--
-- State tables keep the columns that queries filter or the hot-path cache loads as real columns,
-- and the whole record (every fact with the version that set it) as `record` jsonb, written by
-- the one serializer in server/domain/records_json.cc. Writers are serialized by the row lock on
-- change_log_head, so change-log sequences commit in order and tailing readers never skip one.

-- Every authenticated delivery, kept forever-ish (pruned by retention, never silently dropped).
CREATE TABLE provider_events (
    provider     text        NOT NULL CHECK (provider IN ('huudis', 'fusionauth', 'operator')),
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    fact_time    timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('applied', 'stale', 'ignored', 'dead_lettered')),
    -- Change-log position at which this event's effect is visible.
    sequence     bigint      NOT NULL,
    raw_body     text        NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX provider_events_received_at ON provider_events (received_at);

-- Authentic events we could not apply, with the reason; replayable by an operator.
CREATE TABLE dead_letters (
    provider     text        NOT NULL,
    event_id     text        NOT NULL,
    reason       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    PRIMARY KEY (provider, event_id),
    FOREIGN KEY (provider, event_id) REFERENCES provider_events (provider, event_id)
);

CREATE TABLE users (
    user_id               text        PRIMARY KEY,
    state                 text        NOT NULL CHECK (state IN ('active', 'disabled', 'deleted')),
    state_changed_at      timestamptz,
    disabled_reason       text,
    sessions_valid_after  timestamptz,
    record                jsonb       NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    account_id  text        PRIMARY KEY,
    name        text,
    record      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Removed memberships stay as tombstones (present = false) so that a late, older add cannot
-- bring them back (DESIGN §2 rule 3).
CREATE TABLE memberships (
    account_id  text        NOT NULL,
    user_id     text        NOT NULL,
    present     boolean     NOT NULL,
    role        text        NOT NULL,
    record      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_present_by_user ON memberships (user_id, account_id) WHERE present;
CREATE INDEX memberships_present_by_account_role ON memberships (account_id, role, user_id) WHERE present;

-- Seat counts maintained in the same transaction as membership and user changes, so reading
-- them never scans memberships. One row per (account, role); billable excludes members whose
-- user is disabled or deleted.
CREATE TABLE seat_counts (
    account_id  text   NOT NULL,
    role        text   NOT NULL,
    members     bigint NOT NULL CHECK (members >= 0),
    billable    bigint NOT NULL CHECK (billable >= 0 AND billable <= members),
    PRIMARY KEY (account_id, role)
);

-- One row: the last appended change-log sequence. Locking it (SELECT ... FOR UPDATE) is what
-- serializes writers across replicas.
CREATE TABLE change_log_head (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_sequence  bigint  NOT NULL
);
INSERT INTO change_log_head (singleton, last_sequence) VALUES (true, 0);

-- Every committed change to a user, account or membership, with the record after the change.
CREATE TABLE change_log (
    sequence      bigint      PRIMARY KEY,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    entity        text        NOT NULL CHECK (entity IN ('user', 'account', 'membership')),
    entity_key    text        NOT NULL,
    record        jsonb       NOT NULL
);
CREATE INDEX change_log_committed_at ON change_log (committed_at);
