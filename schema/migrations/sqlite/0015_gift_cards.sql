-- custdb schema version 15: gift cards (docs/BALANCES.md). A card keeps a
-- SHA-256 of its code and the code's last four characters, never the
-- code; its balance moves only with an entry of its append-only ledger,
-- and neither goes below zero.

CREATE TABLE IF NOT EXISTS gift_cards (
    id           TEXT PRIMARY KEY NOT NULL,
    code_sha256  TEXT NOT NULL UNIQUE CHECK (length(code_sha256) = 64),
    code_last4   TEXT NOT NULL CHECK (length(code_last4) = 4),
    currency     TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    initial_e4   INTEGER NOT NULL CHECK (initial_e4 BETWEEN 1 AND 10000000000),
    balance_e4   INTEGER NOT NULL CHECK (balance_e4 BETWEEN 0 AND 10000000000),
    expires_at   TEXT,
    active       INTEGER NOT NULL CHECK (active IN (0, 1)),
    note         TEXT CHECK (length(note) BETWEEN 1 AND 200),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;

CREATE TABLE IF NOT EXISTS gift_card_entries (
    gift_card_id  TEXT NOT NULL REFERENCES gift_cards (id),
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    kind          TEXT NOT NULL CHECK (kind IN ('issue', 'redeem', 'refund', 'adjust')),
    amount_e4     INTEGER NOT NULL CHECK (amount_e4 <> 0),
    balance_e4    INTEGER NOT NULL CHECK (balance_e4 >= 0),
    order_id      TEXT REFERENCES orders (id),
    payment_id    TEXT REFERENCES payments (id),
    refund_id     TEXT REFERENCES refunds (id),
    reason        TEXT CHECK (length(reason) BETWEEN 1 AND 200),
    created_at    TEXT NOT NULL,
    PRIMARY KEY (gift_card_id, seq),
    CHECK ((kind = 'redeem') = (amount_e4 < 0 AND payment_id IS NOT NULL AND refund_id IS NULL)
           OR kind IN ('adjust', 'issue', 'refund')),
    CHECK (kind <> 'refund' OR (amount_e4 > 0 AND refund_id IS NOT NULL AND payment_id IS NOT NULL)),
    CHECK (kind <> 'issue' OR amount_e4 > 0)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gift_card_entries_payment
    ON gift_card_entries (payment_id) WHERE payment_id IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS gift_card_entries_no_update BEFORE UPDATE ON gift_card_entries
BEGIN SELECT RAISE(ABORT, 'gift_card_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gift_card_entries_no_delete BEFORE DELETE ON gift_card_entries
BEGIN SELECT RAISE(ABORT, 'gift_card_entries is append-only'); END;
