-- custdb schema version 15 on PostgreSQL: gift cards, as the SQLite
-- track's 0015_gift_cards.sql; the ledger is append-only as
-- stock_movements is (UPDATE, DELETE and TRUNCATE refused; the runtime
-- role gets no UPDATE or DELETE on it).

CREATE TABLE IF NOT EXISTS gift_cards (
    id           uuid PRIMARY KEY,
    code_sha256  text COLLATE "C" NOT NULL UNIQUE CHECK (length(code_sha256) = 64),
    code_last4   text COLLATE "C" NOT NULL CHECK (length(code_last4) = 4),
    currency     text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    initial_e4   bigint NOT NULL CHECK (initial_e4 BETWEEN 1 AND 10000000000),
    balance_e4   bigint NOT NULL CHECK (balance_e4 BETWEEN 0 AND 10000000000),
    expires_at   timestamptz,
    active       bigint NOT NULL CHECK (active IN (0, 1)),
    note         text COLLATE "C" CHECK (length(note) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL CHECK (updated_at >= created_at),
    version      bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);

CREATE TABLE IF NOT EXISTS gift_card_entries (
    gift_card_id  uuid NOT NULL REFERENCES gift_cards (id),
    seq           bigint NOT NULL CHECK (seq >= 1),
    kind          text COLLATE "C" NOT NULL CHECK (kind IN ('issue', 'redeem', 'refund', 'adjust')),
    amount_e4     bigint NOT NULL CHECK (amount_e4 <> 0),
    balance_e4    bigint NOT NULL CHECK (balance_e4 >= 0),
    order_id      uuid REFERENCES orders (id),
    payment_id    uuid REFERENCES payments (id),
    refund_id     uuid REFERENCES refunds (id),
    reason        text COLLATE "C" CHECK (length(reason) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (gift_card_id, seq),
    CHECK ((kind = 'redeem') = (amount_e4 < 0 AND payment_id IS NOT NULL AND refund_id IS NULL)
           OR kind IN ('adjust', 'issue', 'refund')),
    CHECK (kind <> 'refund' OR (amount_e4 > 0 AND refund_id IS NOT NULL AND payment_id IS NOT NULL)),
    CHECK (kind <> 'issue' OR amount_e4 > 0)
);
CREATE INDEX IF NOT EXISTS gift_card_entries_payment
    ON gift_card_entries (payment_id) WHERE payment_id IS NOT NULL;

CREATE OR REPLACE FUNCTION gift_card_entries_no_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gift_card_entries is append-only' USING ERRCODE = '23CD1';
END
$$;
DROP TRIGGER IF EXISTS gift_card_entries_no_update ON gift_card_entries;
CREATE TRIGGER gift_card_entries_no_update BEFORE UPDATE ON gift_card_entries
    FOR EACH ROW EXECUTE FUNCTION gift_card_entries_no_change();
DROP TRIGGER IF EXISTS gift_card_entries_no_delete ON gift_card_entries;
CREATE TRIGGER gift_card_entries_no_delete BEFORE DELETE ON gift_card_entries
    FOR EACH ROW EXECUTE FUNCTION gift_card_entries_no_change();
DROP TRIGGER IF EXISTS gift_card_entries_no_truncate ON gift_card_entries;
CREATE TRIGGER gift_card_entries_no_truncate BEFORE TRUNCATE ON gift_card_entries
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
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON gift_cards TO %I', r.grantee);
        EXECUTE format('GRANT SELECT, INSERT ON gift_card_entries TO %I', r.grantee);
    END LOOP;
END
$$;
