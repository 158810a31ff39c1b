//! Product search: one `product_search` row per product holding the text
//! search reads (title, description, codes, category names), rewritten by
//! [`reindex`] whenever any of it changes, in the same transaction. SQLite
//! indexes it with FTS5 (an external-content table kept by triggers),
//! PostgreSQL with a generated `tsvector` and a GIN index; `check()`
//! recomputes every row.

use super::{product_columns, product_from_row, CatalogReader, Product};
use crate::db::{sql, Conn};
use crate::error::{Error, Result};
use crate::id::ProductId;
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::unit::CheckReport;

/// The search text of a product, as [`reindex`] writes it.
#[derive(Debug, PartialEq, Eq)]
struct SearchText {
    title: String,
    description: String,
    codes: String,
    categories: String,
}

/// The product's title and description, and its codes: each variant's SKU
/// and barcode, in variant order (the migration that made the table
/// computes the same).
const TEXT_OF: &str = "SELECT p.name, coalesce(p.description, ''), \
    coalesce((SELECT group_concat(v.sku || CASE WHEN v.barcode IS NULL THEN '' \
    ELSE ' ' || v.barcode END, ' ' ORDER BY v.id) FROM product_variants v \
    WHERE v.product_id = p.id), '') FROM products p WHERE p.id = ?1";
/// [`TEXT_OF`] on PostgreSQL.
const TEXT_OF_PG: &str = "SELECT p.name, coalesce(p.description, ''), \
    coalesce((SELECT string_agg(v.sku || CASE WHEN v.barcode IS NULL THEN '' \
    ELSE ' ' || v.barcode END, ' ' ORDER BY v.id) FROM product_variants v \
    WHERE v.product_id = p.id), '') FROM products p WHERE p.id = ?1";
/// The names of a product's categories and of their ancestors, each once,
/// sorted.
const CATEGORY_NAMES: &str = "WITH RECURSIVE up(id, parent_id, name) AS (\
    SELECT c.id, c.parent_id, c.name FROM categories c \
    JOIN product_categories pc ON pc.category_id = c.id WHERE pc.product_id = ?1 \
    UNION SELECT c.id, c.parent_id, c.name FROM categories c JOIN up ON c.id = up.parent_id) \
    SELECT DISTINCT name FROM up ORDER BY name";

fn text_of(db: Conn<'_>, id: ProductId) -> Result<Option<SearchText>> {
    let Some((title, description, codes)) =
        db.query_opt(sql!(sqlite: TEXT_OF, postgres: TEXT_OF_PG), &[&id], |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
            ))
        })?
    else {
        return Ok(None);
    };
    let names: Vec<String> = db.query_vec(sql!(CATEGORY_NAMES), &[&id], |r| r.get(0))?;
    Ok(Some(SearchText {
        title,
        description,
        codes,
        categories: names.join(" "),
    }))
}

/// Rewrites a product's search row from what is stored now.
pub(super) fn reindex(db: Conn<'_>, id: ProductId) -> Result<()> {
    // On PostgreSQL (READ COMMITTED) two units of work may each reindex
    // the same product: a rename and a barcode change, or a category
    // renamed while a product joins it. The product's row lock, taken
    // before the text is read and held to commit, orders them: the second
    // reads what the first committed, so the row ends current.
    db.lock_for_update(
        sql!(postgres_only: "SELECT 1 FROM products WHERE id = $1 FOR UPDATE"),
        &[&id],
    )?;
    let text = text_of(db, id)?.ok_or_else(|| Error::not_found("product", id))?;
    db.execute(
        sql!(
            "INSERT INTO product_search (product_id, title, description, codes, categories) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_id) DO UPDATE SET \
             title = excluded.title, description = excluded.description, \
             codes = excluded.codes, categories = excluded.categories"
        ),
        &[
            &id,
            &text.title,
            &text.description,
            &text.codes,
            &text.categories,
        ],
    )?;
    Ok(())
}

/// One page of a product search: the rank and id of the last result so far
/// (?3, ?4; NULL for the first page), best first. Weights: title 10, codes
/// 5, categories 3, description 2.
const SEARCH_PAGE: &str = concat!(
    "SELECT * FROM (SELECT ",
    product_columns!(),
    ", bm25(products_fts, 10.0, 2.0, 5.0, 3.0) rank \
     FROM products_fts f JOIN product_search s ON s.pk = f.rowid \
     JOIN products p ON p.id = s.product_id \
     WHERE products_fts MATCH ?1 AND p.archived_at IS NULL) \
     WHERE ?3 IS NULL OR rank > ?3 OR (rank = ?3 AND id > ?4) \
     ORDER BY rank, id LIMIT ?2"
);
/// [`SEARCH_PAGE`] on PostgreSQL (`custdb_search_rank`: lower is better,
/// as bm25).
const SEARCH_PAGE_PG: &str = concat!(
    "SELECT * FROM (SELECT ",
    product_columns!(),
    ", custdb_search_rank(s.search_vector, custdb_search_query(?1)) rank \
     FROM product_search s JOIN products p ON p.id = s.product_id \
     WHERE s.search_vector @@ custdb_search_query(?1) AND p.archived_at IS NULL) x \
     WHERE ?3::float8 IS NULL OR rank > ?3 OR (rank = ?3 AND id > CAST(?4 AS uuid)) \
     ORDER BY rank, id LIMIT ?2"
);

impl CatalogReader<'_> {
    /// Full-text search over the products that are not archived (drafts
    /// included: check [`Product::status`]), best match first: title
    /// weighted above SKUs and barcodes, then category names (a product's
    /// categories and their ancestors), then the description. Each word of
    /// `query` matches as a prefix and all words must match, as
    /// [`search`](crate::CustomerReader::search) does for customers; ties
    /// come in id order, `limit` (1 to [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE))
    /// at a time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `query` when it
    /// is empty, longer than
    /// [`MAX_QUERY_LEN`](crate::customer::MAX_QUERY_LEN) characters or
    /// [`MAX_QUERY_TERMS`](crate::customer::MAX_QUERY_TERMS) words; on
    /// `limit` or `cursor` for a bad limit or a cursor another listing made.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{Currency, Decimal, NewProduct, NewVariant, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// store.catalog().create_product(
    ///     NewProduct::new("Earl Grey tea")
    ///         .variant(NewVariant::new("TEA-EG-100", Decimal::new(450, 2), Currency::GBP)),
    /// )?;
    /// let found = store.catalog().search_products("grey", None, 10)?;
    /// assert_eq!(found.items[0].name, "Earl Grey tea");
    /// let by_sku = store.catalog().search_products("TEA-EG", None, 10)?;
    /// assert_eq!(by_sku.items.len(), 1);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn search_products(
        &self,
        query: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Product>> {
        let limit = check_limit(limit)?;
        let fts_query = crate::customer::fts_query(query)?;
        let (rank, id) = match after {
            None => (None, None),
            Some(c) => {
                let key = c.key()?;
                let parsed = key.split_once('|').and_then(|(rank, id)| {
                    let rank: f64 = rank.parse().ok()?;
                    let id = ProductId::parse(id, "cursor").ok()?;
                    rank.is_finite().then_some((rank, id))
                });
                match parsed {
                    Some((rank, id)) => (Some(rank), Some(id)),
                    None => return Err(Error::invalid("cursor", "is not a product search cursor")),
                }
            }
        };
        let keyed = self.db.query_vec(
            sql!(sqlite: SEARCH_PAGE, postgres: SEARCH_PAGE_PG),
            &[&fts_query, &(limit + 1), &rank, &id],
            |r| Ok((product_from_row(r)?, r.get::<f64>(8)?)),
        )?;
        let page = into_page(keyed, limit, |(p, rank)| format!("{rank:?}|{}", p.id));
        let mut items: Vec<Product> = page.items.into_iter().map(|(p, _)| p).collect();
        self.fill(&mut items)?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }
}

/// The search rows agree with the catalog: one per product, each what
/// [`reindex`] would write now; on SQLite the FTS5 index matches its
/// content table.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    let rows: i64 = conn.query_row(sql!("SELECT count(*) FROM product_search"), &[], |r| {
        r.get(0)
    })?;
    let products: Vec<ProductId> =
        conn.query_vec(sql!("SELECT id FROM products ORDER BY id"), &[], |r| {
            r.get(0)
        })?;
    if rows != products.len() as i64 {
        report.push(format!(
            "product_search has {rows} rows for {} products",
            products.len()
        ));
    }
    for id in products {
        let stored = conn.query_opt(
            sql!(
                "SELECT title, description, codes, categories FROM product_search \
                 WHERE product_id = ?1"
            ),
            &[&id],
            |r| {
                Ok(SearchText {
                    title: r.get(0)?,
                    description: r.get(1)?,
                    codes: r.get(2)?,
                    categories: r.get(3)?,
                })
            },
        )?;
        let expected = text_of(conn, id)?;
        if stored != expected {
            report.push(format!(
                "product {id}: its search row is not current (stored {stored:?}, expected {expected:?})"
            ));
        }
    }
    if let Ok(sqlite) = conn.as_sqlite("the FTS5 integrity check") {
        if sqlite
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(Error::from_sqlite)?
        {
            report.push_skipped("products_fts integrity-check (read-only store)");
        } else if let Err(e) = sqlite.execute(
            "INSERT INTO products_fts (products_fts, rank) VALUES ('integrity-check', 1)",
            [],
        ) {
            report.push(format!("products_fts does not match product_search: {e}"));
        }
    }
    Ok(())
}
