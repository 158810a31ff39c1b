-- custdb PostgreSQL baseline: schema version 7.
--
-- What this is: the whole custdb schema for PostgreSQL (15 or later), in one
-- file. It equals the SQLite schema after schema/migrations/sqlite/0001 ... 0007
-- (versions 6 and 7 are data repairs only; on an empty database they have
-- nothing to repair, so nothing of them appears here). Table, column, index
-- and trigger names are the SQLite ones, so most statements are the same
-- text on both engines. The custdb_migrations bookkeeping table is not
-- created here: custdb creates it in code (version, name, checksum,
-- applied_at) and records this file as version 7.
--
-- The database must use the UTF8 encoding (the search folding below uses
-- normalize()). Any locale works: every text column is COLLATE "C", which is
-- SQLite's BINARY collation (code point order; lower()/upper() fold ASCII
-- only, as SQLite's built-in lower()/upper() do), so ORDER BY, ranges, the
-- lower-case/upper-case CHECKs and keyset pagination behave as in SQLite
-- whatever the database's default collation.
--
-- Type mapping from the STRICT SQLite tables:
--  * ids (UUIDv7 as 36-character text) -> uuid. The length(id) = 36 CHECKs
--    are dropped: the type is stricter (it also refuses non-hex text).
--  * timestamps (fixed-width RFC 3339 text, microseconds, UTC) -> timestamptz
--    (microsecond precision, so values round-trip exactly); comparisons such
--    as updated_at >= created_at keep their meaning (text order was time
--    order). EXCEPTION: audit_log.at stays text, because the audit hash
--    covers its exact stored bytes (src/audit.rs entry_hash).
--  * pure dates (customers.birth_date, YYYY-MM-DD) -> date. The
--    date(x) = x CHECK becomes the type plus a year 1..9999 range CHECK (the
--    four-digit form SQLite's CHECK implied).
--  * INTEGER -> bigint everywhere (money *_e4 in units of 1e-4, quantities,
--    counters, and the 0/1 flags, which keep their CHECK (x IN (0, 1)) so
--    Rust reads an i64 on both engines). SQLite INTEGER PRIMARY KEY rowid
--    sequences -> bigint identity: GENERATED ALWAYS where custdb never
--    supplies the value, BY DEFAULT where it does (audit_log.seq).
--  * free JSON documents that custdb parses and never hashes or compares as
--    text -> jsonb (attribute and option maps, address snapshots, event
--    details, record-keeping maps and lists). json_valid()/json_type()
--    CHECKs become the type plus jsonb_typeof(). Length limits on jsonb are
--    measured on the compact serialization custdb writes
--    (custdb_json_compact_length), not on jsonb's spaced text output.
--  * text that is hashed or compared byte for byte stays text: the audit
--    trail (at, changed_fields, prev_hash, hash), consent notice texts and
--    their hashes, order request hashes. jsonb would rewrite it (key order,
--    spacing, duplicate keys) and break hash verification.
--    audit_log.changed_fields keeps its JSON-array CHECK through
--    custdb_json_typeof(text).
--  * typeof() checks: SQLite STRICT tables needed none; native types make
--    any such check unnecessary.
--  * other TEXT -> text COLLATE "C", with the same CHECKs (length() counts
--    characters on both engines).
--
-- Triggers: SQLite RAISE(ABORT, msg) -> RAISE EXCEPTION with the same
-- message text and SQLSTATE 23CD1 (append-only) or 23CD2 (hash chain): class
-- 23 is PostgreSQL's integrity-constraint class, the counterpart of
-- SQLITE_CONSTRAINT_TRIGGER. Trigger WHEN clauses with subqueries (not
-- allowed in PostgreSQL's WHEN) move into the function bodies; IS / IS NOT
-- become IS NOT DISTINCT FROM / IS DISTINCT FROM. PostgreSQL has TRUNCATE,
-- which skips DELETE triggers; every append-only table refuses it too.
--
-- Full-text search: see customers.search_vector below (replaces the FTS5
-- table customers_fts and its three triggers).
--
-- SQLite behaviour that has no exact counterpart, and what stands in:
--  * stock_reservations had an implicit rowid that custdb orders by
--    (insertion order); it is an explicit identity column named rowid here,
--    so "ORDER BY rowid" is the same text. last_insert_rowid() after an
--    insert into stock_movements becomes INSERT ... RETURNING seq.
--  * the FTS5 commands 'integrity-check' and 'optimize' have no counterpart
--    and need none: the GIN index is maintained transactionally, and
--    VACUUM removes the terms of erased values.
--  * search tokens approximate unicode61: ASCII, Latin-1, general and CJK
--    punctuation separate words; diacritics are stripped after NFD (also
--    from non-Latin letters, which unicode61 leaves alone); non-Latin case
--    folding follows the database locale (none under LC_CTYPE C). Ranks are
--    ts_rank_cd scores, not bm25 scores: result order agrees on the checked
--    cases, cursor values do not carry across engines.
--  * jsonb keeps the value, not the text: key order, spacing, duplicate keys
--    and number spelling of attributes, options and the other jsonb columns
--    read back normalized.
--  * AFTER ROW triggers (the stock ledger) run at the end of the inserting
--    statement rather than row by row inside it; the balances after the
--    statement, and the refusals, are the same.

-- Helpers -------------------------------------------------------------------

-- The JSON type of a text value ('object', 'array', 'string', 'number',
-- 'boolean', 'null'), or 'invalid' when it is not JSON: SQLite's
-- json_valid(x) AND json_type(x) = ... for columns that must stay text.
-- The json type (not jsonb) checks the text without rewriting it.
CREATE FUNCTION custdb_json_typeof(doc text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN json_typeof(doc::json);
EXCEPTION WHEN data_exception THEN
    RETURN 'invalid';
END
$$;

-- The length in characters of the compact JSON text of a jsonb value (no
-- spaces, as serde_json writes it), which is what SQLite's length() measured
-- on the stored text; jsonb::text would add a space after every ':' and ','.
-- Summed over every node of the document: a container's brackets and commas,
-- a member's quoted key and colon, a scalar's text. A SQL-standard body (no
-- name lookup at run time), so CHECKs using it also work under the empty
-- search_path of pg_restore.
CREATE FUNCTION custdb_json_compact_length(doc jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    WITH RECURSIVE node (value, key) AS (
        SELECT doc, NULL::text
        UNION ALL
        SELECT child.value, child.key
        FROM node,
             LATERAL (SELECT e.key, e.value
                      FROM jsonb_each(CASE WHEN jsonb_typeof(node.value) = 'object' THEN node.value END) AS e
                      UNION ALL
                      SELECT NULL, a.value
                      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(node.value) = 'array' THEN node.value END) AS a) AS child
    )
    SELECT sum(coalesce(length(to_jsonb(key)::text) + 1, 0)
               + CASE jsonb_typeof(value)
                     WHEN 'object' THEN 2 + greatest((SELECT count(*) FROM jsonb_object_keys(value)) - 1, 0)
                     WHEN 'array' THEN 2 + greatest(jsonb_array_length(value) - 1, 0)
                     ELSE length(value::text)
                 END)::bigint
    FROM node
);

-- The text the search index sees, folded like FTS5's tokenizer
-- 'unicode61 remove_diacritics 2': decomposed (NFD) and stripped of
-- combining diacritical marks (é -> e), with punctuation and symbols turned
-- into spaces so that every run of letters and digits is one word (an email
-- lee.smith@example.com gives lee, smith, example, com, as in FTS5; the
-- PostgreSQL parser alone would keep it as one token). Case is folded by the
-- 'simple' configuration (lower(), in the database's locale).
CREATE FUNCTION custdb_search_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(
    regexp_replace(normalize(coalesce(value, ''), NFD), '[\u0300-\u036f]', '', 'g'),
    '[\u0001-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u00a9\u00ab-\u00b1\u00b4\u00b6-\u00b8\u00bb\u00bf\u00d7\u00f7\u2000-\u206f\u20a0-\u20cf\u3000-\u3003]',
    ' ', 'g');

-- The query: every word of the user's text (split as above) becomes a
-- prefix term, all of them required, as custdb's fts_query() builds for
-- FTS5 ("lee"* "smi"*  ->  'lee':* & 'smi':*). Operators in the input have
-- no effect: punctuation is gone and every term is quoted.
CREATE FUNCTION custdb_search_query(query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT to_tsquery('simple', coalesce(string_agg(quote_literal(t) || ':*', ' & '), ''))
        FROM regexp_split_to_table(custdb_search_text(query), '\s+') AS t
        WHERE t <> '');

-- The rank of a match, lower is better, like FTS5's
-- bm25(customers_fts, 10.0, 5.0, 5.0, 5.0, 3.0, 1.0): ts_rank_cd (cover
-- density) with the column weights mapped onto the four tsvector weights,
-- A = display_name 1.0, B = given_name, family_name, email 0.5,
-- C = company 0.3, D = notes 0.1 (the same 10 : 5 : 3 : 1 ratios), divided
-- by 1 + log(document length) as bm25 favours short documents, and negated
-- so that "ORDER BY rank, pk" and the cursor test "rank > ?3" keep their
-- SQLite meaning. float8, as bm25 returns a double. The scores differ from
-- bm25's (no inverse document frequency), so cursors are per engine.
CREATE FUNCTION custdb_search_rank(doc tsvector, query tsquery) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN -ts_rank_cd('{0.1, 0.3, 0.5, 1.0}', doc, query, 1)::float8;

-- TRUNCATE (no SQLite counterpart; it skips DELETE triggers) is refused on
-- every append-only table, erasure or not: erasure deletes rows one customer
-- at a time.
CREATE FUNCTION custdb_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', tg_table_name USING ERRCODE = '23CD1';
END
$$;

-- Version 1: audit trail, customers --------------------------------------

-- Every mutation appends one row here, in the same transaction.
-- changed_fields is a JSON array of field names, kept as text: the hash
-- covers it byte for byte, as it covers at (hence text, not timestamptz).
-- seq is BY DEFAULT: custdb always supplies it (the hash covers it).
CREATE TABLE audit_log (
    seq             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at              text COLLATE "C" NOT NULL,
    actor_id        text COLLATE "C" NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    actor_name      text COLLATE "C" NOT NULL CHECK (length(actor_name) BETWEEN 1 AND 200),
    action          text COLLATE "C" NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    entity_type     text COLLATE "C" NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 64),
    entity_id       text COLLATE "C" NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 64),
    changed_fields  text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (custdb_json_typeof(changed_fields) = 'array'),
    prev_hash       text COLLATE "C" CHECK (prev_hash IS NULL OR length(prev_hash) = 64),
    hash            text COLLATE "C" CHECK (hash IS NULL OR length(hash) = 64)
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE UNIQUE INDEX audit_log_hash ON audit_log (hash) WHERE hash IS NOT NULL;

-- Append-only, except that a row without a hash (written before schema
-- version 4 on SQLite) may receive its hashes, and nothing else.
CREATE FUNCTION audit_log_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF old.hash IS NOT NULL
        OR new.seq IS DISTINCT FROM old.seq OR new.at IS DISTINCT FROM old.at
        OR new.actor_id IS DISTINCT FROM old.actor_id
        OR new.actor_name IS DISTINCT FROM old.actor_name
        OR new.action IS DISTINCT FROM old.action
        OR new.entity_type IS DISTINCT FROM old.entity_type
        OR new.entity_id IS DISTINCT FROM old.entity_id
        OR new.changed_fields IS DISTINCT FROM old.changed_fields THEN
        RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = '23CD1';
    END IF;
    RETURN new;
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_no_update();

CREATE FUNCTION audit_log_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = '23CD1';
END
$$;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_no_delete();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

CREATE FUNCTION audit_log_hashed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF new.hash IS NULL OR new.prev_hash IS NULL THEN
        RAISE EXCEPTION 'audit_log entries are hash-chained' USING ERRCODE = '23CD2';
    END IF;
    RETURN new;
END
$$;
CREATE TRIGGER audit_log_hashed BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_hashed();

-- The markers of an erasure (version 3) and of a merge (version 5) in
-- progress: each holds its one row only inside that operation's own
-- transaction. Under MVCC no other transaction sees it, and a concurrent
-- erasure (or merge) waits on the primary key until the first commits,
-- which serializes them as SQLite's single writer does.
CREATE TABLE privacy_erasure_in_progress (
    one  bigint PRIMARY KEY DEFAULT 1 CHECK (one = 1)
);
CREATE TABLE customer_merge_in_progress (
    one  bigint PRIMARY KEY DEFAULT 1 CHECK (one = 1)
);

-- pk is the internal row number the search ranking's cursor uses (it was
-- the FTS5 rowid); custdb never supplies it. The public id is `id`.
-- erased_at (version 3) and merged_into (version 5) come last, as
-- ALTER TABLE ADD COLUMN put them on SQLite.
--
-- Full-text search: SQLite's external-content FTS5 table customers_fts
-- (display_name, given_name, family_name, email, company, notes) and its
-- three maintenance triggers become the generated column search_vector,
-- recomputed by PostgreSQL on every insert and update in the same statement
-- (so an erasure that empties the fields empties the vector too), indexed by
-- GIN. The 'simple' configuration: no stemming, no stop words, as
-- unicode61. Weights A-D carry the bm25 column weights (see
-- custdb_search_rank). GIN answers prefix queries ('lee':*) itself, which
-- FTS5's prefix = '2 3' indexes were for. Query, as SEARCH / SEARCH_PAGE:
--   SELECT ..., custdb_search_rank(c.search_vector, custdb_search_query($1)) rank, c.pk
--   FROM customers c
--   WHERE c.search_vector @@ custdb_search_query($1) AND c.archived_at IS NULL
--   ORDER BY rank, pk LIMIT $2
-- where $1 is the user's text (custdb_search_query splits and quotes it).
CREATE TABLE customers (
    pk                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  uuid NOT NULL UNIQUE,
    display_name        text COLLATE "C" NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    given_name          text COLLATE "C" CHECK (length(given_name) BETWEEN 1 AND 100),
    family_name         text COLLATE "C" CHECK (length(family_name) BETWEEN 1 AND 100),
    email               text COLLATE "C" CHECK (length(email) BETWEEN 3 AND 254 AND email = lower(email)),
    phone               text COLLATE "C" CHECK (length(phone) BETWEEN 1 AND 32),
    company             text COLLATE "C" CHECK (length(company) BETWEEN 1 AND 200),
    locale              text COLLATE "C" CHECK (length(locale) BETWEEN 2 AND 35),
    birth_date          date CHECK (birth_date BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'),
    acquisition_source  text COLLATE "C" CHECK (length(acquisition_source) BETWEEN 1 AND 100),
    attributes          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object' AND custdb_json_compact_length(attributes) <= 16384),
    notes               text COLLATE "C" CHECK (length(notes) <= 10000),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL CHECK (updated_at >= created_at),
    version             bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at         timestamptz CHECK (archived_at IS NULL OR archived_at >= created_at),
    erased_at           timestamptz CHECK (erased_at IS NULL OR erased_at >= created_at),
    merged_into         uuid REFERENCES customers (id),
    search_vector       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', custdb_search_text(display_name)), 'A') ||
        setweight(to_tsvector('simple', custdb_search_text(given_name)), 'B') ||
        setweight(to_tsvector('simple', custdb_search_text(family_name)), 'B') ||
        setweight(to_tsvector('simple', custdb_search_text(email)), 'B') ||
        setweight(to_tsvector('simple', custdb_search_text(company)), 'C') ||
        setweight(to_tsvector('simple', custdb_search_text(notes)), 'D')
    ) STORED
);
-- An email is unique among customers that are not archived.
CREATE UNIQUE INDEX customers_email_active ON customers (email)
    WHERE email IS NOT NULL AND archived_at IS NULL;
CREATE INDEX customers_email ON customers (email) WHERE email IS NOT NULL;
CREATE INDEX customers_created ON customers (created_at, id);
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX customers_search ON customers USING gin (search_vector);

CREATE TABLE customer_tags (
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag          text COLLATE "C" NOT NULL CHECK (length(tag) BETWEEN 1 AND 64 AND tag = lower(tag)),
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag, customer_id);

CREATE TABLE customer_addresses (
    id           uuid PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('billing', 'shipping', 'other')),
    is_default   bigint NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    label        text COLLATE "C" CHECK (length(label) BETWEEN 1 AND 100),
    recipient    text COLLATE "C" CHECK (length(recipient) BETWEEN 1 AND 200),
    company      text COLLATE "C" CHECK (length(company) BETWEEN 1 AND 200),
    line1        text COLLATE "C" NOT NULL CHECK (length(line1) BETWEEN 1 AND 200),
    line2        text COLLATE "C" CHECK (length(line2) BETWEEN 1 AND 200),
    city         text COLLATE "C" NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
    region       text COLLATE "C" CHECK (length(region) BETWEEN 1 AND 100),
    postal_code  text COLLATE "C" CHECK (length(postal_code) BETWEEN 1 AND 20),
    country      text COLLATE "C" NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    phone        text COLLATE "C" CHECK (length(phone) BETWEEN 1 AND 32),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL CHECK (updated_at >= created_at)
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, kind);
CREATE INDEX customer_addresses_country ON customer_addresses (country, customer_id);
-- At most one default address per customer and kind.
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (customer_id, kind)
    WHERE is_default = 1;

-- The interaction timeline is append-only. An erasure may anonymize or
-- delete rows; a merge may re-point customer_id and change nothing else.
CREATE TABLE customer_interactions (
    id           uuid PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    channel      text COLLATE "C" NOT NULL CHECK (channel IN ('email', 'phone', 'chat', 'meeting', 'in_store', 'web', 'social', 'mail', 'other')),
    direction    text COLLATE "C" NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('note', 'complaint', 'review', 'support', 'sale', 'inquiry', 'feedback', 'marketing', 'other')),
    subject      text COLLATE "C" CHECK (length(subject) BETWEEN 1 AND 200),
    body         text COLLATE "C" CHECK (length(body) <= 20000),
    rating       bigint CHECK (rating IS NULL OR (kind = 'review' AND rating BETWEEN 1 AND 5)),
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    recorded_by  text COLLATE "C" NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 128)
);
CREATE INDEX customer_interactions_timeline ON customer_interactions (customer_id, occurred_at DESC, id DESC);

CREATE FUNCTION customer_interactions_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
       AND NOT (EXISTS (SELECT 1 FROM customer_merge_in_progress)
                AND new.id = old.id AND new.channel = old.channel AND new.direction = old.direction
                AND new.kind = old.kind AND new.subject IS NOT DISTINCT FROM old.subject
                AND new.body IS NOT DISTINCT FROM old.body
                AND new.rating IS NOT DISTINCT FROM old.rating AND new.occurred_at = old.occurred_at
                AND new.recorded_at = old.recorded_at AND new.recorded_by = old.recorded_by) THEN
        RAISE EXCEPTION 'customer_interactions is append-only' USING ERRCODE = '23CD1';
    END IF;
    RETURN new;
END
$$;
CREATE TRIGGER customer_interactions_no_update BEFORE UPDATE ON customer_interactions
    FOR EACH ROW EXECUTE FUNCTION customer_interactions_no_update();

CREATE FUNCTION customer_interactions_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress) THEN
        RAISE EXCEPTION 'customer_interactions is append-only' USING ERRCODE = '23CD1';
    END IF;
    RETURN old;
END
$$;
CREATE TRIGGER customer_interactions_no_delete BEFORE DELETE ON customer_interactions
    FOR EACH ROW EXECUTE FUNCTION customer_interactions_no_delete();

CREATE TRIGGER customer_interactions_no_truncate BEFORE TRUNCATE ON customer_interactions
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

-- Version 2: catalog ---------------------------------------------------------

CREATE TABLE products (
    id           uuid PRIMARY KEY,
    name         text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  text COLLATE "C" CHECK (length(description) <= 10000),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL CHECK (updated_at >= created_at),
    version      bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at  timestamptz CHECK (archived_at IS NULL OR archived_at >= created_at)
);
CREATE INDEX products_name ON products (name, id);

CREATE TABLE product_variants (
    id               uuid PRIMARY KEY,
    product_id       uuid NOT NULL REFERENCES products (id),
    sku              text COLLATE "C" NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    title            text COLLATE "C" CHECK (length(title) BETWEEN 1 AND 200),
    options          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object' AND custdb_json_compact_length(options) <= 2048),
    barcode          text COLLATE "C" CHECK (length(barcode) BETWEEN 1 AND 64),
    price_e4         bigint NOT NULL CHECK (price_e4 BETWEEN 0 AND 1000000000000),
    currency         text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    track_stock      bigint NOT NULL CHECK (track_stock IN (0, 1)),
    allow_backorder  bigint NOT NULL CHECK (allow_backorder IN (0, 1)),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL CHECK (updated_at >= created_at),
    version          bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at      timestamptz CHECK (archived_at IS NULL OR archived_at >= created_at)
);
CREATE INDEX product_variants_product ON product_variants (product_id, sku);
CREATE UNIQUE INDEX product_variants_barcode ON product_variants (barcode) WHERE barcode IS NOT NULL;

-- Inventory ------------------------------------------------------------------

CREATE TABLE warehouses (
    id           uuid PRIMARY KEY,
    code         text COLLATE "C" NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32 AND code = upper(code)),
    name         text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    line1        text COLLATE "C" CHECK (length(line1) BETWEEN 1 AND 200),
    city         text COLLATE "C" CHECK (length(city) BETWEEN 1 AND 100),
    postal_code  text COLLATE "C" CHECK (length(postal_code) BETWEEN 1 AND 20),
    country      text COLLATE "C" CHECK (length(country) = 2 AND country = upper(country)),
    priority     bigint NOT NULL CHECK (priority BETWEEN 0 AND 1000000),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL CHECK (updated_at >= created_at),
    archived_at  timestamptz
);

-- The balance of one variant in one warehouse, written only by the trigger
-- on stock_movements. allow_backorder is copied from the variant (and kept
-- in step by a trigger) because a CHECK can only see its own row.
CREATE TABLE stock_levels (
    variant_id       uuid NOT NULL REFERENCES product_variants (id),
    warehouse_id     uuid NOT NULL REFERENCES warehouses (id),
    on_hand          bigint NOT NULL CHECK (on_hand >= 0),
    reserved         bigint NOT NULL CHECK (reserved >= 0),
    allow_backorder  bigint NOT NULL CHECK (allow_backorder IN (0, 1)),
    CHECK (on_hand - reserved >= 0 OR allow_backorder = 1),
    PRIMARY KEY (variant_id, warehouse_id)
);
CREATE INDEX stock_levels_warehouse ON stock_levels (warehouse_id, variant_id);

-- The append-only stock ledger. Each kind moves the balance one way only.
-- reservation_id, order_id and transfer_id name records without a foreign
-- key, as on SQLite; they are UUIDs.
CREATE TABLE stock_movements (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    variant_id      uuid NOT NULL REFERENCES product_variants (id),
    warehouse_id    uuid NOT NULL REFERENCES warehouses (id),
    kind            text COLLATE "C" NOT NULL CHECK (kind IN ('receipt', 'adjustment', 'reservation', 'release', 'shipment', 'return', 'transfer_out', 'transfer_in', 'count')),
    on_hand_delta   bigint NOT NULL,
    reserved_delta  bigint NOT NULL,
    reason          text COLLATE "C" CHECK (length(reason) BETWEEN 1 AND 200),
    reservation_id  uuid,
    order_id        uuid,
    transfer_id     uuid,
    at              timestamptz NOT NULL,
    actor_id        text COLLATE "C" NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    CHECK (on_hand_delta <> 0 OR reserved_delta <> 0),
    CHECK (CASE kind
        WHEN 'receipt'      THEN on_hand_delta > 0 AND reserved_delta = 0
        WHEN 'return'       THEN on_hand_delta > 0 AND reserved_delta = 0
        WHEN 'transfer_in'  THEN on_hand_delta > 0 AND reserved_delta = 0 AND transfer_id IS NOT NULL
        WHEN 'transfer_out' THEN on_hand_delta < 0 AND reserved_delta = 0 AND transfer_id IS NOT NULL
        WHEN 'reservation'  THEN on_hand_delta = 0 AND reserved_delta > 0 AND reservation_id IS NOT NULL
        WHEN 'release'      THEN on_hand_delta = 0 AND reserved_delta < 0 AND reservation_id IS NOT NULL
        WHEN 'shipment'     THEN on_hand_delta < 0 AND reserved_delta = on_hand_delta AND reservation_id IS NOT NULL
        WHEN 'adjustment'   THEN reserved_delta = 0 AND reason IS NOT NULL
        ELSE reserved_delta = 0
    END)
);
CREATE INDEX stock_movements_level ON stock_movements (variant_id, warehouse_id, seq);
CREATE INDEX stock_movements_order ON stock_movements (order_id) WHERE order_id IS NOT NULL;

-- Applies each movement to its balance, in the inserting statement. The row
-- is created at zero first and then moved (as on SQLite: an upsert would
-- check the CHECKs against the delta alone). Same arithmetic: on_hand +=
-- on_hand_delta, reserved += reserved_delta; the CHECKs on stock_levels
-- refuse the movement when the balance would break them.
CREATE FUNCTION stock_movements_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock_levels (variant_id, warehouse_id, on_hand, reserved, allow_backorder)
    VALUES (new.variant_id, new.warehouse_id, 0, 0,
            (SELECT allow_backorder FROM product_variants WHERE id = new.variant_id))
    ON CONFLICT (variant_id, warehouse_id) DO NOTHING;
    UPDATE stock_levels
        SET on_hand = on_hand + new.on_hand_delta, reserved = reserved + new.reserved_delta
        WHERE variant_id = new.variant_id AND warehouse_id = new.warehouse_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER stock_movements_apply AFTER INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_apply();

CREATE FUNCTION stock_movements_no_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only' USING ERRCODE = '23CD1';
END
$$;
CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_no_change();
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_no_change();
CREATE TRIGGER stock_movements_no_truncate BEFORE TRUNCATE ON stock_movements
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

-- Like SQLite's AFTER UPDATE OF allow_backorder: fires whenever the column
-- is in the SET list, changed or not.
CREATE FUNCTION product_variants_backorder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stock_levels SET allow_backorder = new.allow_backorder WHERE variant_id = new.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER product_variants_backorder AFTER UPDATE OF allow_backorder ON product_variants
    FOR EACH ROW EXECUTE FUNCTION product_variants_backorder();

-- Orders (before stock_reservations, which refers to them; SQLite allowed
-- the forward reference) --------------------------------------------------

-- shipping_address and billing_address are address snapshots custdb parses
-- (jsonb); request_hash is a SHA-256 hex compared as text. country is the
-- version 5 column, last as on SQLite. number comes from an identity (a
-- sequence), not SQLite's max(number) + 1: several servers take numbers at
-- once without waiting for each other, and a placement that rolls back
-- leaves a gap (docs/SCALING.md, "Order numbers").
CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    number            bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE CHECK (number >= 1),
    customer_id       uuid REFERENCES customers (id),
    guest_email       text COLLATE "C" CHECK (length(guest_email) BETWEEN 3 AND 254 AND guest_email = lower(guest_email)),
    currency          text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    status            text COLLATE "C" NOT NULL CHECK (status IN ('pending', 'paid', 'partially_shipped', 'shipped', 'delivered', 'cancelled', 'returned', 'refunded')),
    subtotal_e4       bigint NOT NULL CHECK (subtotal_e4 >= 0),
    discount_e4       bigint NOT NULL CHECK (discount_e4 BETWEEN 0 AND subtotal_e4),
    tax_e4            bigint NOT NULL CHECK (tax_e4 >= 0),
    shipping_e4       bigint NOT NULL CHECK (shipping_e4 >= 0),
    total_e4          bigint NOT NULL CHECK (total_e4 = subtotal_e4 - discount_e4 + tax_e4 + shipping_e4),
    paid_e4           bigint NOT NULL DEFAULT 0 CHECK (paid_e4 BETWEEN 0 AND total_e4),
    refunded_e4       bigint NOT NULL DEFAULT 0 CHECK (refunded_e4 BETWEEN 0 AND paid_e4),
    shipping_address  jsonb,
    billing_address   jsonb,
    note              text COLLATE "C" CHECK (length(note) <= 2000),
    idempotency_key   text COLLATE "C" UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash      text COLLATE "C" CHECK ((idempotency_key IS NULL) = (request_hash IS NULL)),
    hold_until        timestamptz,
    placed_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL CHECK (updated_at >= placed_at),
    version           bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    country           text COLLATE "C" CHECK (country IS NULL OR (length(country) = 2 AND country = upper(country))),
    CHECK ((customer_id IS NULL) <> (guest_email IS NULL))
);
CREATE INDEX orders_customer ON orders (customer_id, placed_at DESC, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX orders_status ON orders (status, placed_at DESC, id DESC);
CREATE INDEX orders_placed ON orders (placed_at);
CREATE INDEX orders_guest_email ON orders (guest_email) WHERE guest_email IS NOT NULL;
CREATE INDEX orders_country ON orders (country, placed_at) WHERE country IS NOT NULL;

CREATE TABLE order_lines (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id),
    line_no            bigint NOT NULL CHECK (line_no >= 1),
    variant_id         uuid NOT NULL REFERENCES product_variants (id),
    sku                text COLLATE "C" NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    title              text COLLATE "C" NOT NULL CHECK (length(title) BETWEEN 1 AND 400),
    quantity           bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    unit_price_e4      bigint NOT NULL CHECK (unit_price_e4 >= 0),
    subtotal_e4        bigint NOT NULL CHECK (subtotal_e4 >= 0),
    discount_e4        bigint NOT NULL CHECK (discount_e4 BETWEEN 0 AND subtotal_e4),
    tax_rate_ppm       bigint NOT NULL CHECK (tax_rate_ppm BETWEEN 0 AND 1000000),
    tax_e4             bigint NOT NULL CHECK (tax_e4 >= 0),
    total_e4           bigint NOT NULL CHECK (total_e4 = subtotal_e4 - discount_e4 + tax_e4),
    warehouse_id       uuid REFERENCES warehouses (id),
    quantity_shipped   bigint NOT NULL DEFAULT 0 CHECK (quantity_shipped BETWEEN 0 AND quantity),
    quantity_returned  bigint NOT NULL DEFAULT 0 CHECK (quantity_returned BETWEEN 0 AND quantity_shipped),
    UNIQUE (order_id, line_no),
    UNIQUE (order_id, variant_id)
);
CREATE INDEX order_lines_variant ON order_lines (variant_id, order_id);

-- A reservation holds stock for an order line (or a cart). rowid stands for
-- SQLite's implicit rowid, which custdb orders a line's reservations by
-- (insertion order); custdb never supplies it.
CREATE TABLE stock_reservations (
    id             uuid PRIMARY KEY,
    variant_id     uuid NOT NULL REFERENCES product_variants (id),
    warehouse_id   uuid NOT NULL REFERENCES warehouses (id),
    order_id       uuid REFERENCES orders (id),
    order_line_id  uuid REFERENCES order_lines (id),
    quantity       bigint NOT NULL CHECK (quantity > 0),
    open_quantity  bigint NOT NULL CHECK (open_quantity BETWEEN 0 AND quantity),
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL,
    closed_at      timestamptz,
    closed_reason  text COLLATE "C" CHECK (closed_reason IN ('shipped', 'released', 'expired', 'cancelled')),
    rowid          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    CHECK ((open_quantity = 0) = (closed_at IS NOT NULL)),
    CHECK ((closed_at IS NULL) = (closed_reason IS NULL))
);
CREATE INDEX stock_reservations_open ON stock_reservations (variant_id, warehouse_id) WHERE open_quantity > 0;
CREATE INDEX stock_reservations_expiring ON stock_reservations (variant_id, warehouse_id, expires_at)
    WHERE open_quantity > 0 AND expires_at IS NOT NULL;
CREATE INDEX stock_reservations_expiry ON stock_reservations (expires_at) WHERE open_quantity > 0 AND expires_at IS NOT NULL;
CREATE INDEX stock_reservations_line ON stock_reservations (order_line_id) WHERE order_line_id IS NOT NULL;
CREATE INDEX stock_reservations_order ON stock_reservations (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE replenishment_rules (
    variant_id      uuid NOT NULL REFERENCES product_variants (id),
    warehouse_id    uuid NOT NULL REFERENCES warehouses (id),
    reorder_point   bigint NOT NULL CHECK (reorder_point >= 0),
    target_level    bigint NOT NULL CHECK (target_level > reorder_point),
    order_multiple  bigint NOT NULL CHECK (order_multiple >= 1),
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (variant_id, warehouse_id)
);

-- Every status change and every fulfilment or money event of an order.
-- detail is any JSON value custdb parses (jsonb). Append-only; an erasure
-- may update (anonymize) rows but never delete them.
CREATE TABLE order_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders (id),
    at           timestamptz NOT NULL,
    actor_id     text COLLATE "C" NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    kind         text COLLATE "C" NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    from_status  text COLLATE "C",
    to_status    text COLLATE "C" NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX order_events_order ON order_events (order_id, seq);

CREATE FUNCTION order_events_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress) THEN
        RAISE EXCEPTION 'order_events is append-only' USING ERRCODE = '23CD1';
    END IF;
    RETURN new;
END
$$;
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
    FOR EACH ROW EXECUTE FUNCTION order_events_no_update();

CREATE FUNCTION order_events_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_events is append-only' USING ERRCODE = '23CD1';
END
$$;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION order_events_no_delete();
CREATE TRIGGER order_events_no_truncate BEFORE TRUNCATE ON order_events
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

-- Payments never hold card numbers: only the method, the provider and the
-- provider's own reference.
CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    order_id            uuid NOT NULL REFERENCES orders (id),
    method              text COLLATE "C" NOT NULL CHECK (method IN ('card', 'bank_transfer', 'cash', 'wallet', 'gift_card', 'invoice', 'other')),
    provider            text COLLATE "C" CHECK (length(provider) BETWEEN 1 AND 64),
    provider_reference  text COLLATE "C" CHECK (length(provider_reference) BETWEEN 1 AND 128),
    amount_e4           bigint NOT NULL CHECK (amount_e4 > 0),
    currency            text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    status              text COLLATE "C" NOT NULL CHECK (status IN ('authorized', 'captured', 'refunded', 'failed')),
    refunded_e4         bigint NOT NULL DEFAULT 0 CHECK (refunded_e4 BETWEEN 0 AND amount_e4),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL CHECK (updated_at >= created_at),
    CHECK (refunded_e4 = 0 OR status IN ('captured', 'refunded')),
    CHECK ((status = 'refunded') = (refunded_e4 = amount_e4))
);
CREATE INDEX payments_order ON payments (order_id, created_at);

CREATE TABLE shipments (
    id               uuid PRIMARY KEY,
    order_id         uuid NOT NULL REFERENCES orders (id),
    carrier          text COLLATE "C" NOT NULL CHECK (length(carrier) BETWEEN 1 AND 64),
    tracking_number  text COLLATE "C" CHECK (length(tracking_number) BETWEEN 1 AND 128),
    shipped_at       timestamptz NOT NULL,
    delivered_at     timestamptz CHECK (delivered_at IS NULL OR delivered_at >= shipped_at)
);
CREATE INDEX shipments_order ON shipments (order_id);

CREATE TABLE shipment_lines (
    shipment_id    uuid NOT NULL REFERENCES shipments (id),
    order_line_id  uuid NOT NULL REFERENCES order_lines (id),
    quantity       bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (shipment_id, order_line_id)
);

CREATE TABLE returns (
    id          uuid PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id),
    reason      text COLLATE "C" NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL
);
CREATE INDEX returns_order ON returns (order_id);

CREATE TABLE return_lines (
    return_id      uuid NOT NULL REFERENCES returns (id),
    order_line_id  uuid NOT NULL REFERENCES order_lines (id),
    quantity       bigint NOT NULL CHECK (quantity > 0),
    restock        bigint NOT NULL CHECK (restock IN (0, 1)),
    warehouse_id   uuid REFERENCES warehouses (id),
    CHECK ((restock = 1) = (warehouse_id IS NOT NULL)),
    PRIMARY KEY (return_id, order_line_id)
);

CREATE TABLE refunds (
    id          uuid PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id),
    payment_id  uuid NOT NULL REFERENCES payments (id),
    amount_e4   bigint NOT NULL CHECK (amount_e4 > 0),
    reason      text COLLATE "C" NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Version 3: privacy ---------------------------------------------------------

-- Purposes of processing, registered by the application. data_categories
-- is a JSON array (jsonb).
CREATE TABLE consent_purposes (
    id                text COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    description       text COLLATE "C" NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
    lawful_basis      text COLLATE "C" NOT NULL CHECK (lawful_basis IN ('consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests')),
    consent_required  bigint NOT NULL CHECK (consent_required IN (0, 1)),
    data_categories   jsonb NOT NULL CHECK (jsonb_typeof(data_categories) = 'array'),
    created_at        timestamptz NOT NULL,
    CHECK (lawful_basis <> 'consent' OR consent_required = 1)
);

-- The exact texts shown to people when their consent was asked, by hash:
-- text, because check() re-hashes every text byte for byte.
CREATE TABLE consent_notices (
    hash        text COLLATE "C" PRIMARY KEY CHECK (length(hash) = 64),
    version     text COLLATE "C" NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    text        text COLLATE "C" NOT NULL CHECK (length(text) BETWEEN 1 AND 100000),
    created_at  timestamptz NOT NULL
);

-- The consent ledger (after ISO/IEC TS 27560): one row per event, never
-- changed; the current state is the latest event by event time. An erasure
-- may anonymize or delete rows; a merge may re-point customer_id only.
CREATE TABLE consent_events (
    seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  uuid NOT NULL UNIQUE,
    customer_id         uuid NOT NULL REFERENCES customers (id),
    purpose_id          text COLLATE "C" NOT NULL REFERENCES consent_purposes (id),
    state               text COLLATE "C" NOT NULL CHECK (state IN ('requested', 'given', 'refused', 'withdrawn', 'expired', 'invalidated')),
    notice_version      text COLLATE "C" CHECK (length(notice_version) BETWEEN 1 AND 64),
    notice_hash         text COLLATE "C" CHECK (length(notice_hash) = 64),
    collection_method   text COLLATE "C" NOT NULL CHECK (collection_method IN ('web_form', 'mobile_app', 'paper', 'api', 'verbal', 'email', 'phone', 'in_store', 'import', 'erasure', 'system')),
    channel             text COLLATE "C" NOT NULL CHECK (length(channel) BETWEEN 1 AND 64),
    jurisdiction        text COLLATE "C" NOT NULL CHECK (length(jurisdiction) BETWEEN 2 AND 16),
    language            text COLLATE "C" NOT NULL CHECK (length(language) BETWEEN 2 AND 35),
    evidence_reference  text COLLATE "C" CHECK (length(evidence_reference) BETWEEN 1 AND 200),
    occurred_at         timestamptz NOT NULL,
    valid_until         timestamptz CHECK (valid_until IS NULL OR valid_until > occurred_at),
    recorded_at         timestamptz NOT NULL,
    recorded_by         text COLLATE "C" NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 128),
    CHECK ((notice_version IS NULL) = (notice_hash IS NULL))
);
CREATE INDEX consent_events_subject ON consent_events (customer_id, purpose_id, occurred_at, seq);
CREATE INDEX consent_events_purpose ON consent_events (purpose_id, customer_id, occurred_at, seq);

CREATE FUNCTION consent_events_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress)
       AND NOT (EXISTS (SELECT 1 FROM customer_merge_in_progress)
                AND new.seq = old.seq AND new.id = old.id AND new.purpose_id = old.purpose_id
                AND new.state = old.state AND new.notice_version IS NOT DISTINCT FROM old.notice_version
                AND new.notice_hash IS NOT DISTINCT FROM old.notice_hash
                AND new.collection_method = old.collection_method
                AND new.channel = old.channel AND new.jurisdiction = old.jurisdiction
                AND new.language = old.language
                AND new.evidence_reference IS NOT DISTINCT FROM old.evidence_reference
                AND new.occurred_at = old.occurred_at
                AND new.valid_until IS NOT DISTINCT FROM old.valid_until
                AND new.recorded_at = old.recorded_at AND new.recorded_by = old.recorded_by) THEN
        RAISE EXCEPTION 'consent_events is append-only' USING ERRCODE = '23CD1';
    END IF;
    RETURN new;
END
$$;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_no_update();

CREATE FUNCTION consent_events_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM privacy_erasure_in_progress) THEN
        RAISE EXCEPTION 'consent_events is append-only' USING ERRCODE = '23CD1';
    END IF;
    RETURN old;
END
$$;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_no_delete();
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

-- One row per erasure: no personal data, only the pseudonymous id, when, by
-- whom, on what ground, and how many rows were touched (rows: a JSON object,
-- jsonb).
CREATE TABLE privacy_erasures (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  uuid NOT NULL UNIQUE REFERENCES customers (id),
    erased_at    timestamptz NOT NULL,
    actor_id     text COLLATE "C" NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    ground       text COLLATE "C" NOT NULL CHECK (ground IN ('subject_request', 'retention')),
    rows         jsonb NOT NULL CHECK (jsonb_typeof(rows) = 'object')
);

CREATE FUNCTION privacy_erasures_no_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'privacy_erasures is append-only' USING ERRCODE = '23CD1';
END
$$;
CREATE TRIGGER privacy_erasures_no_update BEFORE UPDATE ON privacy_erasures
    FOR EACH ROW EXECUTE FUNCTION privacy_erasures_no_change();
CREATE TRIGGER privacy_erasures_no_delete BEFORE DELETE ON privacy_erasures
    FOR EACH ROW EXECUTE FUNCTION privacy_erasures_no_change();
CREATE TRIGGER privacy_erasures_no_truncate BEFORE TRUNCATE ON privacy_erasures
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

-- Retention periods per category, set by the application.
CREATE TABLE retention_rules (
    category     text COLLATE "C" PRIMARY KEY CHECK (category IN ('inactive_customers', 'interactions', 'order_contact_data')),
    period_days  bigint NOT NULL CHECK (period_days BETWEEN 1 AND 36600),
    updated_at   timestamptz NOT NULL
);

-- Version 4: trust (the audit hash chain is above, in audit_log) -------------

-- Roles the application defines beside the built-in ones. permissions is a
-- JSON array of permission names (jsonb).
CREATE TABLE access_roles (
    name           text COLLATE "C" PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    permissions    jsonb NOT NULL CHECK (jsonb_typeof(permissions) = 'array'),
    consent_scope  text COLLATE "C" CHECK (length(consent_scope) BETWEEN 1 AND 64),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL CHECK (updated_at >= created_at)
);

-- Which roles each actor holds.
CREATE TABLE access_grants (
    actor_id    text COLLATE "C" NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    role        text COLLATE "C" NOT NULL CHECK (length(role) BETWEEN 1 AND 64),
    granted_at  timestamptz NOT NULL,
    granted_by  text COLLATE "C" NOT NULL CHECK (length(granted_by) BETWEEN 1 AND 128),
    PRIMARY KEY (actor_id, role)
);
CREATE INDEX access_grants_role ON access_grants (role, actor_id);

-- Version 5: insight ---------------------------------------------------------

-- Which custdb record an outside key became, per import source.
CREATE TABLE import_keys (
    source       text COLLATE "C" NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    entity       text COLLATE "C" NOT NULL CHECK (entity IN ('customer', 'product', 'order', 'credit_note', 'return')),
    key          text COLLATE "C" NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    entity_id    uuid NOT NULL,
    imported_at  timestamptz NOT NULL,
    PRIMARY KEY (source, entity, key)
);
CREATE INDEX import_keys_entity ON import_keys (entity_id);

-- Money given back without an order to return it against. lines is a JSON
-- array (jsonb).
CREATE TABLE credit_notes (
    id           uuid PRIMARY KEY,
    customer_id  uuid REFERENCES customers (id),
    currency     text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    amount_e4    bigint NOT NULL CHECK (amount_e4 > 0),
    reason       text COLLATE "C" NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    lines        jsonb NOT NULL CHECK (jsonb_typeof(lines) = 'array'),
    country      text COLLATE "C" CHECK (country IS NULL OR (length(country) = 2 AND country = upper(country))),
    issued_at    timestamptz NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX credit_notes_customer ON credit_notes (customer_id, issued_at) WHERE customer_id IS NOT NULL;
CREATE INDEX credit_notes_issued ON credit_notes (issued_at);

-- Merges, recorded with what moved (JSON object) and which field values won
-- (JSON array), both jsonb. Append-only.
CREATE TABLE customer_merges (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survivor_id   uuid NOT NULL REFERENCES customers (id),
    merged_id     uuid NOT NULL UNIQUE REFERENCES customers (id),
    merged_at     timestamptz NOT NULL,
    actor_id      text COLLATE "C" NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    moved         jsonb NOT NULL CHECK (jsonb_typeof(moved) = 'object'),
    fields        jsonb NOT NULL CHECK (jsonb_typeof(fields) = 'array'),
    CHECK (survivor_id <> merged_id)
);
CREATE INDEX customer_merges_survivor ON customer_merges (survivor_id);

CREATE FUNCTION customer_merges_no_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'customer_merges is append-only' USING ERRCODE = '23CD1';
END
$$;
CREATE TRIGGER customer_merges_no_update BEFORE UPDATE ON customer_merges
    FOR EACH ROW EXECUTE FUNCTION customer_merges_no_change();
CREATE TRIGGER customer_merges_no_delete BEFORE DELETE ON customer_merges
    FOR EACH ROW EXECUTE FUNCTION customer_merges_no_change();
CREATE TRIGGER customer_merges_no_truncate BEFORE TRUNCATE ON customer_merges
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

-- Named segment definitions (the filter, a JSON object, jsonb).
CREATE TABLE saved_segments (
    name        text COLLATE "C" PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    definition  jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL CHECK (updated_at >= created_at)
);

-- The functions below run as the schema's owner (SECURITY DEFINER) with
-- the search path fixed when they were created: this schema, then pg_temp
-- last, so that no temporary table of a caller's can stand in for one of
-- custdb's.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- Which customer a customer was merged into is set by a merge only (the
-- marker below holds its row then), once, and never changed back.
CREATE FUNCTION customers_merged_into_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF new.merged_into IS DISTINCT FROM old.merged_into
       AND NOT (old.merged_into IS NULL AND EXISTS (SELECT 1 FROM customer_merge_in_progress)) THEN
        RAISE EXCEPTION 'customers.merged_into is set by a merge only' USING ERRCODE = '23CD1';
    END IF;
    RETURN new;
END
$$;
CREATE TRIGGER customers_merged_into_guard BEFORE UPDATE OF merged_into ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_merged_into_guard();

-- Merging a duplicate customer marks it merged and moves its rows to the
-- survivor, append-only ledgers included (interactions, consent events),
-- whose triggers allow only that change, and only while
-- customer_merge_in_progress holds its row. The application's runtime role
-- may neither update those tables nor set the marker
-- (Store::grant_runtime_privileges), so the merge's writes run here, as the
-- schema's owner: only for a duplicate that is archived and neither erased
-- nor merged, into a survivor that is neither, and always recorded in
-- customer_merges (with the rows moved, counted here). PUBLIC may not call
-- it; the runtime role is granted it.
CREATE FUNCTION custdb_merge_move(p_duplicate uuid, p_survivor uuid, p_actor text,
                                  p_at timestamptz, p_fields jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_moved jsonb := '{}';
    v_rows bigint;
BEGIN
    IF p_duplicate = p_survivor
       OR NOT EXISTS (SELECT 1 FROM customers WHERE id = p_duplicate AND archived_at IS NOT NULL
                      AND erased_at IS NULL AND merged_into IS NULL)
       OR NOT EXISTS (SELECT 1 FROM customers WHERE id = p_survivor AND erased_at IS NULL
                      AND merged_into IS NULL) THEN
        RAISE EXCEPTION 'customer % cannot be merged into %', p_duplicate, p_survivor
            USING ERRCODE = '23CD2';
    END IF;
    INSERT INTO customer_merge_in_progress (one) VALUES (1);
    UPDATE customers SET merged_into = p_survivor WHERE id = p_duplicate;
    UPDATE customer_addresses SET customer_id = p_survivor WHERE customer_id = p_duplicate;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_moved := v_moved || jsonb_build_object('customer_addresses', v_rows); END IF;
    UPDATE customer_interactions SET customer_id = p_survivor WHERE customer_id = p_duplicate;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_moved := v_moved || jsonb_build_object('customer_interactions', v_rows); END IF;
    UPDATE orders SET customer_id = p_survivor WHERE customer_id = p_duplicate;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_moved := v_moved || jsonb_build_object('orders', v_rows); END IF;
    UPDATE credit_notes SET customer_id = p_survivor WHERE customer_id = p_duplicate;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_moved := v_moved || jsonb_build_object('credit_notes', v_rows); END IF;
    UPDATE consent_events SET customer_id = p_survivor WHERE customer_id = p_duplicate;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_moved := v_moved || jsonb_build_object('consent_events', v_rows); END IF;
    UPDATE import_keys SET entity_id = p_survivor WHERE entity_id = p_duplicate;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_moved := v_moved || jsonb_build_object('import_keys', v_rows); END IF;
    DELETE FROM customer_merge_in_progress;
    INSERT INTO customer_merges (survivor_id, merged_id, merged_at, actor_id, moved, fields)
        VALUES (p_survivor, p_duplicate, p_at, p_actor, v_moved, p_fields);
    RETURN v_moved;
END
$$;
REVOKE ALL ON FUNCTION custdb_merge_move(uuid, uuid, text, timestamptz, jsonb) FROM PUBLIC;

-- BEGIN generated from the personal-data map (src/privacy/postgres.rs)
CREATE FUNCTION custdb_erase_subject(p_subject uuid, p_at timestamptz, p_actor text, p_ground text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_counts jsonb := '{}';
    v_rows bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM customers WHERE id = p_subject AND erased_at IS NULL) THEN
        RAISE EXCEPTION 'customer % is unknown or already erased', p_subject USING ERRCODE = '23CD2';
    END IF;
    INSERT INTO privacy_erasure_in_progress (one) VALUES (1);
    DELETE FROM customer_tags WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('customer_tags', v_rows); END IF;
    DELETE FROM customer_addresses WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('customer_addresses', v_rows); END IF;
    DELETE FROM customer_interactions WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('customer_interactions', v_rows); END IF;
    UPDATE consent_events SET evidence_reference = NULL WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('consent_events', v_rows); END IF;
    UPDATE order_events SET detail = (detail - 'tracking_number') WHERE order_id IN (SELECT id FROM orders WHERE customer_id = p_subject);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('order_events', v_rows); END IF;
    UPDATE shipments SET tracking_number = NULL WHERE order_id IN (SELECT id FROM orders WHERE customer_id = p_subject);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('shipments', v_rows); END IF;
    UPDATE orders SET guest_email = CASE WHEN guest_email IS NULL THEN NULL ELSE 'erased@erased.invalid' END, shipping_address = NULL, billing_address = NULL, note = NULL WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('orders', v_rows); END IF;
    UPDATE customers SET display_name = 'Erased customer', given_name = NULL, family_name = NULL, email = NULL, phone = NULL, company = NULL, locale = NULL, birth_date = NULL, acquisition_source = NULL, attributes = '{}', notes = NULL WHERE id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('customers', v_rows); END IF;
    UPDATE customers SET erased_at = p_at, archived_at = coalesce(archived_at, p_at), updated_at = p_at, version = version + 1 WHERE id = p_subject;
    DELETE FROM privacy_erasure_in_progress;
    INSERT INTO privacy_erasures (customer_id, erased_at, actor_id, ground, rows) VALUES (p_subject, p_at, p_actor, p_ground, v_counts);
    RETURN v_counts;
END
$$;
REVOKE ALL ON FUNCTION custdb_erase_subject(uuid, timestamptz, text, text) FROM PUBLIC;

CREATE FUNCTION custdb_retention_apply(p_table text, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_rows bigint;
    v_days bigint;
    p_cutoff timestamptz;
BEGIN
    INSERT INTO privacy_erasure_in_progress (one) VALUES (1);
    IF p_table = 'customer_interactions' THEN
        SELECT period_days INTO v_days FROM retention_rules WHERE category = 'interactions';
        IF v_days IS NULL THEN
            RAISE EXCEPTION 'no retention rule for %', p_table USING ERRCODE = '23CD2';
        END IF;
        p_cutoff := p_now - (v_days * 86400) * interval '1 second';
        DELETE FROM customer_interactions WHERE occurred_at < p_cutoff;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    ELSIF p_table = 'order_events' THEN
        SELECT period_days INTO v_days FROM retention_rules WHERE category = 'order_contact_data';
        IF v_days IS NULL THEN
            RAISE EXCEPTION 'no retention rule for %', p_table USING ERRCODE = '23CD2';
        END IF;
        p_cutoff := p_now - (v_days * 86400) * interval '1 second';
        UPDATE order_events SET detail = (detail - 'tracking_number') WHERE (SELECT o.placed_at FROM orders o WHERE o.id = order_id) < p_cutoff AND (detail IS DISTINCT FROM (detail - 'tracking_number'));
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    ELSIF p_table = 'shipments' THEN
        SELECT period_days INTO v_days FROM retention_rules WHERE category = 'order_contact_data';
        IF v_days IS NULL THEN
            RAISE EXCEPTION 'no retention rule for %', p_table USING ERRCODE = '23CD2';
        END IF;
        p_cutoff := p_now - (v_days * 86400) * interval '1 second';
        UPDATE shipments SET tracking_number = NULL WHERE (SELECT o.placed_at FROM orders o WHERE o.id = order_id) < p_cutoff AND (tracking_number IS DISTINCT FROM NULL);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    ELSIF p_table = 'orders' THEN
        SELECT period_days INTO v_days FROM retention_rules WHERE category = 'order_contact_data';
        IF v_days IS NULL THEN
            RAISE EXCEPTION 'no retention rule for %', p_table USING ERRCODE = '23CD2';
        END IF;
        p_cutoff := p_now - (v_days * 86400) * interval '1 second';
        UPDATE orders SET guest_email = CASE WHEN guest_email IS NULL THEN NULL ELSE 'erased@erased.invalid' END, shipping_address = NULL, billing_address = NULL, note = NULL WHERE placed_at < p_cutoff AND (guest_email IS DISTINCT FROM CASE WHEN guest_email IS NULL THEN NULL ELSE 'erased@erased.invalid' END OR shipping_address IS DISTINCT FROM NULL OR billing_address IS DISTINCT FROM NULL OR note IS DISTINCT FROM NULL);
        GET DIAGNOSTICS v_rows = ROW_COUNT;
    ELSE
        RAISE EXCEPTION 'no retention statement for table %', p_table USING ERRCODE = '23CD2';
    END IF;
    DELETE FROM privacy_erasure_in_progress;
    RETURN v_rows;
END
$$;
REVOKE ALL ON FUNCTION custdb_retention_apply(text, timestamptz) FROM PUBLIC;
-- END generated from the personal-data map
