-- custdb schema version 14: promotions and coupons (docs/PRICING.md,
-- "Promotions"). A promotion is an effect (percent or amount off the
-- order, percent off lines, buy X get Y, free shipping) with conditions;
-- a coupon is a code that unlocks one, with limits; a redemption is one
-- promotion applied to one order, released when the order is cancelled.

CREATE TABLE IF NOT EXISTS promotions (
    id                TEXT PRIMARY KEY NOT NULL,
    key               TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    effect            TEXT NOT NULL CHECK (effect IN ('percent_off_order', 'amount_off_order',
                          'percent_off_lines', 'buy_x_get_y', 'free_shipping')),
    -- Percent × 100 (12.5 % is 1250), for the percent effects and buy X get Y.
    percent_e2        INTEGER CHECK (percent_e2 BETWEEN 1 AND 10000),
    amount_e4         INTEGER CHECK (amount_e4 BETWEEN 1 AND 1000000000000000),
    buy_quantity      INTEGER CHECK (buy_quantity BETWEEN 1 AND 1000),
    get_quantity      INTEGER CHECK (get_quantity BETWEEN 1 AND 1000),
    currency          TEXT CHECK (length(currency) = 3 AND currency = upper(currency)),
    min_subtotal_e4   INTEGER CHECK (min_subtotal_e4 BETWEEN 1 AND 1000000000000000),
    first_order_only  INTEGER NOT NULL CHECK (first_order_only IN (0, 1)),
    requires_coupon   INTEGER NOT NULL CHECK (requires_coupon IN (0, 1)),
    exclusive         INTEGER NOT NULL CHECK (exclusive IN (0, 1)),
    priority          INTEGER NOT NULL CHECK (priority BETWEEN -1000 AND 1000),
    starts_at         TEXT,
    ends_at           TEXT CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    active            INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL CHECK (updated_at >= created_at),
    version           INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK ((percent_e2 IS NOT NULL) = (effect IN ('percent_off_order', 'percent_off_lines', 'buy_x_get_y'))),
    CHECK ((amount_e4 IS NOT NULL) = (effect = 'amount_off_order')),
    CHECK ((buy_quantity IS NOT NULL) = (effect = 'buy_x_get_y')),
    CHECK ((get_quantity IS NOT NULL) = (effect = 'buy_x_get_y')),
    CHECK (currency IS NOT NULL OR (amount_e4 IS NULL AND min_subtotal_e4 IS NULL))
) STRICT;
CREATE INDEX IF NOT EXISTS promotions_automatic
    ON promotions (requires_coupon, active, priority DESC, key);

-- What a promotion applies to (products, categories with their
-- subcategories) and who may have it (customer groups).
CREATE TABLE IF NOT EXISTS promotion_conditions (
    promotion_id  TEXT NOT NULL REFERENCES promotions (id),
    kind          TEXT NOT NULL CHECK (kind IN ('product', 'category', 'customer_group')),
    target_id     TEXT NOT NULL,
    PRIMARY KEY (promotion_id, kind, target_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS promotion_conditions_target ON promotion_conditions (target_id);

CREATE TABLE IF NOT EXISTS coupons (
    id                  TEXT PRIMARY KEY NOT NULL,
    code                TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 3 AND 32 AND code = upper(code)),
    promotion_id        TEXT NOT NULL REFERENCES promotions (id),
    usage_limit         INTEGER CHECK (usage_limit BETWEEN 1 AND 1000000000),
    per_customer_limit  INTEGER CHECK (per_customer_limit BETWEEN 1 AND 1000000000),
    uses                INTEGER NOT NULL DEFAULT 0
                        CHECK (uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)),
    starts_at           TEXT,
    ends_at             TEXT CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    active              INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL CHECK (updated_at >= created_at),
    version             INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;
CREATE INDEX IF NOT EXISTS coupons_promotion ON coupons (promotion_id, code);

CREATE TABLE IF NOT EXISTS promotion_redemptions (
    id                    TEXT PRIMARY KEY NOT NULL,
    promotion_id          TEXT NOT NULL REFERENCES promotions (id),
    coupon_id             TEXT REFERENCES coupons (id),
    order_id              TEXT NOT NULL REFERENCES orders (id),
    currency              TEXT NOT NULL CHECK (length(currency) = 3),
    discount_e4           INTEGER NOT NULL CHECK (discount_e4 >= 0),
    shipping_discount_e4  INTEGER NOT NULL CHECK (shipping_discount_e4 >= 0),
    redeemed_at           TEXT NOT NULL,
    released_at           TEXT CHECK (released_at IS NULL OR released_at >= redeemed_at),
    UNIQUE (order_id, promotion_id)
) STRICT;
CREATE INDEX IF NOT EXISTS promotion_redemptions_coupon
    ON promotion_redemptions (coupon_id, order_id) WHERE coupon_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS promotion_redemptions_promotion
    ON promotion_redemptions (promotion_id, redeemed_at);
