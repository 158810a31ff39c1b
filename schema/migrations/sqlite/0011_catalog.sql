-- custdb schema version 11: a complete catalog (docs/CATALOG.md). Products
-- get a status (draft or active), media references, categories (a tree),
-- collections (manual lists) and a full-text search index over title,
-- description, SKUs, barcodes and category names.

-- products.status (draft or active) is added by the migration's code
-- (src/schema/mod.rs, add_product_status), which SQLite's ALTER TABLE
-- cannot make idempotent: the statements here may run again on a file a
-- test rewound to an older version.

-- Images and documents of a product, by reference (a URL or a path):
-- custdb keeps references, never the bytes. Listed by position, then id.
CREATE TABLE IF NOT EXISTS product_media (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    product_id  TEXT NOT NULL REFERENCES products (id),
    kind        TEXT NOT NULL CHECK (kind IN ('image', 'document')),
    reference   TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 2048),
    alt_text    TEXT CHECK (length(alt_text) <= 500),
    position    INTEGER NOT NULL CHECK (position BETWEEN 0 AND 1000000),
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS product_media_product ON product_media (product_id, position, id);

-- Categories form a tree (parent_id NULL at the top); names are unique
-- among siblings. custdb refuses a move that would make a cycle and keeps
-- the tree at most MAX_CATEGORY_DEPTH deep; check() proves both.
CREATE TABLE IF NOT EXISTS categories (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    parent_id   TEXT REFERENCES categories (id),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL CHECK (updated_at >= created_at),
    version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK (parent_id IS NULL OR parent_id <> id)
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS categories_sibling_name
    ON categories (coalesce(parent_id, ''), name);

-- Which categories a product is in.
CREATE TABLE IF NOT EXISTS product_categories (
    product_id   TEXT NOT NULL REFERENCES products (id),
    category_id  TEXT NOT NULL REFERENCES categories (id),
    PRIMARY KEY (product_id, category_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS product_categories_category
    ON product_categories (category_id, product_id);

-- Collections: named, hand-ordered lists of products.
CREATE TABLE IF NOT EXISTS collections (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    name         TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    description  TEXT CHECK (length(description) <= 10000),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
) STRICT;
CREATE TABLE IF NOT EXISTS collection_products (
    collection_id  TEXT NOT NULL REFERENCES collections (id),
    product_id     TEXT NOT NULL REFERENCES products (id),
    position       INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (collection_id, product_id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS collection_products_position
    ON collection_products (collection_id, position);
CREATE INDEX IF NOT EXISTS collection_products_product
    ON collection_products (product_id);

-- The text product search reads, one row per product, written by custdb
-- whenever the product, its variants or its categories change (codes:
-- each variant's SKU and barcode, in variant order; categories: the names
-- of the product's categories and their ancestors, sorted). check()
-- recomputes every row. The FTS5 index over it is external-content, kept
-- in step by the triggers below, as customers_fts is.
CREATE TABLE IF NOT EXISTS product_search (
    pk           INTEGER PRIMARY KEY,
    product_id   TEXT NOT NULL UNIQUE REFERENCES products (id),
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    codes        TEXT NOT NULL,
    categories   TEXT NOT NULL
) STRICT;
CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5 (
    title, description, codes, categories,
    content = 'product_search', content_rowid = 'pk',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER IF NOT EXISTS products_fts_insert AFTER INSERT ON product_search BEGIN
    INSERT INTO products_fts (rowid, title, description, codes, categories)
    VALUES (new.pk, new.title, new.description, new.codes, new.categories);
END;
CREATE TRIGGER IF NOT EXISTS products_fts_delete AFTER DELETE ON product_search BEGIN
    INSERT INTO products_fts (products_fts, rowid, title, description, codes, categories)
    VALUES ('delete', old.pk, old.title, old.description, old.codes, old.categories);
END;
CREATE TRIGGER IF NOT EXISTS products_fts_update AFTER UPDATE ON product_search BEGIN
    INSERT INTO products_fts (products_fts, rowid, title, description, codes, categories)
    VALUES ('delete', old.pk, old.title, old.description, old.codes, old.categories);
    INSERT INTO products_fts (rowid, title, description, codes, categories)
    VALUES (new.pk, new.title, new.description, new.codes, new.categories);
END;

-- Every product made before this version gets its row (no categories yet).
INSERT OR IGNORE INTO product_search (product_id, title, description, codes, categories)
SELECT p.id, p.name, coalesce(p.description, ''),
       coalesce((SELECT group_concat(v.sku || CASE WHEN v.barcode IS NULL THEN '' ELSE ' ' || v.barcode END,
                                     ' ' ORDER BY v.id)
                 FROM product_variants v WHERE v.product_id = p.id), ''),
       ''
FROM products p ORDER BY p.id;
