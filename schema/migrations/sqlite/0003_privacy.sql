-- custdb schema version 3: the consent ledger, retention rules and the
-- record of erasures. docs/PRIVACY.md explains the model; docs/SCHEMA.md
-- every column.

-- While a subject is being erased, and only then, this table holds its one
-- row: the append-only triggers below let erasure anonymize rows that are
-- otherwise immutable. custdb inserts and deletes the row inside the
-- erasure's own transaction, so no other connection ever sees it.
CREATE TABLE privacy_erasure_in_progress (
    one  INTEGER PRIMARY KEY CHECK (one = 1)
) STRICT;

-- Purposes of processing, registered by the application.
CREATE TABLE consent_purposes (
    id                TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    description       TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
    lawful_basis      TEXT NOT NULL CHECK (lawful_basis IN ('consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests')),
    consent_required  INTEGER NOT NULL CHECK (consent_required IN (0, 1)),
    data_categories   TEXT NOT NULL CHECK (json_valid(data_categories) AND json_type(data_categories) = 'array'),
    created_at        TEXT NOT NULL,
    CHECK (lawful_basis <> 'consent' OR consent_required = 1)
) STRICT;

-- The exact texts shown to people when their consent was asked, by hash.
CREATE TABLE consent_notices (
    hash        TEXT PRIMARY KEY NOT NULL CHECK (length(hash) = 64),
    version     TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    text        TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 100000),
    created_at  TEXT NOT NULL
) STRICT;

-- The consent ledger (after ISO/IEC TS 27560): one row per event, never
-- changed; the current state is the latest event by event time.
CREATE TABLE consent_events (
    seq                 INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE CHECK (length(id) = 36),
    customer_id         TEXT NOT NULL REFERENCES customers (id),
    purpose_id          TEXT NOT NULL REFERENCES consent_purposes (id),
    state               TEXT NOT NULL CHECK (state IN ('requested', 'given', 'refused', 'withdrawn', 'expired', 'invalidated')),
    notice_version      TEXT CHECK (length(notice_version) BETWEEN 1 AND 64),
    notice_hash         TEXT CHECK (length(notice_hash) = 64),
    collection_method   TEXT NOT NULL CHECK (collection_method IN ('web_form', 'mobile_app', 'paper', 'api', 'verbal', 'email', 'phone', 'in_store', 'import', 'erasure', 'system')),
    channel             TEXT NOT NULL CHECK (length(channel) BETWEEN 1 AND 64),
    jurisdiction        TEXT NOT NULL CHECK (length(jurisdiction) BETWEEN 2 AND 16),
    language            TEXT NOT NULL CHECK (length(language) BETWEEN 2 AND 35),
    evidence_reference  TEXT CHECK (length(evidence_reference) BETWEEN 1 AND 200),
    occurred_at         TEXT NOT NULL,
    valid_until         TEXT CHECK (valid_until IS NULL OR valid_until > occurred_at),
    recorded_at         TEXT NOT NULL,
    recorded_by         TEXT NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 128),
    CHECK ((notice_version IS NULL) = (notice_hash IS NULL))
) STRICT;
CREATE INDEX consent_events_subject ON consent_events (customer_id, purpose_id, occurred_at, seq);
CREATE INDEX consent_events_purpose ON consent_events (purpose_id, customer_id, occurred_at, seq);
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;

-- The other append-only tables that hold personal data give way to erasure
-- in the same way.
DROP TRIGGER customer_interactions_no_update;
DROP TRIGGER customer_interactions_no_delete;
CREATE TRIGGER customer_interactions_no_update BEFORE UPDATE ON customer_interactions
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
BEGIN SELECT RAISE(ABORT, 'customer_interactions is append-only'); END;
CREATE TRIGGER customer_interactions_no_delete BEFORE DELETE ON customer_interactions
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
BEGIN SELECT RAISE(ABORT, 'customer_interactions is append-only'); END;
DROP TRIGGER order_events_no_update;
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;

-- An erased customer keeps its row (orders and payments point at it) with
-- every personal field emptied; erased_at says when.
ALTER TABLE customers ADD COLUMN erased_at TEXT CHECK (erased_at IS NULL OR erased_at >= created_at);

-- One row per erasure: no personal data, only the pseudonymous id, when,
-- by whom, on what ground, and how many rows were touched.
CREATE TABLE privacy_erasures (
    seq          INTEGER PRIMARY KEY,
    customer_id  TEXT NOT NULL UNIQUE REFERENCES customers (id),
    erased_at    TEXT NOT NULL,
    actor_id     TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    ground       TEXT NOT NULL CHECK (ground IN ('subject_request', 'retention')),
    rows         TEXT NOT NULL CHECK (json_valid(rows) AND json_type(rows) = 'object')
) STRICT;
CREATE TRIGGER privacy_erasures_no_update BEFORE UPDATE ON privacy_erasures
BEGIN SELECT RAISE(ABORT, 'privacy_erasures is append-only'); END;
CREATE TRIGGER privacy_erasures_no_delete BEFORE DELETE ON privacy_erasures
BEGIN SELECT RAISE(ABORT, 'privacy_erasures is append-only'); END;

-- Retention periods per category, set by the application.
CREATE TABLE retention_rules (
    category     TEXT PRIMARY KEY NOT NULL CHECK (category IN ('inactive_customers', 'interactions', 'order_contact_data')),
    period_days  INTEGER NOT NULL CHECK (period_days BETWEEN 1 AND 36600),
    updated_at   TEXT NOT NULL
) STRICT, WITHOUT ROWID;
