-- custdb schema version 4: a hash-chained audit trail, and roles for the
-- policy-enforcing handle. docs/SECURITY.md explains both.

-- Each entry's hash covers its own content and the previous entry's hash
-- (docs/SECURITY.md gives the exact encoding). Entries written before this
-- version are chained by custdb in this migration's transaction, the only
-- time an entry is ever updated: the trigger below lets a row without a
-- hash receive one, and nothing else.
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT CHECK (prev_hash IS NULL OR length(prev_hash) = 64);
ALTER TABLE audit_log ADD COLUMN hash TEXT CHECK (hash IS NULL OR length(hash) = 64);
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN old.hash IS NOT NULL
    OR new.seq IS NOT old.seq OR new.at IS NOT old.at OR new.actor_id IS NOT old.actor_id
    OR new.actor_name IS NOT old.actor_name OR new.action IS NOT old.action
    OR new.entity_type IS NOT old.entity_type OR new.entity_id IS NOT old.entity_id
    OR new.changed_fields IS NOT old.changed_fields
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_hashed BEFORE INSERT ON audit_log
WHEN new.hash IS NULL OR new.prev_hash IS NULL
BEGIN SELECT RAISE(ABORT, 'audit_log entries are hash-chained'); END;
CREATE UNIQUE INDEX audit_log_hash ON audit_log (hash) WHERE hash IS NOT NULL;

-- Roles the application defines beside the built-in ones (admin, sales,
-- support, warehouse, marketing, auditor, which live in the code).
CREATE TABLE access_roles (
    name           TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    permissions    TEXT NOT NULL CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    consent_scope  TEXT CHECK (length(consent_scope) BETWEEN 1 AND 64),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL CHECK (updated_at >= created_at)
) STRICT;

-- Which roles each actor holds.
CREATE TABLE access_grants (
    actor_id    TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    role        TEXT NOT NULL CHECK (length(role) BETWEEN 1 AND 64),
    granted_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL CHECK (length(granted_by) BETWEEN 1 AND 128),
    PRIMARY KEY (actor_id, role)
) STRICT, WITHOUT ROWID;
CREATE INDEX access_grants_role ON access_grants (role, actor_id);
