-- Dead-letter replay and a user's event history (docs/design.md §4a).

-- A dead letter remembers where it came from (a pull source and scope; NULL for webhooks and
-- operator actions), so that its stored body can be decoded again exactly as it was first
-- (a Huudis audit entry may leave its workspace implied by the log it was read from), and what
-- its replays did. A letter is never deleted: a replay that applies it sets replay_outcome and
-- the event's own outcome in provider_events.
ALTER TABLE dead_letters
    ADD COLUMN source          text,
    ADD COLUMN scope           text,
    ADD COLUMN replay_attempts integer NOT NULL DEFAULT 0 CHECK (replay_attempts >= 0),
    ADD COLUMN replay_outcome  text CHECK (replay_outcome IN ('applied', 'stale', 'ignored', 'dead_lettered')),
    -- Why the last replay dead-lettered the event again (NULL unless replay_outcome is that).
    ADD COLUMN replay_reason   text;
CREATE INDEX dead_letters_by_created ON dead_letters (created_at, provider, event_id);

-- The users each stored event named (a member list names each listed member), keyed by the
-- event's stored fact time: AdminService.ListUserEvents walks a user's events oldest first
-- from this index alone. Written in the same statement as the provider_events row (no foreign
-- key: it would cost a lookup per row on the write path for a guarantee that statement gives).
-- Events stored before this migration are not listed here: their bodies were never decoded
-- into it (README, "History").
CREATE TABLE event_users (
    user_id    text        NOT NULL,
    fact_time  timestamptz NOT NULL,
    provider   text        NOT NULL,
    event_id   text        NOT NULL,
    PRIMARY KEY (user_id, fact_time, provider, event_id)
);
