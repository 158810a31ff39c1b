-- custdb schema version 17: loyalty points (docs/BALANCES.md). A rule
-- per currency says how many points a paid order earns and what a point
-- is worth when spent; each customer's points move only with an entry of
-- an append-only ledger, never below zero; the points an entry granted
-- are a lot that expires on its own date and is spent soonest-expiring
-- first.

CREATE TABLE IF NOT EXISTS loyalty_rules (
    currency            TEXT PRIMARY KEY NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    points_per_unit_e4  INTEGER NOT NULL CHECK (points_per_unit_e4 BETWEEN 0 AND 10000000),
    point_value_e4      INTEGER NOT NULL CHECK (point_value_e4 BETWEEN 1 AND 10000000),
    expires_after_days  INTEGER CHECK (expires_after_days BETWEEN 1 AND 3660),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL CHECK (updated_at >= created_at),
    version             INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;

CREATE TABLE IF NOT EXISTS loyalty_accounts (
    customer_id  TEXT PRIMARY KEY NOT NULL REFERENCES customers (id),
    points       INTEGER NOT NULL CHECK (points BETWEEN 0 AND 1000000000),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS loyalty_entries (
    customer_id        TEXT NOT NULL REFERENCES loyalty_accounts (customer_id),
    seq                INTEGER NOT NULL CHECK (seq >= 1),
    kind               TEXT NOT NULL CHECK (kind IN ('earn', 'reverse', 'spend', 'refund', 'adjust', 'expire', 'transfer')),
    points             INTEGER NOT NULL CHECK (points <> 0),
    balance            INTEGER NOT NULL CHECK (balance >= 0),
    order_id           TEXT REFERENCES orders (id),
    payment_id         TEXT REFERENCES payments (id),
    refund_id          TEXT REFERENCES refunds (id),
    other_customer_id  TEXT REFERENCES customers (id),
    currency           TEXT CHECK (length(currency) = 3 AND currency = upper(currency)),
    base_e4            INTEGER CHECK (base_e4 > 0),
    expires_at         TEXT,
    reason             TEXT CHECK (length(reason) BETWEEN 1 AND 200),
    created_at         TEXT NOT NULL,
    PRIMARY KEY (customer_id, seq),
    CHECK (kind <> 'earn' OR (points > 0 AND order_id IS NOT NULL AND base_e4 IS NOT NULL AND currency IS NOT NULL)),
    CHECK (kind <> 'reverse' OR (points < 0 AND order_id IS NOT NULL AND refund_id IS NOT NULL)),
    CHECK (kind <> 'spend' OR (points < 0 AND payment_id IS NOT NULL)),
    CHECK (kind <> 'refund' OR (points > 0 AND payment_id IS NOT NULL AND refund_id IS NOT NULL)),
    CHECK (kind <> 'adjust' OR reason IS NOT NULL),
    CHECK (kind <> 'expire' OR points < 0),
    CHECK (kind <> 'transfer' OR other_customer_id IS NOT NULL)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS loyalty_entries_order
    ON loyalty_entries (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS loyalty_entries_payment
    ON loyalty_entries (payment_id) WHERE payment_id IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_update BEFORE UPDATE ON loyalty_entries
BEGIN SELECT RAISE(ABORT, 'loyalty_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS loyalty_entries_no_delete BEFORE DELETE ON loyalty_entries
BEGIN SELECT RAISE(ABORT, 'loyalty_entries is append-only'); END;

-- What is left of each grant (an earn, a refund, a positive adjustment
-- or transfer): spent and expired from here, the ledger recording each.
CREATE TABLE IF NOT EXISTS loyalty_lots (
    customer_id  TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    points_left  INTEGER NOT NULL CHECK (points_left >= 0),
    expires_at   TEXT,
    PRIMARY KEY (customer_id, seq),
    FOREIGN KEY (customer_id, seq) REFERENCES loyalty_entries (customer_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS loyalty_lots_due
    ON loyalty_lots (expires_at) WHERE points_left > 0 AND expires_at IS NOT NULL;
