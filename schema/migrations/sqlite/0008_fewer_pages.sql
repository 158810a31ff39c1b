-- custdb schema version 8: fewer pages written per operation
-- (docs/PERFORMANCE.md, "Pages per operation"). Every index is one more
-- B-tree page (or two, when it splits) in the WAL for each row written.

-- One index on a customer's email does the work of two: the lookups by
-- email read its first column, and the uniqueness among customers that
-- are not archived holds because an archived customer's second column is
-- its own id, while every other customer's is ''. (IF EXISTS: the
-- statements may run again on a file a test rewound to an older version.)
DROP INDEX IF EXISTS customers_email;
DROP INDEX IF EXISTS customers_email_active;
CREATE UNIQUE INDEX customers_email_active
    ON customers (email, CASE WHEN archived_at IS NULL THEN '' ELSE id END)
    WHERE email IS NOT NULL;

-- Nothing looks an audit entry up by its hash: verification walks the
-- chain by seq. A unique index on the hash only guarded against a
-- SHA-256 collision, at one random B-tree page per entry.
DROP INDEX IF EXISTS audit_log_hash;

-- The same for addresses: one index on (customer, kind) serves every
-- lookup of a customer's addresses and keeps at most one default per kind.
DROP INDEX IF EXISTS customer_addresses_customer;
DROP INDEX IF EXISTS customer_addresses_one_default;
CREATE UNIQUE INDEX customer_addresses_one_default
    ON customer_addresses (customer_id, kind, CASE WHEN is_default = 1 THEN '' ELSE id END);

-- Indexes no statement reads on SQLite (the query-plan test lists what
-- each statement uses): listings by creation time skip the first on
-- purpose, tag reads always name the customer, country filters always
-- name the customer too, reservations are found by variant (with their
-- expiry) or by order line, and orders by guest email or country are
-- reports over a time range.
DROP INDEX IF EXISTS customers_created;
DROP INDEX IF EXISTS customer_tags_tag;
DROP INDEX IF EXISTS customer_addresses_country;
DROP INDEX IF EXISTS stock_reservations_open;
DROP INDEX IF EXISTS stock_reservations_order;
DROP INDEX IF EXISTS orders_country;
DROP INDEX IF EXISTS orders_guest_email;
