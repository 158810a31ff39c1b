-- custdb schema version 8: fewer pages written per operation
-- (docs/PERFORMANCE.md, "Pages per operation"), the same change as on
-- SQLite. Every index is one more page (or two, when it splits) in the
-- WAL for each row written.

-- One index on a customer's email does the work of two: the lookups by
-- email read its first column, and the uniqueness among customers that
-- are not archived holds because an archived customer's second column is
-- its own id, while every other customer's is ''. (IF EXISTS: the
-- statements may run again on a file a test rewound to an older version.)
DROP INDEX IF EXISTS customers_email;
DROP INDEX IF EXISTS customers_email_active;
CREATE UNIQUE INDEX customers_email_active
    ON customers (email, (CASE WHEN archived_at IS NULL THEN '' ELSE id::text END))
    WHERE email IS NOT NULL;

-- Nothing looks an audit entry up by its hash: verification walks the
-- chain by seq. A unique index on the hash only guarded against a
-- SHA-256 collision, at one random B-tree page per entry.
DROP INDEX IF EXISTS audit_log_hash;
