-- custdb schema version 12 on PostgreSQL: prices and tax, as the SQLite
-- track's 0012_pricing.sql. (IF NOT EXISTS, ON CONFLICT: the statements
-- may run again on a database a test rewound.)

CREATE TABLE IF NOT EXISTS tax_classes (
    key   text COLLATE "C" PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 32),
    name  text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 100)
);
INSERT INTO tax_classes (key, name) VALUES ('standard', 'Standard rate')
ON CONFLICT (key) DO NOTHING;

ALTER TABLE product_variants ADD COLUMN IF NOT EXISTS tax_class text COLLATE "C" NOT NULL
    DEFAULT 'standard' CHECK (length(tax_class) BETWEEN 1 AND 32);

CREATE TABLE IF NOT EXISTS tax_rates (
    id          uuid PRIMARY KEY,
    country     text COLLATE "C" NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    region      text COLLATE "C" CHECK (length(region) BETWEEN 1 AND 64),
    tax_class   text COLLATE "C" NOT NULL REFERENCES tax_classes (key),
    rate_ppm    bigint NOT NULL CHECK (rate_ppm BETWEEN 0 AND 1000000),
    name        text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL CHECK (updated_at >= created_at),
    version     bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE UNIQUE INDEX IF NOT EXISTS tax_rates_place
    ON tax_rates (country, coalesce(region, ''), tax_class);

CREATE TABLE IF NOT EXISTS customer_groups (
    id          uuid PRIMARY KEY,
    key         text COLLATE "C" NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name        text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL CHECK (updated_at >= created_at),
    version     bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);

CREATE TABLE IF NOT EXISTS price_lists (
    id                  uuid PRIMARY KEY,
    key                 text COLLATE "C" NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name                text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency            text COLLATE "C" NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    prices_include_tax  bigint NOT NULL CHECK (prices_include_tax IN (0, 1)),
    customer_group_id   uuid REFERENCES customer_groups (id),
    valid_from          timestamptz,
    valid_until         timestamptz CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL CHECK (updated_at >= created_at),
    version             bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE INDEX IF NOT EXISTS price_lists_currency ON price_lists (currency, customer_group_id);

CREATE TABLE IF NOT EXISTS price_list_prices (
    price_list_id  uuid NOT NULL REFERENCES price_lists (id),
    variant_id     uuid NOT NULL REFERENCES product_variants (id),
    min_quantity   bigint NOT NULL CHECK (min_quantity BETWEEN 1 AND 1000000),
    price_e4       bigint NOT NULL CHECK (price_e4 BETWEEN 0 AND 1000000000000),
    PRIMARY KEY (price_list_id, variant_id, min_quantity)
);
CREATE INDEX IF NOT EXISTS price_list_prices_variant
    ON price_list_prices (variant_id, price_list_id, min_quantity);

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
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON tax_classes, tax_rates, customer_groups, price_lists, price_list_prices TO %I', r.grantee);
    END LOOP;
END
$$;
