-- Pull sources (DESIGN §3b): where each source stands, written in the same transaction as the
-- events it yielded, so that a crash mid-page never skips or re-applies anything; and what a
-- full listing saw last, for sources that must notice an item that stopped being listed.

-- MonoCloud is a provider of pulled events.
ALTER TABLE provider_events DROP CONSTRAINT provider_events_provider_check;
ALTER TABLE provider_events ADD CONSTRAINT provider_events_provider_check
    CHECK (provider IN ('huudis', 'fusionauth', 'monocloud', 'operator'));

-- One row per source and scope (a Huudis workspace, a MonoCloud group, a FusionAuth tenant; ''
-- for a source with a single scope).
CREATE TABLE source_state (
    source           text        NOT NULL,
    scope            text        NOT NULL,
    -- The source's own position (e.g. the audit log's watermark and an unfinished sweep's
    -- cursor), written only together with the events it yielded.
    position         jsonb       NOT NULL DEFAULT '{}',
    -- How far the source is known complete (the audit log: every entry up to it was applied).
    watermark        timestamptz,
    events_yielded   bigint      NOT NULL DEFAULT 0 CHECK (events_yielded >= 0),
    -- The last run, written by the puller after each run (not transactional with events).
    status           text        NOT NULL DEFAULT 'never_run'
                     CHECK (status IN ('never_run', 'ok', 'error', 'stopped')),
    last_attempt_at  timestamptz,
    last_success_at  timestamptz,
    last_error       text,
    last_error_at    timestamptz,
    last_run_drift   bigint      NOT NULL DEFAULT 0,
    puller           text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, scope)
);

-- What the last complete listing of a source held (e.g. MonoCloud's user ids), kept as a diff
-- with the events that follow from it: an id that disappears from a complete listing is a
-- deletion.
CREATE TABLE source_items (
    source   text NOT NULL,
    scope    text NOT NULL,
    item_id  text NOT NULL,
    PRIMARY KEY (source, scope, item_id)
);
