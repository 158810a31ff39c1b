-- custdb schema version 5: imports, credit notes, merges and saved
-- segments. docs/IMPORT.md explains the import; docs/SCHEMA.md every column.

-- Which custdb record an outside key became, per import source, so that
-- importing the same file again finds what it made the first time.
CREATE TABLE import_keys (
    source       TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    entity       TEXT NOT NULL CHECK (entity IN ('customer', 'product', 'order', 'credit_note', 'return')),
    key          TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    entity_id    TEXT NOT NULL CHECK (length(entity_id) = 36),
    imported_at  TEXT NOT NULL,
    PRIMARY KEY (source, entity, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX import_keys_entity ON import_keys (entity_id);

-- Where an order went when only the country is known (imports without an
-- address); orders with a shipping address carry its country here too.
ALTER TABLE orders ADD COLUMN country TEXT CHECK (country IS NULL OR (length(country) = 2 AND country = upper(country)));
CREATE INDEX orders_country ON orders (country, placed_at) WHERE country IS NOT NULL;

-- Money given back without an order to return it against (a cancellation
-- whose original sale is not in the database, a goodwill credit).
CREATE TABLE credit_notes (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    customer_id  TEXT REFERENCES customers (id),
    currency     TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    amount_e4    INTEGER NOT NULL CHECK (amount_e4 > 0),
    reason       TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    lines        TEXT NOT NULL CHECK (json_valid(lines) AND json_type(lines) = 'array'),
    country      TEXT CHECK (country IS NULL OR (length(country) = 2 AND country = upper(country))),
    issued_at    TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX credit_notes_customer ON credit_notes (customer_id, issued_at) WHERE customer_id IS NOT NULL;
CREATE INDEX credit_notes_issued ON credit_notes (issued_at);

-- A merged customer points at the one it was merged into; merges are
-- recorded with what moved and which field values won.
ALTER TABLE customers ADD COLUMN merged_into TEXT REFERENCES customers (id);
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;
CREATE TABLE customer_merges (
    seq           INTEGER PRIMARY KEY,
    survivor_id   TEXT NOT NULL REFERENCES customers (id),
    merged_id     TEXT NOT NULL UNIQUE REFERENCES customers (id),
    merged_at     TEXT NOT NULL,
    actor_id      TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    moved         TEXT NOT NULL CHECK (json_valid(moved) AND json_type(moved) = 'object'),
    fields        TEXT NOT NULL CHECK (json_valid(fields) AND json_type(fields) = 'array'),
    CHECK (survivor_id <> merged_id)
) STRICT;
CREATE INDEX customer_merges_survivor ON customer_merges (survivor_id);
CREATE TRIGGER customer_merges_no_update BEFORE UPDATE ON customer_merges
BEGIN SELECT RAISE(ABORT, 'customer_merges is append-only'); END;
CREATE TRIGGER customer_merges_no_delete BEFORE DELETE ON customer_merges
BEGIN SELECT RAISE(ABORT, 'customer_merges is append-only'); END;

-- While two customers are being merged, and only then, this table holds
-- its one row: the append-only timelines (interactions, consent events)
-- may then be re-pointed to the surviving customer, and nothing else.
CREATE TABLE customer_merge_in_progress (
    one  INTEGER PRIMARY KEY CHECK (one = 1)
) STRICT;
DROP TRIGGER customer_interactions_no_update;
CREATE TRIGGER customer_interactions_no_update BEFORE UPDATE ON customer_interactions
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
  AND NOT (EXISTS (SELECT 1 FROM customer_merge_in_progress)
           AND new.id = old.id AND new.channel = old.channel AND new.direction = old.direction
           AND new.kind = old.kind AND new.subject IS old.subject AND new.body IS old.body
           AND new.rating IS old.rating AND new.occurred_at = old.occurred_at
           AND new.recorded_at = old.recorded_at AND new.recorded_by = old.recorded_by)
BEGIN SELECT RAISE(ABORT, 'customer_interactions is append-only'); END;
DROP TRIGGER consent_events_no_update;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
WHEN NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
  AND NOT (EXISTS (SELECT 1 FROM customer_merge_in_progress)
           AND new.seq = old.seq AND new.id = old.id AND new.purpose_id = old.purpose_id
           AND new.state = old.state AND new.notice_version IS old.notice_version
           AND new.notice_hash IS old.notice_hash AND new.collection_method = old.collection_method
           AND new.channel = old.channel AND new.jurisdiction = old.jurisdiction
           AND new.language = old.language AND new.evidence_reference IS old.evidence_reference
           AND new.occurred_at = old.occurred_at AND new.valid_until IS old.valid_until
           AND new.recorded_at = old.recorded_at AND new.recorded_by = old.recorded_by)
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;

-- Named segment definitions (JSON of the filter).
CREATE TABLE saved_segments (
    name        TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    definition  TEXT NOT NULL CHECK (json_valid(definition) AND json_type(definition) = 'object'),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL CHECK (updated_at >= created_at)
) STRICT;
