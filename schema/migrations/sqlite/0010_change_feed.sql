-- custdb schema version 10: the change feed (docs/CHANGES.md). Every unit
-- of work that changes data appends its events here, in the same
-- transaction as the change (an outbox); named consumers read them in
-- position order and acknowledge what they have handled. (IF NOT EXISTS,
-- OR IGNORE: the statements may run again on a file a test rewound to an
-- older version.)

-- One row per event. position is the rowid: on SQLite the single writer
-- commits positions in order. Pruning always keeps the newest event, so a
-- position is never handed out twice. No personal data: the entity's id,
-- the kind, and business facts (field names, statuses, amounts,
-- quantities, other ids) as a JSON object, which custdb serialises itself
-- (the CHECK bounds its length; check() parses every one: a JSON parse
-- per insert here would cost each event a few microseconds).
CREATE TABLE IF NOT EXISTS change_events (
    position   INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor_id   TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    kind       TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    entity_id  TEXT NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 64),
    facts      TEXT NOT NULL CHECK (length(facts) BETWEEN 2 AND 4096)
) STRICT;

-- The consumers and the position each has acknowledged (every event at or
-- before it is handled).
CREATE TABLE IF NOT EXISTS change_consumers (
    name             TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    position         INTEGER NOT NULL CHECK (position >= 0),
    created_at       TEXT NOT NULL,
    acknowledged_at  TEXT
) STRICT, WITHOUT ROWID;

-- The feed's one row: pruned_through is the last position the feed no
-- longer holds (0: nothing pruned; the feed begins with the first change
-- after this migration); the retention ages, in seconds.
CREATE TABLE IF NOT EXISTS change_feed (
    id                         INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through             INTEGER NOT NULL CHECK (pruned_through >= 0),
    retention_s                INTEGER NOT NULL CHECK (retention_s BETWEEN 0 AND 3153600000),
    unacknowledged_retention_s INTEGER
        CHECK (unacknowledged_retention_s IS NULL
               OR unacknowledged_retention_s BETWEEN retention_s AND 3153600000)
) STRICT;
INSERT OR IGNORE INTO change_feed (id, pruned_through, retention_s)
VALUES (1, 0, 604800);

-- On PostgreSQL, the last position whose every predecessor has committed,
-- which only the audit chain step writes; unused on SQLite, where the
-- single writer commits positions in order (the table exists on both so
-- that a file copies into a server whole).
CREATE TABLE IF NOT EXISTS change_feed_watermark (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    visible_through  INTEGER NOT NULL CHECK (visible_through >= 0)
) STRICT;
INSERT OR IGNORE INTO change_feed_watermark (id, visible_through) VALUES (1, 0);
