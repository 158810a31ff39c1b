-- custdb schema version 14 on PostgreSQL: promotions and coupons, as the
-- SQLite track's 0014_promotions.sql. (IF NOT EXISTS: the statements may
-- run again on a database a test rewound.)

CREATE TABLE IF NOT EXISTS promotions (
    id                uuid PRIMARY KEY,
    key               text COLLATE "C" NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name              text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    effect            text COLLATE "C" NOT NULL CHECK (effect IN ('percent_off_order', 'amount_off_order',
                          'percent_off_lines', 'buy_x_get_y', 'free_shipping')),
    -- Percent × 100 (12.5 % is 1250), for the percent effects and buy X get Y.
    percent_e2        bigint CHECK (percent_e2 BETWEEN 1 AND 10000),
    amount_e4         bigint CHECK (amount_e4 BETWEEN 1 AND 1000000000000000),
    buy_quantity      bigint CHECK (buy_quantity BETWEEN 1 AND 1000),
    get_quantity      bigint CHECK (get_quantity BETWEEN 1 AND 1000),
    currency          text COLLATE "C" CHECK (length(currency) = 3 AND currency = upper(currency)),
    min_subtotal_e4   bigint CHECK (min_subtotal_e4 BETWEEN 1 AND 1000000000000000),
    first_order_only  bigint NOT NULL CHECK (first_order_only IN (0, 1)),
    requires_coupon   bigint NOT NULL CHECK (requires_coupon IN (0, 1)),
    exclusive         bigint NOT NULL CHECK (exclusive IN (0, 1)),
    priority          bigint NOT NULL CHECK (priority BETWEEN -1000 AND 1000),
    starts_at         timestamptz,
    ends_at           timestamptz CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    active            bigint NOT NULL CHECK (active IN (0, 1)),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL CHECK (updated_at >= created_at),
    version           bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK ((percent_e2 IS NOT NULL) = (effect IN ('percent_off_order', 'percent_off_lines', 'buy_x_get_y'))),
    CHECK ((amount_e4 IS NOT NULL) = (effect = 'amount_off_order')),
    CHECK ((buy_quantity IS NOT NULL) = (effect = 'buy_x_get_y')),
    CHECK ((get_quantity IS NOT NULL) = (effect = 'buy_x_get_y')),
    CHECK (currency IS NOT NULL OR (amount_e4 IS NULL AND min_subtotal_e4 IS NULL))
);
CREATE INDEX IF NOT EXISTS promotions_automatic
    ON promotions (requires_coupon, active, priority DESC, key);

-- What a promotion applies to (products, categories with their
-- subcategories) and who may have it (customer groups).
CREATE TABLE IF NOT EXISTS promotion_conditions (
    promotion_id  uuid NOT NULL REFERENCES promotions (id),
    kind          text COLLATE "C" NOT NULL CHECK (kind IN ('product', 'category', 'customer_group')),
    target_id     uuid NOT NULL,
    PRIMARY KEY (promotion_id, kind, target_id)
);
CREATE INDEX IF NOT EXISTS promotion_conditions_target ON promotion_conditions (target_id);

CREATE TABLE IF NOT EXISTS coupons (
    id                  uuid PRIMARY KEY,
    code                text COLLATE "C" NOT NULL UNIQUE CHECK (length(code) BETWEEN 3 AND 32 AND code = upper(code)),
    promotion_id        uuid NOT NULL REFERENCES promotions (id),
    usage_limit         bigint CHECK (usage_limit BETWEEN 1 AND 1000000000),
    per_customer_limit  bigint CHECK (per_customer_limit BETWEEN 1 AND 1000000000),
    uses                bigint NOT NULL DEFAULT 0
                        CHECK (uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)),
    starts_at           timestamptz,
    ends_at             timestamptz CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    active              bigint NOT NULL CHECK (active IN (0, 1)),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL CHECK (updated_at >= created_at),
    version             bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE INDEX IF NOT EXISTS coupons_promotion ON coupons (promotion_id, code);

CREATE TABLE IF NOT EXISTS promotion_redemptions (
    id                    uuid PRIMARY KEY,
    promotion_id          uuid NOT NULL REFERENCES promotions (id),
    coupon_id             uuid REFERENCES coupons (id),
    order_id              uuid NOT NULL REFERENCES orders (id),
    currency              text COLLATE "C" NOT NULL CHECK (length(currency) = 3),
    discount_e4           bigint NOT NULL CHECK (discount_e4 >= 0),
    shipping_discount_e4  bigint NOT NULL CHECK (shipping_discount_e4 >= 0),
    redeemed_at           timestamptz NOT NULL,
    released_at           timestamptz CHECK (released_at IS NULL OR released_at >= redeemed_at),
    UNIQUE (order_id, promotion_id)
);
CREATE INDEX IF NOT EXISTS promotion_redemptions_coupon
    ON promotion_redemptions (coupon_id, order_id) WHERE coupon_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS promotion_redemptions_promotion
    ON promotion_redemptions (promotion_id, redeemed_at);

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
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON promotions, promotion_conditions, coupons, promotion_redemptions TO %I', r.grantee);
    END LOOP;
END
$$;
