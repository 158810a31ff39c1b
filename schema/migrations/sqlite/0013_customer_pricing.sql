-- custdb schema version 13: what pricing knows of a customer, and what an
-- order line keeps of its pricing (docs/PRICING.md). Group memberships
-- with validity, tax exemptions (a business with a VAT id), and on each
-- order line whether its price included tax and where it came from
-- (order_lines.prices_include_tax and order_lines.price_source are added
-- by the migration's code, src/schema/mod.rs: SQLite's ALTER TABLE cannot
-- be made idempotent).

-- A customer in a group, from and until an instant (open when NULL).
CREATE TABLE IF NOT EXISTS customer_group_members (
    group_id     TEXT NOT NULL REFERENCES customer_groups (id),
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    valid_from   TEXT,
    valid_until  TEXT CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from),
    added_at     TEXT NOT NULL,
    PRIMARY KEY (group_id, customer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS customer_group_members_customer
    ON customer_group_members (customer_id, group_id);

-- A customer whose orders carry no tax (reverse charge): a business with a
-- VAT id. Erased with the customer.
CREATE TABLE IF NOT EXISTS customer_tax_exemptions (
    customer_id  TEXT PRIMARY KEY NOT NULL REFERENCES customers (id),
    vat_id       TEXT NOT NULL CHECK (length(vat_id) BETWEEN 1 AND 32),
    reason       TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at   TEXT NOT NULL
) STRICT;
