-- custdb schema version 1: the migration log, the audit trail and customers.
--
-- Conventions (docs/SCHEMA.md explains every table):
--  * every table is STRICT; ids are UUIDv7 text (36 characters);
--  * timestamps are UTC RFC 3339 text with microseconds (fixed width, so text
--    order is time order), dates are YYYY-MM-DD;
--  * length limits are enforced in Rust with a clear error; the CHECKs below
--    are the backstop that keeps a file consistent whatever writes it.

CREATE TABLE custdb_migrations (
    version     INTEGER PRIMARY KEY CHECK (version >= 1),
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL CHECK (length(checksum) = 64),
    applied_at  TEXT NOT NULL
) STRICT;

-- Every mutation appends one row here, in the same transaction.
-- changed_fields is a JSON array of field names; values are not copied here,
-- so the trail holds no more personal data than the ids it names.
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor_id        TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    actor_name      TEXT NOT NULL CHECK (length(actor_name) BETWEEN 1 AND 200),
    action          TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    entity_type     TEXT NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 64),
    entity_id       TEXT NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 64),
    changed_fields  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(changed_fields) AND json_type(changed_fields) = 'array')
) STRICT;
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- The trail is append-only: corrections are new rows.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- pk is the rowid that the full-text index refers to: an explicit INTEGER
-- PRIMARY KEY keeps rowids stable across VACUUM. The public id is `id`.
CREATE TABLE customers (
    pk                  INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE CHECK (length(id) = 36),
    display_name        TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    given_name          TEXT CHECK (length(given_name) BETWEEN 1 AND 100),
    family_name         TEXT CHECK (length(family_name) BETWEEN 1 AND 100),
    email               TEXT CHECK (length(email) BETWEEN 3 AND 254 AND email = lower(email)),
    phone               TEXT CHECK (length(phone) BETWEEN 1 AND 32),
    company             TEXT CHECK (length(company) BETWEEN 1 AND 200),
    locale              TEXT CHECK (length(locale) BETWEEN 2 AND 35),
    birth_date          TEXT CHECK (birth_date IS NULL OR date(birth_date) = birth_date),
    acquisition_source  TEXT CHECK (length(acquisition_source) BETWEEN 1 AND 100),
    attributes          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes) AND json_type(attributes) = 'object' AND length(attributes) <= 16384),
    notes               TEXT CHECK (length(notes) <= 10000),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL CHECK (updated_at >= created_at),
    version             INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at         TEXT CHECK (archived_at IS NULL OR archived_at >= created_at)
) STRICT;
-- An email is unique among customers that are not archived.
CREATE UNIQUE INDEX customers_email_active ON customers (email)
    WHERE email IS NOT NULL AND archived_at IS NULL;
CREATE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;
CREATE INDEX customers_created ON customers (created_at, id);

CREATE TABLE customer_tags (
    customer_id  TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag          TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 64 AND tag = lower(tag)),
    PRIMARY KEY (customer_id, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_tags_tag ON customer_tags (tag, customer_id);

CREATE TABLE customer_addresses (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    customer_id  TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('billing', 'shipping', 'other')),
    is_default   INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    label        TEXT CHECK (length(label) BETWEEN 1 AND 100),
    recipient    TEXT CHECK (length(recipient) BETWEEN 1 AND 200),
    company      TEXT CHECK (length(company) BETWEEN 1 AND 200),
    line1        TEXT NOT NULL CHECK (length(line1) BETWEEN 1 AND 200),
    line2        TEXT CHECK (length(line2) BETWEEN 1 AND 200),
    city         TEXT NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
    region       TEXT CHECK (length(region) BETWEEN 1 AND 100),
    postal_code  TEXT CHECK (length(postal_code) BETWEEN 1 AND 20),
    country      TEXT NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    phone        TEXT CHECK (length(phone) BETWEEN 1 AND 32),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at)
) STRICT;
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, kind);
CREATE INDEX customer_addresses_country ON customer_addresses (country, customer_id);
-- At most one default address per customer and kind.
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (customer_id, kind)
    WHERE is_default = 1;

-- The interaction timeline is append-only.
CREATE TABLE customer_interactions (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'phone', 'chat', 'meeting', 'in_store', 'web', 'social', 'mail', 'other')),
    direction    TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    kind         TEXT NOT NULL CHECK (kind IN ('note', 'complaint', 'review', 'support', 'sale', 'inquiry', 'feedback', 'marketing', 'other')),
    subject      TEXT CHECK (length(subject) BETWEEN 1 AND 200),
    body         TEXT CHECK (length(body) <= 20000),
    rating       INTEGER CHECK (rating IS NULL OR (kind = 'review' AND rating BETWEEN 1 AND 5)),
    occurred_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 128)
) STRICT;
CREATE INDEX customer_interactions_timeline ON customer_interactions (customer_id, occurred_at DESC, id DESC);
CREATE TRIGGER customer_interactions_no_update BEFORE UPDATE ON customer_interactions
BEGIN SELECT RAISE(ABORT, 'customer_interactions is append-only'); END;
CREATE TRIGGER customer_interactions_no_delete BEFORE DELETE ON customer_interactions
BEGIN SELECT RAISE(ABORT, 'customer_interactions is append-only'); END;

-- Full-text index over names, email, company and notes. It is an external
-- content table: the text lives once, in customers, and the triggers below
-- keep the index in step within the same transaction.
CREATE VIRTUAL TABLE customers_fts USING fts5 (
    display_name, given_name, family_name, email, company, notes,
    content = 'customers', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts (rowid, display_name, given_name, family_name, email, company, notes)
    VALUES (new.pk, new.display_name, new.given_name, new.family_name, new.email, new.company, new.notes);
END;
CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, display_name, given_name, family_name, email, company, notes)
    VALUES ('delete', old.pk, old.display_name, old.given_name, old.family_name, old.email, old.company, old.notes);
END;
CREATE TRIGGER customers_fts_update AFTER UPDATE OF display_name, given_name, family_name, email, company, notes ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, display_name, given_name, family_name, email, company, notes)
    VALUES ('delete', old.pk, old.display_name, old.given_name, old.family_name, old.email, old.company, old.notes);
    INSERT INTO customers_fts (rowid, display_name, given_name, family_name, email, company, notes)
    VALUES (new.pk, new.display_name, new.given_name, new.family_name, new.email, new.company, new.notes);
END;
