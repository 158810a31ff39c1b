-- custdb schema version 12: prices and tax (docs/PRICING.md). Tax classes
-- and rates by country and region; customer groups (the records price
-- lists name; memberships come with the groups' own step); price lists per
-- currency, optionally per group, with validity periods and quantity
-- breaks. product_variants.tax_class is added by the migration's code
-- (src/schema/mod.rs): SQLite's ALTER TABLE cannot be made idempotent.

-- A tax class groups products taxed alike (standard, reduced, zero...).
-- 'standard' always exists: every variant starts in it.
CREATE TABLE IF NOT EXISTS tax_classes (
    key   TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 32),
    name  TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100)
) STRICT;
INSERT OR IGNORE INTO tax_classes (key, name) VALUES ('standard', 'Standard rate');

-- A rate for a tax class in a country, or in one region of it (a region's
-- rate wins over its country's). rate_ppm: parts per million (20 % is
-- 200000).
CREATE TABLE IF NOT EXISTS tax_rates (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    country     TEXT NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    region      TEXT CHECK (length(region) BETWEEN 1 AND 64),
    tax_class   TEXT NOT NULL REFERENCES tax_classes (key),
    rate_ppm    INTEGER NOT NULL CHECK (rate_ppm BETWEEN 0 AND 1000000),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL CHECK (updated_at >= created_at),
    version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS tax_rates_place
    ON tax_rates (country, coalesce(region, ''), tax_class);

-- Customer groups (wholesale, staff, VIP...).
CREATE TABLE IF NOT EXISTS customer_groups (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    key         TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL CHECK (updated_at >= created_at),
    version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;

-- A price list: prices in one currency, entered with or without tax, for
-- everyone or one customer group, valid from and until an instant (open
-- when NULL). Two lists for the same currency and group never overlap in
-- time (custdb refuses it; check() proves it).
CREATE TABLE IF NOT EXISTS price_lists (
    id                  TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    key                 TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency            TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    prices_include_tax  INTEGER NOT NULL CHECK (prices_include_tax IN (0, 1)),
    customer_group_id   TEXT REFERENCES customer_groups (id),
    valid_from          TEXT,
    valid_until         TEXT CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL CHECK (updated_at >= created_at),
    version             INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;
CREATE INDEX IF NOT EXISTS price_lists_currency ON price_lists (currency, customer_group_id);

-- A list's price of a variant from a quantity on (quantity breaks: the
-- entry with the largest min_quantity not above the line's quantity).
CREATE TABLE IF NOT EXISTS price_list_prices (
    price_list_id  TEXT NOT NULL REFERENCES price_lists (id),
    variant_id     TEXT NOT NULL REFERENCES product_variants (id),
    min_quantity   INTEGER NOT NULL CHECK (min_quantity BETWEEN 1 AND 1000000),
    price_e4       INTEGER NOT NULL CHECK (price_e4 BETWEEN 0 AND 1000000000000),
    PRIMARY KEY (price_list_id, variant_id, min_quantity)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS price_list_prices_variant
    ON price_list_prices (variant_id, price_list_id, min_quantity);
