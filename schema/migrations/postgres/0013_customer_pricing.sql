-- custdb schema version 13 on PostgreSQL: what pricing knows of a
-- customer, and what an order line keeps of its pricing, as the SQLite
-- track's 0013_customer_pricing.sql. The two new tables are a customer's
-- personal data, so erasure's function is written again from the
-- personal-data map (dropped first: the map's text creates it).

CREATE TABLE IF NOT EXISTS customer_group_members (
    group_id     uuid NOT NULL REFERENCES customer_groups (id),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    valid_from   timestamptz,
    valid_until  timestamptz CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from),
    added_at     timestamptz NOT NULL,
    PRIMARY KEY (group_id, customer_id)
);
CREATE INDEX IF NOT EXISTS customer_group_members_customer
    ON customer_group_members (customer_id, group_id);

CREATE TABLE IF NOT EXISTS customer_tax_exemptions (
    customer_id  uuid PRIMARY KEY REFERENCES customers (id),
    vat_id       text COLLATE "C" NOT NULL CHECK (length(vat_id) BETWEEN 1 AND 32),
    reason       text COLLATE "C" NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL
);

ALTER TABLE order_lines ADD COLUMN IF NOT EXISTS prices_include_tax bigint NOT NULL DEFAULT 0
    CHECK (prices_include_tax IN (0, 1));
ALTER TABLE order_lines ADD COLUMN IF NOT EXISTS price_source text COLLATE "C"
    CHECK (length(price_source) BETWEEN 2 AND 2048);

DROP FUNCTION IF EXISTS custdb_erase_subject(uuid, timestamptz, text, text);
DROP FUNCTION IF EXISTS custdb_retention_apply(text, timestamptz);
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
    DELETE FROM customer_group_members WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('customer_group_members', v_rows); END IF;
    DELETE FROM customer_tax_exemptions WHERE customer_id = p_subject;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows > 0 THEN v_counts := v_counts || jsonb_build_object('customer_tax_exemptions', v_rows); END IF;
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

-- The application's role gets what it needs on the new tables and its
-- EXECUTE on the functions back, as Store::grant_runtime_privileges gives.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'audit_log'
          AND privilege_type = 'INSERT' AND grantee <> current_user
          AND grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON customer_group_members, customer_tax_exemptions TO %I', r.grantee);
        EXECUTE format('GRANT EXECUTE ON FUNCTION custdb_erase_subject(uuid, timestamptz, text, text), custdb_retention_apply(text, timestamptz) TO %I', r.grantee);
    END LOOP;
END
$$;
