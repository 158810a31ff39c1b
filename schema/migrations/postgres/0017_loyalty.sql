-- custdb schema version 17 on PostgreSQL: loyalty points, as the SQLite
-- track's 0017_loyalty.sql; the ledger is append-only as
-- gift_card_entries is.

CREATE TABLE IF NOT EXISTS loyalty_rules (
    currency            text COLLATE "C" PRIMARY KEY CHECK (length(currency) = 3 AND currency = upper(currency)),
    points_per_unit_e4  bigint NOT NULL CHECK (points_per_unit_e4 BETWEEN 0 AND 10000000),
    point_value_e4      bigint NOT NULL CHECK (point_value_e4 BETWEEN 1 AND 10000000),
    expires_after_days  bigint CHECK (expires_after_days BETWEEN 1 AND 3660),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL CHECK (updated_at >= created_at),
    version             bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);

CREATE TABLE IF NOT EXISTS loyalty_accounts (
    customer_id  uuid PRIMARY KEY REFERENCES customers (id),
    points       bigint NOT NULL CHECK (points BETWEEN 0 AND 1000000000),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL CHECK (updated_at >= created_at),
    version      bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);

CREATE TABLE IF NOT EXISTS loyalty_entries (
    customer_id        uuid NOT NULL REFERENCES loyalty_accounts (customer_id),
    seq                bigint NOT NULL CHECK (seq >= 1),
    kind               text COLLATE "C" NOT NULL CHECK (kind IN ('earn', 'reverse', 'spend', 'refund', 'adjust', 'expire', 'transfer')),
    points             bigint NOT NULL CHECK (points <> 0),
    balance            bigint NOT NULL CHECK (balance >= 0),
    order_id           uuid REFERENCES orders (id),
    payment_id         uuid REFERENCES payments (id),
    refund_id          uuid REFERENCES refunds (id),
    other_customer_id  uuid REFERENCES customers (id),
    currency           text COLLATE "C" CHECK (length(currency) = 3 AND currency = upper(currency)),
    base_e4            bigint CHECK (base_e4 > 0),
    expires_at         timestamptz,
    reason             text COLLATE "C" CHECK (length(reason) BETWEEN 1 AND 200),
    created_at         timestamptz NOT NULL,
    PRIMARY KEY (customer_id, seq),
    CHECK (kind <> 'earn' OR (points > 0 AND order_id IS NOT NULL AND base_e4 IS NOT NULL AND currency IS NOT NULL)),
    CHECK (kind <> 'reverse' OR (points < 0 AND order_id IS NOT NULL AND refund_id IS NOT NULL)),
    CHECK (kind <> 'spend' OR (points < 0 AND payment_id IS NOT NULL)),
    CHECK (kind <> 'refund' OR (points > 0 AND payment_id IS NOT NULL AND refund_id IS NOT NULL)),
    CHECK (kind <> 'adjust' OR reason IS NOT NULL),
    CHECK (kind <> 'expire' OR points < 0),
    CHECK (kind <> 'transfer' OR other_customer_id IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS loyalty_entries_order
    ON loyalty_entries (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS loyalty_entries_payment
    ON loyalty_entries (payment_id) WHERE payment_id IS NOT NULL;

CREATE OR REPLACE FUNCTION loyalty_entries_no_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_entries is append-only' USING ERRCODE = '23CD1';
END
$$;
DROP TRIGGER IF EXISTS loyalty_entries_no_update ON loyalty_entries;
CREATE TRIGGER loyalty_entries_no_update BEFORE UPDATE ON loyalty_entries
    FOR EACH ROW EXECUTE FUNCTION loyalty_entries_no_change();
DROP TRIGGER IF EXISTS loyalty_entries_no_delete ON loyalty_entries;
CREATE TRIGGER loyalty_entries_no_delete BEFORE DELETE ON loyalty_entries
    FOR EACH ROW EXECUTE FUNCTION loyalty_entries_no_change();
DROP TRIGGER IF EXISTS loyalty_entries_no_truncate ON loyalty_entries;
CREATE TRIGGER loyalty_entries_no_truncate BEFORE TRUNCATE ON loyalty_entries
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

CREATE TABLE IF NOT EXISTS loyalty_lots (
    customer_id  uuid NOT NULL,
    seq          bigint NOT NULL,
    points_left  bigint NOT NULL CHECK (points_left >= 0),
    expires_at   timestamptz,
    PRIMARY KEY (customer_id, seq),
    FOREIGN KEY (customer_id, seq) REFERENCES loyalty_entries (customer_id, seq)
);
CREATE INDEX IF NOT EXISTS loyalty_lots_due
    ON loyalty_lots (expires_at) WHERE points_left > 0 AND expires_at IS NOT NULL;

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
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON loyalty_rules TO %I', r.grantee);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON loyalty_accounts TO %I', r.grantee);
        EXECUTE format('GRANT SELECT, INSERT ON loyalty_entries TO %I', r.grantee);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON loyalty_lots TO %I', r.grantee);
    END LOOP;
END
$$;
