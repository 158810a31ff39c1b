-- custdb schema version 16: store credit (docs/BALANCES.md). Each
-- customer has at most one account per currency; its balance moves only
-- with an entry of its append-only ledger, and neither goes below zero.
-- A payment may now be made with store credit (method `store_credit`),
-- and a refund records where its money went (`refunds.destination`,
-- added by the migration's code).

-- SQLite cannot change a CHECK in place: `payments` is rebuilt (the
-- runner turns foreign keys off around this migration and runs
-- foreign_key_check before committing).
CREATE TABLE payments_v16 (
    id                  TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    order_id            TEXT NOT NULL REFERENCES orders (id),
    method              TEXT NOT NULL CHECK (method IN ('card', 'bank_transfer', 'cash', 'wallet', 'gift_card', 'store_credit', 'loyalty_points', 'invoice', 'other')),
    provider            TEXT CHECK (length(provider) BETWEEN 1 AND 64),
    provider_reference  TEXT CHECK (length(provider_reference) BETWEEN 1 AND 128),
    amount_e4           INTEGER NOT NULL CHECK (amount_e4 > 0),
    currency            TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    status              TEXT NOT NULL CHECK (status IN ('authorized', 'captured', 'refunded', 'failed')),
    refunded_e4         INTEGER NOT NULL DEFAULT 0 CHECK (refunded_e4 BETWEEN 0 AND amount_e4),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL CHECK (updated_at >= created_at),
    CHECK (refunded_e4 = 0 OR status IN ('captured', 'refunded')),
    CHECK ((status = 'refunded') = (refunded_e4 = amount_e4))
) STRICT;
INSERT INTO payments_v16 (id, order_id, method, provider, provider_reference, amount_e4,
    currency, status, refunded_e4, created_at, updated_at)
SELECT id, order_id, method, provider, provider_reference, amount_e4, currency, status,
    refunded_e4, created_at, updated_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_v16 RENAME TO payments;
CREATE INDEX IF NOT EXISTS payments_order ON payments (order_id, created_at);

CREATE TABLE IF NOT EXISTS store_credit_accounts (
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    currency     TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    balance_e4   INTEGER NOT NULL CHECK (balance_e4 BETWEEN 0 AND 10000000000),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    PRIMARY KEY (customer_id, currency)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS store_credit_entries (
    customer_id     TEXT NOT NULL,
    currency        TEXT NOT NULL,
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    kind            TEXT NOT NULL CHECK (kind IN ('credit_note', 'refund', 'spend', 'adjust', 'transfer')),
    amount_e4       INTEGER NOT NULL CHECK (amount_e4 <> 0),
    balance_e4      INTEGER NOT NULL CHECK (balance_e4 >= 0),
    order_id        TEXT REFERENCES orders (id),
    payment_id      TEXT REFERENCES payments (id),
    refund_id       TEXT REFERENCES refunds (id),
    credit_note_id  TEXT REFERENCES credit_notes (id),
    other_customer_id TEXT REFERENCES customers (id),
    reason          TEXT CHECK (length(reason) BETWEEN 1 AND 200),
    created_at      TEXT NOT NULL,
    PRIMARY KEY (customer_id, currency, seq),
    FOREIGN KEY (customer_id, currency) REFERENCES store_credit_accounts (customer_id, currency),
    CHECK (kind <> 'spend' OR (amount_e4 < 0 AND payment_id IS NOT NULL AND refund_id IS NULL)),
    CHECK (kind <> 'refund' OR (amount_e4 > 0 AND payment_id IS NOT NULL AND refund_id IS NOT NULL)),
    CHECK (kind <> 'credit_note' OR (amount_e4 > 0 AND credit_note_id IS NOT NULL)),
    CHECK (kind <> 'adjust' OR reason IS NOT NULL),
    CHECK (kind <> 'transfer' OR other_customer_id IS NOT NULL)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS store_credit_entries_payment
    ON store_credit_entries (payment_id) WHERE payment_id IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS store_credit_entries_no_update BEFORE UPDATE ON store_credit_entries
BEGIN SELECT RAISE(ABORT, 'store_credit_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS store_credit_entries_no_delete BEFORE DELETE ON store_credit_entries
BEGIN SELECT RAISE(ABORT, 'store_credit_entries is append-only'); END;
