-- custdb schema version 16 on PostgreSQL: store credit, as the SQLite
-- track's 0016_store_credit.sql. PostgreSQL changes the payment methods'
-- CHECK in place; the ledger is append-only as gift_card_entries is.

ALTER TABLE payments DROP CONSTRAINT payments_method_check;
ALTER TABLE payments ADD CONSTRAINT payments_method_check CHECK (method IN ('card', 'bank_transfer', 'cash', 'wallet', 'gift_card', 'store_credit', 'loyalty_points', 'invoice', 'other'));

ALTER TABLE refunds ADD COLUMN IF NOT EXISTS destination text COLLATE "C" NOT NULL DEFAULT 'payment'
    CHECK (destination IN ('payment', 'gift_card', 'store_credit', 'loyalty_points'));
UPDATE refunds SET destination = 'gift_card'
WHERE destination = 'payment'
  AND id IN (SELECT refund_id FROM gift_card_entries WHERE kind = 'refund');

CREATE TABLE IF NOT EXISTS store_credit_accounts (
    customer_id  uuid NOT NULL REFERENCES customers (id),
    currency     text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    balance_e4   bigint NOT NULL CHECK (balance_e4 BETWEEN 0 AND 10000000000),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL CHECK (updated_at >= created_at),
    version      bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    PRIMARY KEY (customer_id, currency)
);

CREATE TABLE IF NOT EXISTS store_credit_entries (
    customer_id     uuid NOT NULL,
    currency        text COLLATE "C" NOT NULL,
    seq             bigint NOT NULL CHECK (seq >= 1),
    kind            text COLLATE "C" NOT NULL CHECK (kind IN ('credit_note', 'refund', 'spend', 'adjust', 'transfer')),
    amount_e4       bigint NOT NULL CHECK (amount_e4 <> 0),
    balance_e4      bigint NOT NULL CHECK (balance_e4 >= 0),
    order_id        uuid REFERENCES orders (id),
    payment_id      uuid REFERENCES payments (id),
    refund_id       uuid REFERENCES refunds (id),
    credit_note_id  uuid REFERENCES credit_notes (id),
    other_customer_id uuid REFERENCES customers (id),
    reason          text COLLATE "C" CHECK (length(reason) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (customer_id, currency, seq),
    FOREIGN KEY (customer_id, currency) REFERENCES store_credit_accounts (customer_id, currency),
    CHECK (kind <> 'spend' OR (amount_e4 < 0 AND payment_id IS NOT NULL AND refund_id IS NULL)),
    CHECK (kind <> 'refund' OR (amount_e4 > 0 AND payment_id IS NOT NULL AND refund_id IS NOT NULL)),
    CHECK (kind <> 'credit_note' OR (amount_e4 > 0 AND credit_note_id IS NOT NULL)),
    CHECK (kind <> 'adjust' OR reason IS NOT NULL),
    CHECK (kind <> 'transfer' OR other_customer_id IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS store_credit_entries_payment
    ON store_credit_entries (payment_id) WHERE payment_id IS NOT NULL;

CREATE OR REPLACE FUNCTION store_credit_entries_no_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'store_credit_entries is append-only' USING ERRCODE = '23CD1';
END
$$;
DROP TRIGGER IF EXISTS store_credit_entries_no_update ON store_credit_entries;
CREATE TRIGGER store_credit_entries_no_update BEFORE UPDATE ON store_credit_entries
    FOR EACH ROW EXECUTE FUNCTION store_credit_entries_no_change();
DROP TRIGGER IF EXISTS store_credit_entries_no_delete ON store_credit_entries;
CREATE TRIGGER store_credit_entries_no_delete BEFORE DELETE ON store_credit_entries
    FOR EACH ROW EXECUTE FUNCTION store_credit_entries_no_change();
DROP TRIGGER IF EXISTS store_credit_entries_no_truncate ON store_credit_entries;
CREATE TRIGGER store_credit_entries_no_truncate BEFORE TRUNCATE ON store_credit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION custdb_refuse_truncate();

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
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON store_credit_accounts TO %I', r.grantee);
        EXECUTE format('GRANT SELECT, INSERT ON store_credit_entries TO %I', r.grantee);
    END LOOP;
END
$$;
