-- Checks that 0007_baseline.sql enforces the SQLite schema's rules.
--
-- Run it against a database where 0007_baseline.sql has just been loaded:
--   psql -v ON_ERROR_STOP=1 -f check_baseline.sql
-- Every rule is an assertion: the first rule that does not hold raises an
-- error and stops the script. It runs in one transaction that it rolls back,
-- so the database is left as it was and the script can run again.
--
-- The expected ledger balances and search results are the ones SQLite gives
-- for the same statements on a file at schema version 7 (the same scenario
-- run through the SQLite migrations; the numbers are quoted below).

\set ON_ERROR_STOP 1
\set QUIET 1
-- Query results are not needed (failures are errors, on stderr).
\o /dev/null
SET client_min_messages = warning;
BEGIN;

-- Helpers (temporary: they vanish with the session) ------------------------

CREATE TEMP TABLE hit (con text NOT NULL);

-- A fixed UUIDv7-shaped id per number, so the script reads 01900000-...-0001.
CREATE FUNCTION pg_temp.u(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('01900000-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid;

-- (A function, not a procedure: CALL arguments may not hold subqueries.)
CREATE FUNCTION pg_temp.assert(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'RULE DOES NOT HOLD: %', what;
    END IF;
END
$$;

-- Runs stmt, which must fail with SQLSTATE state; when want is given, the
-- message or the constraint name must equal it. The failure is rolled back
-- (a subtransaction), so the data stay as they were.
CREATE PROCEDURE pg_temp.expect_error(stmt text, state text, want text DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; cn text;
BEGIN
    BEGIN
        EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, cn = CONSTRAINT_NAME;
        IF st <> state OR (want IS NOT NULL AND msg IS DISTINCT FROM want AND cn IS DISTINCT FROM want) THEN
            RAISE EXCEPTION 'RULE DOES NOT HOLD: % failed with % "%" (constraint %), expected % %',
                stmt, st, msg, cn, state, coalesce(want, '');
        END IF;
        IF st = '23514' THEN
            INSERT INTO hit VALUES (cn);
        END IF;
        RETURN;
    END;
    RAISE EXCEPTION 'RULE DOES NOT HOLD: accepted: %', stmt;
END
$$;

-- The CHECK test: copies the row of tab chosen by cond, with overrides
-- (column -> bad value), and inserts the copy. The copy must violate the
-- CHECK con (shown by evaluating con's own expression on it), and the insert
-- must fail with a check violation of one of the CHECKs the copy violates
-- (con itself when it is the only one). A CHECK runs before unique indexes
-- and foreign keys, so the copied keys do not matter.
CREATE PROCEDURE pg_temp.bad(tab text, cond text, overrides jsonb, con text)
LANGUAGE plpgsql AS $$
DECLARE
    rowj jsonb; violated text[] := '{}'; r record; ok boolean; cols text;
    st text; cn text; msg text;
BEGIN
    EXECUTE format('SELECT to_jsonb(t) FROM %I t WHERE %s', tab, cond) INTO rowj;
    IF rowj IS NULL THEN
        RAISE EXCEPTION 'bad(%): no row where %', tab, cond;
    END IF;
    rowj := rowj || overrides;
    FOR r IN SELECT c.conname::text AS name, pg_get_expr(c.conbin, c.conrelid) AS expr
             FROM pg_constraint c WHERE c.conrelid = tab::regclass AND c.contype = 'c' LOOP
        EXECUTE format('SELECT (%s) FROM jsonb_populate_record(NULL::%I, $1) AS %I', r.expr, tab, tab)
            INTO ok USING rowj;
        IF ok IS FALSE THEN
            violated := violated || r.name;
        END IF;
    END LOOP;
    IF NOT con = ANY (violated) THEN
        RAISE EXCEPTION 'bad(%): % does not violate % (violates %)', tab, overrides, con, violated;
    END IF;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = tab::regclass AND attnum > 0 AND NOT attisdropped
        AND attidentity <> 'a' AND attgenerated = '';
    BEGIN
        EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM jsonb_populate_record(NULL::%I, $1)',
                       tab, cols, cols, tab) USING rowj;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, cn = CONSTRAINT_NAME, msg = MESSAGE_TEXT;
        IF st <> '23514' OR NOT cn = ANY (violated)
           OR (cardinality(violated) = 1 AND cn <> con) THEN
            RAISE EXCEPTION 'RULE DOES NOT HOLD: %: % gave % "%" (constraint %), expected a check violation of %',
                tab, overrides, st, msg, cn, violated;
        END IF;
        INSERT INTO hit VALUES (con);
        RETURN;
    END;
    RAISE EXCEPTION 'RULE DOES NOT HOLD: %: CHECK % accepted %', tab, con, rowj;
END
$$;

-- The audit entry hash, computed in SQL exactly as src/audit.rs entry_hash:
-- SHA-256 over 'custdb-audit-v1', the previous hash, then each field as an
-- 8-byte little-endian byte length and its UTF-8 bytes.
CREATE FUNCTION pg_temp.le8(n bigint) RETURNS bytea LANGUAGE sql IMMUTABLE
RETURN (SELECT decode(string_agg(substr(lpad(to_hex(n), 16, '0'), 15 - 2 * i, 2), '' ORDER BY i), 'hex')
        FROM generate_series(0, 7) AS i);
CREATE FUNCTION pg_temp.entry_hash(a audit_log, prev text) RETURNS text LANGUAGE sql STABLE
RETURN (SELECT encode(sha256(convert_to('custdb-audit-v1' || prev, 'UTF8')
            || string_agg(pg_temp.le8(octet_length(convert_to(f, 'UTF8'))) || convert_to(f, 'UTF8'), ''::bytea ORDER BY o)), 'hex')
        FROM unnest(ARRAY[a.seq::text, a.at, a.actor_id, a.actor_name, a.action, a.entity_type,
                          a.entity_id, a.changed_fields]) WITH ORDINALITY AS x(f, o));

-- Valid rows in every table -------------------------------------------------

INSERT INTO customers (id, display_name, phone, locale, birth_date, acquisition_source, attributes, created_at, updated_at)
VALUES (pg_temp.u(1), 'Ada', '+441234567890', 'en-GB', '1815-12-10', 'import',
        '{"tier": "gold", "points": 120, "tags": ["a", "b"]}', '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z');
INSERT INTO customers (id, display_name, given_name, family_name, email, company, notes, created_at, updated_at, archived_at) VALUES
    (pg_temp.u(2), 'Ada Lovelace', 'Ada', 'Lovelace', 'ada.lovelace@example.com', 'Analytical Engines Ltd', NULL, '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', NULL),
    (pg_temp.u(3), 'José Núñez', NULL, NULL, 'jose@example.org', NULL, NULL, '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', NULL),
    (pg_temp.u(4), 'Grace Hopper', NULL, NULL, NULL, NULL, 'Met Ada Lovelace''s biographer', '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', NULL),
    (pg_temp.u(5), 'Ada Archived', NULL, NULL, 'ada.lovelace@example.com', NULL, NULL, '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', '2024-02-01T00:00:00Z'),
    (pg_temp.u(6), 'Ashlee Leeds', NULL, NULL, NULL, NULL, NULL, '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', NULL),
    (pg_temp.u(7), 'Temp', NULL, NULL, NULL, NULL, NULL, '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', NULL),
    (pg_temp.u(8), 'Duplicate Ada', NULL, NULL, NULL, NULL, NULL, '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.123456Z', NULL);
INSERT INTO customer_tags (customer_id, tag) VALUES (pg_temp.u(1), 'vip'), (pg_temp.u(7), 'temp');
INSERT INTO customer_addresses (id, customer_id, kind, is_default, line1, city, country, created_at, updated_at) VALUES
    (pg_temp.u(101), pg_temp.u(1), 'shipping', 1, '12 St James''s Square', 'London', 'GB', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z'),
    (pg_temp.u(102), pg_temp.u(7), 'billing', 1, '1 Main St', 'Springfield', 'US', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z');
INSERT INTO customer_interactions (id, customer_id, channel, direction, kind, subject, body, occurred_at, recorded_at, recorded_by)
VALUES (pg_temp.u(111), pg_temp.u(1), 'email', 'inbound', 'note', 'Hello', 'A note', '2024-01-02T03:04:05Z', '2024-01-02T03:04:06Z', 'staff-1');

-- Two audit entries chained with the hashes custdb's Rust code computes for
-- them (entry_hash, run outside PostgreSQL).
INSERT INTO audit_log (seq, at, actor_id, actor_name, action, entity_type, entity_id, changed_fields, prev_hash, hash) VALUES
    (1, '2024-01-02T03:04:05.123456Z', 'staff-1', 'Staff One', 'create', 'customer', pg_temp.u(1)::text,
     '["display_name","email"]', repeat('0', 64), '747db170965cb6d08ccea5e9a002092ac9029a006c21ed97f6ae865e88764a51'),
    (2, '2024-01-02T03:04:06.000001Z', 'staff-2', 'Zoë Ñ', 'update', 'customer', pg_temp.u(1)::text,
     '["notes"]', '747db170965cb6d08ccea5e9a002092ac9029a006c21ed97f6ae865e88764a51',
     '29b6a8e4268bd510735ec8f97b9b89627cb980c5a1ebe60963258eed562abbde');

INSERT INTO products (id, name, created_at, updated_at) VALUES (pg_temp.u(301), 'Widget', '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z');
INSERT INTO product_variants (id, product_id, sku, title, options, barcode, price_e4, currency, track_stock, allow_backorder, created_at, updated_at) VALUES
    (pg_temp.u(311), pg_temp.u(301), 'W-1', 'Small', '{"size": "S"}', '4006381333931', 125000, 'EUR', 1, 0, '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z'),
    (pg_temp.u(312), pg_temp.u(301), 'W-2', 'Large', '{"size": "L"}', NULL, 125000, 'EUR', 1, 1, '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z');
INSERT INTO warehouses (id, code, name, priority, created_at, updated_at) VALUES
    (pg_temp.u(321), 'MAIN', 'Main', 1, '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z'),
    (pg_temp.u(322), 'SIDE', 'Side', 2, '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z');
INSERT INTO replenishment_rules (variant_id, warehouse_id, reorder_point, target_level, order_multiple, updated_at)
VALUES (pg_temp.u(311), pg_temp.u(321), 5, 20, 10, '2024-01-02T03:04:05Z');

INSERT INTO orders (id, number, customer_id, currency, status, subtotal_e4, discount_e4, tax_e4, shipping_e4, total_e4, paid_e4, refunded_e4,
                    shipping_address, idempotency_key, request_hash, placed_at, updated_at, country)
VALUES (pg_temp.u(601), 1, pg_temp.u(1), 'EUR', 'paid', 250000, 0, 50000, 5000, 305000, 305000, 0,
        '{"line1": "12 St James''s Square", "city": "London", "country": "GB"}', 'key-1', repeat('a', 64),
        '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z', 'GB');
INSERT INTO order_lines (id, order_id, line_no, variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, tax_e4, total_e4, warehouse_id)
VALUES (pg_temp.u(611), pg_temp.u(601), 1, pg_temp.u(311), 'W-1', 'Widget Small', 2, 125000, 250000, 0, 200000, 50000, 300000, pg_temp.u(321));
INSERT INTO stock_reservations (id, variant_id, warehouse_id, order_id, order_line_id, quantity, open_quantity, expires_at, created_at)
VALUES (pg_temp.u(406), pg_temp.u(311), pg_temp.u(321), pg_temp.u(601), pg_temp.u(611), 2, 2, '2024-01-03T00:00:00Z', '2024-01-02T03:04:05Z');
INSERT INTO order_events (order_id, at, actor_id, kind, from_status, to_status, detail)
VALUES (pg_temp.u(601), '2024-01-02T03:04:05Z', 'staff-1', 'placed', NULL, 'pending', '{"total_e4": 305000}'),
       (pg_temp.u(601), '2024-01-02T03:04:06Z', 'staff-1', 'paid', 'pending', 'paid', '{"amount_e4": 305000}');
INSERT INTO payments (id, order_id, method, provider, provider_reference, amount_e4, currency, status, created_at, updated_at)
VALUES (pg_temp.u(621), pg_temp.u(601), 'card', 'stripe', 'ch_1', 305000, 'EUR', 'captured', '2024-01-02T03:04:06Z', '2024-01-02T03:04:06Z');
INSERT INTO shipments (id, order_id, carrier, tracking_number, shipped_at) VALUES (pg_temp.u(631), pg_temp.u(601), 'DHL', 'TRK1', '2024-01-03T00:00:00Z');
INSERT INTO shipment_lines (shipment_id, order_line_id, quantity) VALUES (pg_temp.u(631), pg_temp.u(611), 1);
INSERT INTO returns (id, order_id, reason, created_at) VALUES (pg_temp.u(641), pg_temp.u(601), 'too small', '2024-01-04T00:00:00Z');
INSERT INTO return_lines (return_id, order_line_id, quantity, restock, warehouse_id) VALUES (pg_temp.u(641), pg_temp.u(611), 1, 1, pg_temp.u(321));
INSERT INTO refunds (id, order_id, payment_id, amount_e4, reason, created_at) VALUES (pg_temp.u(651), pg_temp.u(601), pg_temp.u(621), 1000, 'goodwill', '2024-01-04T00:00:00Z');

INSERT INTO consent_purposes (id, description, lawful_basis, consent_required, data_categories, created_at) VALUES
    ('newsletter', 'Monthly newsletter', 'consent', 1, '["contact"]', '2024-01-01T00:00:00Z'),
    ('billing', 'Invoicing', 'contract', 0, '["contact", "address"]', '2024-01-01T00:00:00Z');
INSERT INTO consent_notices (hash, version, text, created_at)
VALUES (encode(sha256(convert_to('We will email you monthly.', 'UTF8')), 'hex'), 'v1', 'We will email you monthly.', '2024-01-01T00:00:00Z');
INSERT INTO consent_events (id, customer_id, purpose_id, state, notice_version, notice_hash, collection_method, channel, jurisdiction, language,
                            evidence_reference, occurred_at, valid_until, recorded_at, recorded_by)
VALUES (pg_temp.u(701), pg_temp.u(1), 'newsletter', 'given', 'v1', encode(sha256(convert_to('We will email you monthly.', 'UTF8')), 'hex'),
        'web_form', 'signup', 'EU', 'en', 'form-123', '2024-01-02T03:04:05Z', '2025-01-02T03:04:05Z', '2024-01-02T03:04:06Z', 'staff-1');
INSERT INTO privacy_erasures (customer_id, erased_at, actor_id, ground, rows)
VALUES (pg_temp.u(6), '2024-03-01T00:00:00Z', 'staff-1', 'subject_request', '{"customers": 1}');
INSERT INTO retention_rules (category, period_days, updated_at) VALUES ('interactions', 730, '2024-01-01T00:00:00Z');
INSERT INTO access_roles (name, permissions, consent_scope, created_at, updated_at)
VALUES ('clerk', '["customers.read"]', 'newsletter', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z');
INSERT INTO access_grants (actor_id, role, granted_at, granted_by) VALUES ('staff-1', 'clerk', '2024-01-01T00:00:00Z', 'admin');
INSERT INTO import_keys (source, entity, key, entity_id, imported_at) VALUES ('online-retail', 'customer', '12345', pg_temp.u(1), '2024-01-01T00:00:00Z');
INSERT INTO credit_notes (id, customer_id, currency, amount_e4, reason, lines, country, issued_at, created_at)
VALUES (pg_temp.u(661), pg_temp.u(1), 'EUR', 50000, 'cancellation', '[{"sku": "W-1", "quantity": 1}]', 'GB', '2024-01-05T00:00:00Z', '2024-01-05T00:00:00Z');
INSERT INTO customer_merges (survivor_id, merged_id, merged_at, actor_id, moved, fields)
VALUES (pg_temp.u(1), pg_temp.u(8), '2024-03-01T00:00:00Z', 'staff-1', '{"orders": 0}', '["email:survivor"]');
UPDATE customers SET merged_into = pg_temp.u(1), archived_at = '2024-03-01T00:00:00Z' WHERE id = pg_temp.u(8);
INSERT INTO saved_segments (name, definition, created_at, updated_at) VALUES ('gold', '{"tag": "vip"}', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z');

-- Native types hold the values custdb writes --------------------------------

SELECT pg_temp.assert((SELECT updated_at = '2024-01-02T03:04:05.123456Z'::timestamptz
                       AND to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') = '2024-01-02T03:04:05.123456Z'
                     FROM customers WHERE id = pg_temp.u(1)),
                    'timestamptz keeps microseconds: the RFC 3339 text round-trips');
SELECT pg_temp.assert((SELECT id::text = '01900000-0000-7000-8000-000000000001' FROM customers WHERE display_name = 'Ada'),
                    'uuid reads back as the 36-character lowercase hyphenated text');
CALL pg_temp.expect_error($$INSERT INTO customers (id, display_name, created_at, updated_at) VALUES ('not-a-uuid', 'X', now(), now())$$, '22P02');
CALL pg_temp.expect_error($$INSERT INTO customers (id, display_name, birth_date, created_at, updated_at) VALUES (pg_temp.u(90), 'X', '2023-02-29', now(), now())$$, '22008');
CALL pg_temp.expect_error($$INSERT INTO customers (id, display_name, attributes, created_at, updated_at) VALUES (pg_temp.u(90), 'X', '{"a": }', now(), now())$$, '22P02');
CALL pg_temp.expect_error($$INSERT INTO customers (pk, id, display_name, created_at, updated_at) VALUES (99, pg_temp.u(90), 'X', now(), now())$$, '428C9');
CALL pg_temp.expect_error($$INSERT INTO customers (id, created_at, updated_at) VALUES (pg_temp.u(90), now(), now())$$, '23502');
SELECT pg_temp.assert(custdb_json_compact_length('{"a": [1, "x, y: z"], "b": {}}') = length('{"a":[1,"x, y: z"],"b":{}}'),
                    'jsonb length limits measure the compact JSON text, as SQLite measured the stored text');

-- The audit trail: hash chain over byte-exact text ---------------------------

SELECT pg_temp.assert((SELECT bool_and(hash = pg_temp.entry_hash(a, prev_hash)) AND count(*) = 2 FROM audit_log a),
                    'the stored audit entries re-hash to the hashes the Rust code computed');
SELECT pg_temp.assert((SELECT changed_fields = '["display_name","email"]' FROM audit_log WHERE seq = 1),
                    'audit_log.changed_fields keeps its exact text');
SELECT pg_temp.assert('["display_name","email"]'::jsonb::text <> '["display_name","email"]',
                    'jsonb would have rewritten changed_fields (why it is text)');
CALL pg_temp.expect_error($$INSERT INTO audit_log (seq, at, actor_id, actor_name, action, entity_type, entity_id, changed_fields, prev_hash)
    VALUES (3, '2024-01-02T03:04:07Z', 'staff-1', 'S', 'create', 'customer', 'x', '[]', repeat('0', 64))$$, '23CD2', 'audit_log entries are hash-chained');
CALL pg_temp.expect_error($$INSERT INTO audit_log (seq, at, actor_id, actor_name, action, entity_type, entity_id, changed_fields, hash)
    VALUES (3, '2024-01-02T03:04:07Z', 'staff-1', 'S', 'create', 'customer', 'x', '[]', repeat('0', 64))$$, '23CD2', 'audit_log entries are hash-chained');
CALL pg_temp.expect_error($$INSERT INTO audit_log (seq, at, actor_id, actor_name, action, entity_type, entity_id, changed_fields, prev_hash, hash)
    VALUES (3, '2024-01-02T03:04:07Z', 'staff-1', 'S', 'create', 'customer', 'x', '[]', repeat('1', 64), '29b6a8e4268bd510735ec8f97b9b89627cb980c5a1ebe60963258eed562abbde')$$,
    '23505', 'audit_log_hash');
-- A pre-version-4 entry (no hash; written here with the insert trigger off)
-- may receive its hashes once, and nothing else may change.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_hashed;
INSERT INTO audit_log (seq, at, actor_id, actor_name, action, entity_type, entity_id) VALUES (50, '2023-01-01T00:00:00Z', 'old', 'Old', 'create', 'customer', 'x');
ALTER TABLE audit_log ENABLE TRIGGER audit_log_hashed;
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), seq = 51 WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), at = 'x' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), actor_id = 'x' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), actor_name = 'x' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), action = 'x' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), entity_type = 'x' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), entity_id = 'y' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64), changed_fields = '["x"]' WHERE seq = 50$$, '23CD1', 'audit_log is append-only');
UPDATE audit_log SET prev_hash = repeat('2', 64), hash = repeat('3', 64) WHERE seq = 50;
CALL pg_temp.expect_error($$UPDATE audit_log SET hash = repeat('4', 64) WHERE seq = 50$$, '23CD1', 'audit_log is append-only');

-- Append-only tables refuse UPDATE, DELETE and TRUNCATE ----------------------

CALL pg_temp.expect_error($$UPDATE audit_log SET actor_name = 'X' WHERE seq = 1$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$DELETE FROM audit_log WHERE seq = 1$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$TRUNCATE audit_log$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$UPDATE customer_interactions SET body = 'X'$$, '23CD1', 'customer_interactions is append-only');
CALL pg_temp.expect_error($$DELETE FROM customer_interactions$$, '23CD1', 'customer_interactions is append-only');
CALL pg_temp.expect_error($$TRUNCATE customer_interactions$$, '23CD1', 'customer_interactions is append-only');
CALL pg_temp.expect_error($$UPDATE order_events SET kind = 'X'$$, '23CD1', 'order_events is append-only');
CALL pg_temp.expect_error($$DELETE FROM order_events$$, '23CD1', 'order_events is append-only');
CALL pg_temp.expect_error($$TRUNCATE order_events$$, '23CD1', 'order_events is append-only');
CALL pg_temp.expect_error($$UPDATE consent_events SET channel = 'X'$$, '23CD1', 'consent_events is append-only');
CALL pg_temp.expect_error($$DELETE FROM consent_events$$, '23CD1', 'consent_events is append-only');
CALL pg_temp.expect_error($$TRUNCATE consent_events$$, '23CD1', 'consent_events is append-only');
CALL pg_temp.expect_error($$UPDATE privacy_erasures SET actor_id = 'X'$$, '23CD1', 'privacy_erasures is append-only');
CALL pg_temp.expect_error($$DELETE FROM privacy_erasures$$, '23CD1', 'privacy_erasures is append-only');
CALL pg_temp.expect_error($$TRUNCATE privacy_erasures$$, '23CD1', 'privacy_erasures is append-only');
CALL pg_temp.expect_error($$UPDATE customer_merges SET actor_id = 'X'$$, '23CD1', 'customer_merges is append-only');
CALL pg_temp.expect_error($$DELETE FROM customer_merges$$, '23CD1', 'customer_merges is append-only');
CALL pg_temp.expect_error($$TRUNCATE customer_merges$$, '23CD1', 'customer_merges is append-only');
-- (stock_movements: below, once it has rows.)

-- A merge in progress may re-point customer_id of the timelines, and only that.
INSERT INTO customer_merge_in_progress (one) VALUES (1);
CALL pg_temp.expect_error($$INSERT INTO customer_merge_in_progress (one) VALUES (1)$$, '23505');
UPDATE customer_interactions SET customer_id = pg_temp.u(2) WHERE id = pg_temp.u(111);
UPDATE consent_events SET customer_id = pg_temp.u(2) WHERE id = pg_temp.u(701);
CALL pg_temp.expect_error($$UPDATE customer_interactions SET customer_id = pg_temp.u(1), body = 'X'$$, '23CD1', 'customer_interactions is append-only');
CALL pg_temp.expect_error($$UPDATE consent_events SET customer_id = pg_temp.u(1), evidence_reference = NULL$$, '23CD1', 'consent_events is append-only');
CALL pg_temp.expect_error($$DELETE FROM customer_interactions$$, '23CD1', 'customer_interactions is append-only');
CALL pg_temp.expect_error($$UPDATE order_events SET actor_id = 'X'$$, '23CD1', 'order_events is append-only');
DELETE FROM customer_merge_in_progress;
CALL pg_temp.expect_error($$UPDATE customer_interactions SET customer_id = pg_temp.u(1)$$, '23CD1', 'customer_interactions is append-only');
SELECT pg_temp.assert((SELECT customer_id = pg_temp.u(2) FROM customer_interactions WHERE id = pg_temp.u(111))
                AND (SELECT customer_id = pg_temp.u(2) FROM consent_events WHERE id = pg_temp.u(701)),
                'the merge re-pointed both timelines');

-- An erasure in progress may anonymize interactions, consent events and
-- order events, and delete interactions and consent events; never delete
-- order events; the other append-only tables do not give way.
SAVEPOINT erasure;
INSERT INTO privacy_erasure_in_progress DEFAULT VALUES;
UPDATE customer_interactions SET subject = NULL, body = NULL;
UPDATE consent_events SET evidence_reference = NULL;
UPDATE order_events SET actor_id = 'erased';
CALL pg_temp.expect_error($$DELETE FROM order_events$$, '23CD1', 'order_events is append-only');
CALL pg_temp.expect_error($$UPDATE audit_log SET actor_name = 'X' WHERE seq = 1$$, '23CD1', 'audit_log is append-only');
CALL pg_temp.expect_error($$DELETE FROM privacy_erasures$$, '23CD1', 'privacy_erasures is append-only');
CALL pg_temp.expect_error($$DELETE FROM customer_merges$$, '23CD1', 'customer_merges is append-only');
CALL pg_temp.expect_error($$TRUNCATE consent_events$$, '23CD1', 'consent_events is append-only');
DELETE FROM customer_interactions;
DELETE FROM consent_events;
SELECT pg_temp.assert((SELECT count(*) FROM customer_interactions) = 0 AND (SELECT count(*) FROM consent_events) = 0
                AND (SELECT bool_and(actor_id = 'erased') FROM order_events), 'the erasure went through');
DELETE FROM privacy_erasure_in_progress;
ROLLBACK TO SAVEPOINT erasure;

-- The stock ledger computes what SQLite's triggers compute -------------------
-- SQLite 3.40 with migrations 1-7, same statements: after each step
-- (on_hand, reserved) of W-1 at MAIN is 10,0 / 10,3 / 8,1 / 8,0 / 7,0 / 9,0 /
-- 5,0 (and W-1 at SIDE 4,0) / 6,0; the over-reservation and the over-shipment
-- are refused; W-2 (backorder allowed) reserves 5 with nothing on hand.

CREATE PROCEDURE pg_temp.move(v int, w int, kind text, oh bigint, rd bigint, reason text DEFAULT NULL,
                              res int DEFAULT NULL, tr int DEFAULT NULL) LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO stock_movements (variant_id, warehouse_id, kind, on_hand_delta, reserved_delta, reason, reservation_id, order_id, transfer_id, at, actor_id)
    VALUES (pg_temp.u(v), pg_temp.u(w), kind, oh, rd, reason, pg_temp.u(res), NULL, pg_temp.u(tr), '2024-01-02T03:04:05.123456Z', 'staff-1');
END;
CREATE FUNCTION pg_temp.level(v int, w int) RETURNS text LANGUAGE sql STABLE
RETURN (SELECT on_hand || ',' || reserved || ',' || allow_backorder FROM stock_levels
        WHERE variant_id = pg_temp.u(v) AND warehouse_id = pg_temp.u(w));

CALL pg_temp.move(311, 321, 'receipt', 10, 0);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '10,0,0', 'a receipt creates the balance from zero and raises on hand');
CALL pg_temp.move(311, 321, 'reservation', 0, 3, NULL, 401);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '10,3,0', 'a reservation raises reserved');
CALL pg_temp.move(311, 321, 'shipment', -2, -2, NULL, 401);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '8,1,0', 'a shipment lowers both');
CALL pg_temp.move(311, 321, 'release', 0, -1, NULL, 401);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '8,0,0', 'a release lowers reserved');
CALL pg_temp.move(311, 321, 'adjustment', -1, 0, 'damaged');
SELECT pg_temp.assert(pg_temp.level(311, 321) = '7,0,0', 'an adjustment moves on hand');
CALL pg_temp.move(311, 321, 'count', 2, 0);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '9,0,0', 'a count moves on hand');
CALL pg_temp.move(311, 321, 'transfer_out', -4, 0, NULL, NULL, 501);
CALL pg_temp.move(311, 322, 'transfer_in', 4, 0, NULL, NULL, 501);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '5,0,0' AND pg_temp.level(311, 322) = '4,0,0',
                    'a transfer moves stock between warehouses and copies allow_backorder into the new balance');
CALL pg_temp.move(311, 321, 'return', 1, 0);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '6,0,0', 'a return raises on hand');
CALL pg_temp.expect_error($$CALL pg_temp.move(311, 321, 'reservation', 0, 7, NULL, 402)$$, '23514', 'stock_levels_check');
CALL pg_temp.expect_error($$CALL pg_temp.move(311, 321, 'shipment', -7, -7, NULL, 401)$$, '23514');
SELECT pg_temp.assert(pg_temp.level(311, 321) = '6,0,0' AND (SELECT count(*) FROM stock_movements) = 9,
                    'a refused movement leaves neither a ledger row nor a balance change');
CALL pg_temp.move(312, 321, 'reservation', 0, 5, NULL, 403);
SELECT pg_temp.assert(pg_temp.level(312, 321) = '0,5,1', 'a variant that allows backorders may reserve more than on hand');
CALL pg_temp.expect_error($$UPDATE product_variants SET allow_backorder = 0 WHERE id = pg_temp.u(312)$$, '23514', 'stock_levels_check');
UPDATE product_variants SET allow_backorder = 1 WHERE id = pg_temp.u(311);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '6,0,1' AND pg_temp.level(311, 322) = '4,0,1', 'allow_backorder follows the variant');
UPDATE product_variants SET allow_backorder = 0 WHERE id = pg_temp.u(311);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '6,0,0' AND pg_temp.level(311, 322) = '4,0,0', 'allow_backorder follows the variant back');

-- Migration 7's repair, in PostgreSQL's words, on a refunded order holding
-- two reservations (SQLite: 2 + 1 reserved before, 0 after, both released).
INSERT INTO orders (id, number, customer_id, currency, status, subtotal_e4, discount_e4, tax_e4, shipping_e4, total_e4, paid_e4, refunded_e4, placed_at, updated_at)
VALUES (pg_temp.u(602), 2, pg_temp.u(1), 'EUR', 'refunded', 100, 0, 0, 0, 100, 100, 100, '2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z');
INSERT INTO stock_reservations (id, variant_id, warehouse_id, order_id, quantity, open_quantity, created_at) VALUES
    (pg_temp.u(404), pg_temp.u(311), pg_temp.u(321), pg_temp.u(602), 2, 2, '2024-01-02T03:04:05Z'),
    (pg_temp.u(405), pg_temp.u(311), pg_temp.u(322), pg_temp.u(602), 1, 1, '2024-01-02T03:04:05Z');
CALL pg_temp.move(311, 321, 'reservation', 0, 2, NULL, 404);
CALL pg_temp.move(311, 322, 'reservation', 0, 1, NULL, 405);
SELECT pg_temp.assert(pg_temp.level(311, 321) = '6,2,0' AND pg_temp.level(311, 322) = '4,1,0', 'the refunded order holds 2 + 1');
INSERT INTO stock_movements (variant_id, warehouse_id, kind, on_hand_delta, reserved_delta, reason, reservation_id, order_id, transfer_id, at, actor_id)
SELECT r.variant_id, r.warehouse_id, 'release', 0, -r.open_quantity,
       'the order was refunded before it shipped (schema version 7 repair)', r.id, r.order_id, NULL, now(), 'system'
FROM stock_reservations r JOIN orders o ON o.id = r.order_id
WHERE o.status = 'refunded' AND r.open_quantity > 0
ORDER BY r.created_at, r.id;
UPDATE stock_reservations SET open_quantity = 0, closed_at = now(), closed_reason = 'released'
WHERE open_quantity > 0 AND order_id IN (SELECT id FROM orders WHERE status = 'refunded');
SELECT pg_temp.assert(pg_temp.level(311, 321) = '6,0,0' AND pg_temp.level(311, 322) = '4,0,0' AND pg_temp.level(312, 321) = '0,5,1',
                    'the repair releases through the ledger: final balances equal SQLite''s');
SELECT pg_temp.assert((SELECT count(*) = 14 AND sum(on_hand_delta) = 10 AND sum(reserved_delta) = 5 FROM stock_movements),
                    'the ledger equals SQLite''s: 14 movements, on hand +10, reserved +5');
SELECT pg_temp.assert((SELECT sum(on_hand_delta) FROM stock_movements) = (SELECT sum(on_hand) FROM stock_levels)
                AND (SELECT sum(reserved_delta) FROM stock_movements) = (SELECT sum(reserved) FROM stock_levels),
                    'every balance is the sum of its ledger');
SELECT pg_temp.assert((SELECT array_agg(id ORDER BY rowid) FROM stock_reservations) = ARRAY[pg_temp.u(406), pg_temp.u(404), pg_temp.u(405)],
                    'stock_reservations.rowid numbers rows in insertion order');
CALL pg_temp.expect_error($$UPDATE stock_movements SET reason = 'X' WHERE kind = 'adjustment'$$, '23CD1', 'stock_movements is append-only');
CALL pg_temp.expect_error($$DELETE FROM stock_movements WHERE kind = 'adjustment'$$, '23CD1', 'stock_movements is append-only');
CALL pg_temp.expect_error($$TRUNCATE stock_movements$$, '23CD1', 'stock_movements is append-only');
CALL pg_temp.expect_error($$INSERT INTO stock_movements (seq, variant_id, warehouse_id, kind, on_hand_delta, reserved_delta, at, actor_id)
    VALUES (100, pg_temp.u(311), pg_temp.u(321), 'receipt', 1, 0, now(), 'x')$$, '428C9');

-- Full-text search finds what FTS5 finds -------------------------------------
-- SQLite (same customers, fts_query's "term"* AND query, bm25 order, active
-- customers only): ada -> 1, 2, 4; lovelace and lovel -> 2, 4; example ->
-- 3, 2; ada.lovelace@example.com -> 2; jose nunez, NÚÑEZ, josé -> 3; lee ->
-- 6 (not Ashlee); engines -> 2; nobody -> none; ada grace -> 4.

CREATE FUNCTION pg_temp.search(q text) RETURNS text LANGUAGE sql STABLE
RETURN (SELECT coalesce(string_agg(right(id::text, 2)::int::text, ',' ORDER BY rank, pk), '')
        FROM (SELECT c.id, c.pk, custdb_search_rank(c.search_vector, custdb_search_query(q)) AS rank
              FROM customers c
              WHERE c.search_vector @@ custdb_search_query(q) AND c.archived_at IS NULL) s);
CREATE FUNCTION pg_temp.search_set(q text) RETURNS text LANGUAGE sql STABLE
RETURN (SELECT coalesce(string_agg(x, ',' ORDER BY x), '') FROM regexp_split_to_table(nullif(pg_temp.search(q), ''), ',') AS x);

SELECT pg_temp.assert(custdb_search_query('Ada.Lovelace@example.com')::text = $$'ada':* & 'lovelace':* & 'example':* & 'com':*$$,
                    'the query is every word as a required prefix term');
SELECT pg_temp.assert(custdb_search_query($$a' | !b:*$$)::text = $$'a':* & 'b':*$$, 'operators in the input have no effect');
SELECT pg_temp.assert(pg_temp.search('ada') = '1,2,4', 'search by name, best first (display name over notes)');
SELECT pg_temp.assert(pg_temp.search('lovelace') = '2,4', 'family name ranks above notes');
SELECT pg_temp.assert(pg_temp.search('lovel') = '2,4', 'prefix search');
SELECT pg_temp.assert(pg_temp.search_set('example') = '2,3', 'search by a part of the email');
SELECT pg_temp.assert(pg_temp.search('ada.lovelace@example.com') = '2', 'search by the whole email');
SELECT pg_temp.assert(pg_temp.search('jose nunez') = '3' AND pg_temp.search('NÚÑEZ') = '3' AND pg_temp.search('josé') = '3',
                    'case and diacritics are folded as unicode61 remove_diacritics 2 does');
SELECT pg_temp.assert(pg_temp.search('lee') = '6', 'a prefix matches the start of a word only');
SELECT pg_temp.assert(pg_temp.search('engines') = '2', 'company is indexed');
SELECT pg_temp.assert(pg_temp.search('nobody') = '', 'no match, no row');
SELECT pg_temp.assert(pg_temp.search('ada grace') = '4', 'all words are required');
SELECT pg_temp.assert((SELECT count(*) FROM customers WHERE search_vector @@ custdb_search_query('archived')) = 1,
                    'archived customers stay indexed (the query filters them, as on SQLite)');
UPDATE customers SET display_name = 'Augusta King' WHERE id = pg_temp.u(2);
SELECT pg_temp.assert(pg_temp.search('augusta') = '2' AND pg_temp.search('ada') = '1,2,4' AND pg_temp.search('lovelace') = '2,4',
                    'an update re-indexes the row in the same statement');
UPDATE customers SET display_name = 'Erased customer', given_name = NULL, family_name = NULL, email = NULL, company = NULL, notes = NULL
WHERE id = pg_temp.u(2);
SELECT pg_temp.assert(pg_temp.search('lovelace') = '4' AND pg_temp.search('augusta') = '' AND pg_temp.search('erased') = '2',
                    'an erasure leaves no term of the erased values');
SET LOCAL enable_seqscan = off;
SELECT pg_temp.assert((SELECT count(*) FROM customers WHERE search_vector @@ custdb_search_query('hop')) = 1,
                    'the GIN index answers prefix queries');
RESET enable_seqscan;

-- UNIQUE constraints and partial indexes --------------------------------------

CALL pg_temp.expect_error($$INSERT INTO customers (id, display_name, email, created_at, updated_at) VALUES (pg_temp.u(90), 'X', 'jose@example.org', now(), now())$$, '23505', 'customers_email_active');
INSERT INTO customers (id, display_name, email, created_at, updated_at, archived_at)
VALUES (pg_temp.u(91), 'Old Jose', 'jose@example.org', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z');
CALL pg_temp.expect_error($$UPDATE customers SET archived_at = NULL WHERE id = pg_temp.u(91)$$, '23505', 'customers_email_active');
CALL pg_temp.expect_error($$INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (pg_temp.u(1), 'X', now(), now())$$, '23505', 'customers_id_key');
CALL pg_temp.expect_error($$INSERT INTO customer_tags VALUES (pg_temp.u(1), 'vip')$$, '23505', 'customer_tags_pkey');
CALL pg_temp.expect_error($$INSERT INTO customer_addresses (id, customer_id, kind, is_default, line1, city, country, created_at, updated_at)
    VALUES (pg_temp.u(103), pg_temp.u(1), 'shipping', 1, 'x', 'y', 'GB', now(), now())$$, '23505', 'customer_addresses_one_default');
INSERT INTO customer_addresses (id, customer_id, kind, is_default, line1, city, country, created_at, updated_at)
VALUES (pg_temp.u(103), pg_temp.u(1), 'shipping', 0, 'x', 'y', 'GB', now(), now());
CALL pg_temp.expect_error($$INSERT INTO product_variants (id, product_id, sku, barcode, price_e4, currency, track_stock, allow_backorder, created_at, updated_at)
    VALUES (pg_temp.u(313), pg_temp.u(301), 'W-3', '4006381333931', 1, 'EUR', 1, 0, now(), now())$$, '23505', 'product_variants_barcode');
CALL pg_temp.expect_error($$INSERT INTO product_variants (id, product_id, sku, price_e4, currency, track_stock, allow_backorder, created_at, updated_at)
    VALUES (pg_temp.u(313), pg_temp.u(301), 'W-1', 1, 'EUR', 1, 0, now(), now())$$, '23505', 'product_variants_sku_key');
CALL pg_temp.expect_error($$INSERT INTO warehouses (id, code, name, priority, created_at, updated_at) VALUES (pg_temp.u(323), 'MAIN', 'x', 1, now(), now())$$, '23505', 'warehouses_code_key');
CALL pg_temp.expect_error($$UPDATE orders SET number = 1 WHERE id = pg_temp.u(602)$$, '23505', 'orders_number_key');
CALL pg_temp.expect_error($$UPDATE orders SET idempotency_key = 'key-1', request_hash = 'h' WHERE id = pg_temp.u(602)$$, '23505', 'orders_idempotency_key_key');
CALL pg_temp.expect_error($$INSERT INTO order_lines (id, order_id, line_no, variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, tax_e4, total_e4)
    VALUES (pg_temp.u(612), pg_temp.u(601), 1, pg_temp.u(312), 'W-2', 'x', 1, 1, 1, 0, 0, 0, 1)$$, '23505', 'order_lines_order_id_line_no_key');
CALL pg_temp.expect_error($$INSERT INTO order_lines (id, order_id, line_no, variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, tax_e4, total_e4)
    VALUES (pg_temp.u(612), pg_temp.u(601), 2, pg_temp.u(311), 'W-1', 'x', 1, 1, 1, 0, 0, 0, 1)$$, '23505', 'order_lines_order_id_variant_id_key');
CALL pg_temp.expect_error($$INSERT INTO privacy_erasures (customer_id, erased_at, actor_id, ground, rows) VALUES (pg_temp.u(6), now(), 'x', 'retention', '{}')$$, '23505', 'privacy_erasures_customer_id_key');
CALL pg_temp.expect_error($$INSERT INTO customer_merges (survivor_id, merged_id, merged_at, actor_id, moved, fields) VALUES (pg_temp.u(2), pg_temp.u(8), now(), 'x', '{}', '[]')$$, '23505', 'customer_merges_merged_id_key');
CALL pg_temp.expect_error($$INSERT INTO consent_events (id, customer_id, purpose_id, state, collection_method, channel, jurisdiction, language, occurred_at, recorded_at, recorded_by)
    VALUES (pg_temp.u(701), pg_temp.u(1), 'billing', 'given', 'api', 'x', 'EU', 'en', now(), now(), 'x')$$, '23505', 'consent_events_id_key');
CALL pg_temp.expect_error($$INSERT INTO import_keys VALUES ('online-retail', 'customer', '12345', pg_temp.u(2), now())$$, '23505', 'import_keys_pkey');

-- Foreign keys and their ON DELETE behaviour ----------------------------------

CALL pg_temp.expect_error($$INSERT INTO customer_tags VALUES (pg_temp.u(99), 'x')$$, '23503', 'customer_tags_customer_id_fkey');
CALL pg_temp.expect_error($$INSERT INTO order_lines (id, order_id, line_no, variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, tax_e4, total_e4)
    VALUES (pg_temp.u(612), pg_temp.u(601), 2, pg_temp.u(399), 'W-9', 'x', 1, 1, 1, 0, 0, 0, 1)$$, '23503', 'order_lines_variant_id_fkey');
CALL pg_temp.expect_error($$CALL pg_temp.move(399, 321, 'receipt', 1, 0)$$, '23503', 'stock_movements_variant_id_fkey');
CALL pg_temp.expect_error($$INSERT INTO consent_events (id, customer_id, purpose_id, state, collection_method, channel, jurisdiction, language, occurred_at, recorded_at, recorded_by)
    VALUES (pg_temp.u(702), pg_temp.u(1), 'nope', 'given', 'api', 'x', 'EU', 'en', now(), now(), 'x')$$, '23503', 'consent_events_purpose_id_fkey');
CALL pg_temp.expect_error($$UPDATE customers SET merged_into = pg_temp.u(99) WHERE id = pg_temp.u(7)$$, '23503', 'customers_merged_into_fkey');
CALL pg_temp.expect_error($$DELETE FROM customers WHERE id = pg_temp.u(1)$$, '23503');
CALL pg_temp.expect_error($$DELETE FROM orders WHERE id = pg_temp.u(601)$$, '23503');
CALL pg_temp.expect_error($$DELETE FROM product_variants WHERE id = pg_temp.u(311)$$, '23503');
DELETE FROM customers WHERE id = pg_temp.u(7);
SELECT pg_temp.assert((SELECT count(*) FROM customer_tags WHERE customer_id = pg_temp.u(7)) = 0
                AND (SELECT count(*) FROM customer_addresses WHERE customer_id = pg_temp.u(7)) = 0,
                    'deleting a customer cascades to its tags and addresses');

-- Every CHECK refuses a bad row -------------------------------------------------

CALL pg_temp.expect_error($$INSERT INTO privacy_erasure_in_progress (one) VALUES (2)$$, '23514', 'privacy_erasure_in_progress_one_check');
CALL pg_temp.expect_error($$INSERT INTO customer_merge_in_progress (one) VALUES (2)$$, '23514', 'customer_merge_in_progress_one_check');

CALL pg_temp.bad('access_grants', $$actor_id = 'staff-1'$$, '{"actor_id": ""}', 'access_grants_actor_id_check');
CALL pg_temp.bad('access_grants', $$actor_id = 'staff-1'$$, '{"granted_by": ""}', 'access_grants_granted_by_check');
CALL pg_temp.bad('access_grants', $$actor_id = 'staff-1'$$, '{"role": ""}', 'access_grants_role_check');

CALL pg_temp.bad('access_roles', $$name = 'clerk'$$, '{"updated_at": "2000-01-01T00:00:00Z"}', 'access_roles_check');
CALL pg_temp.bad('access_roles', $$name = 'clerk'$$, '{"consent_scope": ""}', 'access_roles_consent_scope_check');
CALL pg_temp.bad('access_roles', $$name = 'clerk'$$, '{"name": ""}', 'access_roles_name_check');
CALL pg_temp.bad('access_roles', $$name = 'clerk'$$, '{"permissions": {}}', 'access_roles_permissions_check');

CALL pg_temp.bad('audit_log', 'seq = 1', '{"action": ""}', 'audit_log_action_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"actor_id": ""}', 'audit_log_actor_id_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"actor_name": ""}', 'audit_log_actor_name_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"changed_fields": "{}"}', 'audit_log_changed_fields_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"changed_fields": "[\"unterminated"}', 'audit_log_changed_fields_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"entity_id": ""}', 'audit_log_entity_id_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"entity_type": ""}', 'audit_log_entity_type_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"hash": "abc"}', 'audit_log_hash_check');
CALL pg_temp.bad('audit_log', 'seq = 1', '{"prev_hash": "abc"}', 'audit_log_prev_hash_check');

CALL pg_temp.bad('consent_events', 'true', '{"channel": ""}', 'consent_events_channel_check');
CALL pg_temp.bad('consent_events', 'true', '{"valid_until": "2024-01-01T00:00:00Z"}', 'consent_events_check');
CALL pg_temp.bad('consent_events', 'true', '{"notice_version": null}', 'consent_events_check1');
CALL pg_temp.bad('consent_events', 'true', '{"collection_method": "fax"}', 'consent_events_collection_method_check');
CALL pg_temp.bad('consent_events', 'true', '{"evidence_reference": ""}', 'consent_events_evidence_reference_check');
CALL pg_temp.bad('consent_events', 'true', '{"jurisdiction": "E"}', 'consent_events_jurisdiction_check');
CALL pg_temp.bad('consent_events', 'true', '{"language": "e"}', 'consent_events_language_check');
CALL pg_temp.bad('consent_events', 'true', '{"notice_hash": "abc"}', 'consent_events_notice_hash_check');
CALL pg_temp.bad('consent_events', 'true', '{"notice_version": ""}', 'consent_events_notice_version_check');
CALL pg_temp.bad('consent_events', 'true', '{"recorded_by": ""}', 'consent_events_recorded_by_check');
CALL pg_temp.bad('consent_events', 'true', '{"state": "maybe"}', 'consent_events_state_check');

CALL pg_temp.bad('consent_notices', 'true', '{"hash": "abc"}', 'consent_notices_hash_check');
CALL pg_temp.bad('consent_notices', 'true', '{"text": ""}', 'consent_notices_text_check');
CALL pg_temp.bad('consent_notices', 'true', '{"version": ""}', 'consent_notices_version_check');

CALL pg_temp.bad('consent_purposes', $$id = 'newsletter'$$, '{"consent_required": 0}', 'consent_purposes_check');
CALL pg_temp.bad('consent_purposes', $$id = 'billing'$$, '{"consent_required": 2}', 'consent_purposes_consent_required_check');
CALL pg_temp.bad('consent_purposes', $$id = 'billing'$$, '{"data_categories": {}}', 'consent_purposes_data_categories_check');
CALL pg_temp.bad('consent_purposes', $$id = 'billing'$$, '{"description": ""}', 'consent_purposes_description_check');
CALL pg_temp.bad('consent_purposes', $$id = 'billing'$$, '{"id": ""}', 'consent_purposes_id_check');
CALL pg_temp.bad('consent_purposes', $$id = 'billing'$$, '{"lawful_basis": "whim"}', 'consent_purposes_lawful_basis_check');

CALL pg_temp.bad('credit_notes', 'true', '{"amount_e4": 0}', 'credit_notes_amount_e4_check');
CALL pg_temp.bad('credit_notes', 'true', '{"country": "gb"}', 'credit_notes_country_check');
CALL pg_temp.bad('credit_notes', 'true', '{"currency": "eur"}', 'credit_notes_currency_check');
CALL pg_temp.bad('credit_notes', 'true', '{"lines": {}}', 'credit_notes_lines_check');
CALL pg_temp.bad('credit_notes', 'true', '{"reason": ""}', 'credit_notes_reason_check');

CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"updated_at": "2000-01-01T00:00:00Z"}', 'customer_addresses_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"city": ""}', 'customer_addresses_city_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"company": ""}', 'customer_addresses_company_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"country": "gb"}', 'customer_addresses_country_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"country": "GBR"}', 'customer_addresses_country_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"is_default": 2}', 'customer_addresses_is_default_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"kind": "home"}', 'customer_addresses_kind_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"label": ""}', 'customer_addresses_label_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"line1": ""}', 'customer_addresses_line1_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"line2": ""}', 'customer_addresses_line2_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"phone": ""}', 'customer_addresses_phone_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"postal_code": ""}', 'customer_addresses_postal_code_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"recipient": ""}', 'customer_addresses_recipient_check');
CALL pg_temp.bad('customer_addresses', 'id = pg_temp.u(101)', '{"region": ""}', 'customer_addresses_region_check');

CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', jsonb_build_object('body', repeat('x', 20001)), 'customer_interactions_body_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"channel": "pigeon"}', 'customer_interactions_channel_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"rating": 3}', 'customer_interactions_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"kind": "review", "rating": 6}', 'customer_interactions_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"direction": "sideways"}', 'customer_interactions_direction_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"kind": "rant"}', 'customer_interactions_kind_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"recorded_by": ""}', 'customer_interactions_recorded_by_check');
CALL pg_temp.bad('customer_interactions', 'id = pg_temp.u(111)', '{"subject": ""}', 'customer_interactions_subject_check');

CALL pg_temp.bad('customer_merges', 'true', '{"actor_id": ""}', 'customer_merges_actor_id_check');
CALL pg_temp.bad('customer_merges', 'true', jsonb_build_object('merged_id', pg_temp.u(1)), 'customer_merges_check');
CALL pg_temp.bad('customer_merges', 'true', '{"fields": {}}', 'customer_merges_fields_check');
CALL pg_temp.bad('customer_merges', 'true', '{"moved": []}', 'customer_merges_moved_check');

CALL pg_temp.bad('customer_tags', $$tag = 'vip'$$, '{"tag": "VIP"}', 'customer_tags_tag_check');
CALL pg_temp.bad('customer_tags', $$tag = 'vip'$$, '{"tag": ""}', 'customer_tags_tag_check');

CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"acquisition_source": ""}', 'customers_acquisition_source_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"attributes": []}', 'customers_attributes_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', jsonb_build_object('attributes', jsonb_build_object('k', repeat('x', 16377))), 'customers_attributes_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"birth_date": "10000-01-01"}', 'customers_birth_date_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"updated_at": "2000-01-01T00:00:00Z"}', 'customers_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"archived_at": "2000-01-01T00:00:00Z"}', 'customers_check1');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"erased_at": "2000-01-01T00:00:00Z"}', 'customers_check2');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"company": ""}', 'customers_company_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"display_name": ""}', 'customers_display_name_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"email": "Ada@example.com"}', 'customers_email_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"email": "a@"}', 'customers_email_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"family_name": ""}', 'customers_family_name_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"given_name": ""}', 'customers_given_name_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"locale": "e"}', 'customers_locale_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', jsonb_build_object('notes', repeat('x', 10001)), 'customers_notes_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"phone": ""}', 'customers_phone_check');
CALL pg_temp.bad('customers', 'id = pg_temp.u(1)', '{"version": 0}', 'customers_version_check');

CALL pg_temp.bad('import_keys', 'true', '{"entity": "thing"}', 'import_keys_entity_check');
CALL pg_temp.bad('import_keys', 'true', '{"key": ""}', 'import_keys_key_check');
CALL pg_temp.bad('import_keys', 'true', '{"source": ""}', 'import_keys_source_check');

CALL pg_temp.bad('order_events', $$kind = 'placed'$$, '{"actor_id": ""}', 'order_events_actor_id_check');
CALL pg_temp.bad('order_events', $$kind = 'placed'$$, '{"kind": ""}', 'order_events_kind_check');

CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"discount_e4": 300000, "total_e4": 0}', 'order_lines_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"total_e4": 1}', 'order_lines_check1');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"quantity_shipped": 3}', 'order_lines_check2');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"quantity_shipped": 0, "quantity_returned": 1}', 'order_lines_check3');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"line_no": 0}', 'order_lines_line_no_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"quantity": 1000001}', 'order_lines_quantity_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"sku": ""}', 'order_lines_sku_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"subtotal_e4": -1, "discount_e4": 0, "total_e4": 49999}', 'order_lines_subtotal_e4_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"tax_e4": -1, "total_e4": 249999}', 'order_lines_tax_e4_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"tax_rate_ppm": 1000001}', 'order_lines_tax_rate_ppm_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"title": ""}', 'order_lines_title_check');
CALL pg_temp.bad('order_lines', 'id = pg_temp.u(611)', '{"unit_price_e4": -1}', 'order_lines_unit_price_e4_check');

CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"discount_e4": 300000, "total_e4": 5000, "paid_e4": 0, "refunded_e4": 0}', 'orders_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"total_e4": 400000}', 'orders_check1');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"paid_e4": 305001}', 'orders_check2');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"refunded_e4": 305001}', 'orders_check3');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"request_hash": null}', 'orders_check4');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"idempotency_key": null}', 'orders_check4');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"updated_at": "2000-01-01T00:00:00Z"}', 'orders_check5');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"customer_id": null}', 'orders_check6');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"guest_email": "guest@example.org"}', 'orders_check6');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"country": "gb"}', 'orders_country_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"currency": "eur"}', 'orders_currency_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"customer_id": null, "guest_email": "Guest@example.org"}', 'orders_guest_email_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"idempotency_key": ""}', 'orders_idempotency_key_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', jsonb_build_object('note', repeat('x', 2001)), 'orders_note_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"number": 0}', 'orders_number_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"shipping_e4": -1, "total_e4": 299999, "paid_e4": 0}', 'orders_shipping_e4_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"status": "lost"}', 'orders_status_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"subtotal_e4": -1, "total_e4": 54999, "paid_e4": 0}', 'orders_subtotal_e4_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"tax_e4": -1, "total_e4": 254999, "paid_e4": 0}', 'orders_tax_e4_check');
CALL pg_temp.bad('orders', 'id = pg_temp.u(601)', '{"version": 0}', 'orders_version_check');

CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"amount_e4": 0}', 'payments_amount_e4_check');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"refunded_e4": -1}', 'payments_check');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"updated_at": "2000-01-01T00:00:00Z"}', 'payments_check1');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"status": "authorized", "refunded_e4": 1000}', 'payments_check2');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"status": "refunded"}', 'payments_check3');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"refunded_e4": 305000}', 'payments_check3');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"currency": "eur"}', 'payments_currency_check');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"method": "iou"}', 'payments_method_check');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"provider": ""}', 'payments_provider_check');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"provider_reference": ""}', 'payments_provider_reference_check');
CALL pg_temp.bad('payments', 'id = pg_temp.u(621)', '{"status": "lost"}', 'payments_status_check');

CALL pg_temp.bad('privacy_erasures', 'true', '{"actor_id": ""}', 'privacy_erasures_actor_id_check');
CALL pg_temp.bad('privacy_erasures', 'true', '{"ground": "whim"}', 'privacy_erasures_ground_check');
CALL pg_temp.bad('privacy_erasures', 'true', '{"rows": []}', 'privacy_erasures_rows_check');

CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"allow_backorder": 2}', 'product_variants_allow_backorder_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"barcode": ""}', 'product_variants_barcode_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"updated_at": "2000-01-01T00:00:00Z"}', 'product_variants_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"archived_at": "2000-01-01T00:00:00Z"}', 'product_variants_check1');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"currency": "EU"}', 'product_variants_currency_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"options": "S"}', 'product_variants_options_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', jsonb_build_object('options', jsonb_build_object('k', repeat('x', 2041))), 'product_variants_options_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"price_e4": 1000000000001}', 'product_variants_price_e4_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"sku": ""}', 'product_variants_sku_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"title": ""}', 'product_variants_title_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"track_stock": -1}', 'product_variants_track_stock_check');
CALL pg_temp.bad('product_variants', 'id = pg_temp.u(311)', '{"version": 0}', 'product_variants_version_check');

CALL pg_temp.bad('products', 'true', '{"updated_at": "2000-01-01T00:00:00Z"}', 'products_check');
CALL pg_temp.bad('products', 'true', '{"archived_at": "2000-01-01T00:00:00Z"}', 'products_check1');
CALL pg_temp.bad('products', 'true', jsonb_build_object('description', repeat('x', 10001)), 'products_description_check');
CALL pg_temp.bad('products', 'true', '{"name": ""}', 'products_name_check');
CALL pg_temp.bad('products', 'true', '{"version": 0}', 'products_version_check');

CALL pg_temp.bad('refunds', 'true', '{"amount_e4": 0}', 'refunds_amount_e4_check');
CALL pg_temp.bad('refunds', 'true', '{"reason": ""}', 'refunds_reason_check');

CALL pg_temp.bad('replenishment_rules', 'true', '{"target_level": 5}', 'replenishment_rules_check');
CALL pg_temp.bad('replenishment_rules', 'true', '{"order_multiple": 0}', 'replenishment_rules_order_multiple_check');
CALL pg_temp.bad('replenishment_rules', 'true', '{"reorder_point": -1}', 'replenishment_rules_reorder_point_check');

CALL pg_temp.bad('retention_rules', 'true', '{"category": "forever"}', 'retention_rules_category_check');
CALL pg_temp.bad('retention_rules', 'true', '{"period_days": 36601}', 'retention_rules_period_days_check');

CALL pg_temp.bad('return_lines', 'true', '{"warehouse_id": null}', 'return_lines_check');
CALL pg_temp.bad('return_lines', 'true', '{"restock": 0}', 'return_lines_check');
CALL pg_temp.bad('return_lines', 'true', '{"quantity": 0}', 'return_lines_quantity_check');
CALL pg_temp.bad('return_lines', 'true', '{"restock": 2}', 'return_lines_restock_check');

CALL pg_temp.bad('returns', 'true', '{"reason": ""}', 'returns_reason_check');

CALL pg_temp.bad('saved_segments', 'true', '{"updated_at": "2000-01-01T00:00:00Z"}', 'saved_segments_check');
CALL pg_temp.bad('saved_segments', 'true', '{"definition": ["tag"]}', 'saved_segments_definition_check');
CALL pg_temp.bad('saved_segments', 'true', '{"name": ""}', 'saved_segments_name_check');

CALL pg_temp.bad('shipment_lines', 'true', '{"quantity": 0}', 'shipment_lines_quantity_check');

CALL pg_temp.bad('shipments', 'true', '{"carrier": ""}', 'shipments_carrier_check');
CALL pg_temp.bad('shipments', 'true', '{"delivered_at": "2024-01-02T00:00:00Z"}', 'shipments_check');
CALL pg_temp.bad('shipments', 'true', '{"tracking_number": ""}', 'shipments_tracking_number_check');

CALL pg_temp.bad('stock_levels', 'variant_id = pg_temp.u(311) AND warehouse_id = pg_temp.u(321)', '{"allow_backorder": 2}', 'stock_levels_allow_backorder_check');
CALL pg_temp.bad('stock_levels', 'variant_id = pg_temp.u(311) AND warehouse_id = pg_temp.u(321)', '{"reserved": 7}', 'stock_levels_check');
CALL pg_temp.bad('stock_levels', 'variant_id = pg_temp.u(312) AND warehouse_id = pg_temp.u(321)', '{"on_hand": -1}', 'stock_levels_on_hand_check');
CALL pg_temp.bad('stock_levels', 'variant_id = pg_temp.u(311) AND warehouse_id = pg_temp.u(321)', '{"reserved": -1}', 'stock_levels_reserved_check');

CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"actor_id": ""}', 'stock_movements_actor_id_check');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"kind": "count", "on_hand_delta": 0}', 'stock_movements_check');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"on_hand_delta": -1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"kind": "return", "reserved_delta": 1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"kind": "transfer_in"}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"kind": "transfer_out", "on_hand_delta": -1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"kind": "reservation", "on_hand_delta": 0, "reserved_delta": 1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 1', '{"on_hand_delta": 1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 3', '{"reservation_id": null}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 2', '{"reserved_delta": -1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 4', '{"reason": null}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 5', '{"reserved_delta": 1}', 'stock_movements_check1');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"kind": "theft"}', 'stock_movements_kind_check');
CALL pg_temp.bad('stock_movements', 'seq = (SELECT min(seq) FROM stock_movements) + 0', '{"reason": ""}', 'stock_movements_reason_check');

CALL pg_temp.bad('stock_reservations', 'id = pg_temp.u(406)', '{"open_quantity": 3}', 'stock_reservations_check');
CALL pg_temp.bad('stock_reservations', 'id = pg_temp.u(406)', '{"closed_at": "2024-01-03T00:00:00Z", "closed_reason": "released"}', 'stock_reservations_check1');
CALL pg_temp.bad('stock_reservations', 'id = pg_temp.u(404)', '{"closed_reason": null}', 'stock_reservations_check2');
CALL pg_temp.bad('stock_reservations', 'id = pg_temp.u(404)', '{"closed_reason": "lost"}', 'stock_reservations_closed_reason_check');
CALL pg_temp.bad('stock_reservations', 'id = pg_temp.u(406)', '{"quantity": 0, "open_quantity": 0}', 'stock_reservations_quantity_check');

CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"updated_at": "2000-01-01T00:00:00Z"}', 'warehouses_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"city": ""}', 'warehouses_city_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"code": "main"}', 'warehouses_code_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"country": "de"}', 'warehouses_country_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"line1": ""}', 'warehouses_line1_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"name": ""}', 'warehouses_name_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"postal_code": ""}', 'warehouses_postal_code_check');
CALL pg_temp.bad('warehouses', 'id = pg_temp.u(321)', '{"priority": 1000001}', 'warehouses_priority_check');

-- Lower/upper CHECKs fold ASCII only, as SQLite's built-in lower()/upper():
-- a non-ASCII capital passes on both engines, whatever the database locale.
INSERT INTO customer_tags (customer_id, tag) VALUES (pg_temp.u(1), 'élan-É');

DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(c.conname, ', ' ORDER BY c.conname) INTO missing
    FROM pg_constraint c
    WHERE c.contype = 'c' AND c.connamespace = 'public'::regnamespace
      AND c.conname NOT IN (SELECT con FROM hit);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'RULE DOES NOT HOLD: CHECK constraints not shown to refuse a bad row: %', missing;
    END IF;
    RAISE WARNING 'check_baseline: all rules hold (% CHECK constraints each refused a bad row)',
        (SELECT count(DISTINCT con) FROM hit);
END
$$;

ROLLBACK;
