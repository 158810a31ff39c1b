//! Categories (a tree) and collections (hand-ordered lists of products).
//!
//! A product may be in up to
//! [`MAX_CATEGORIES_PER_PRODUCT`](super::MAX_CATEGORIES_PER_PRODUCT)
//! categories and any number of collections. Listing a category includes
//! its subcategories' products when asked; search finds a product by the
//! names of its categories and of their ancestors.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{product_columns, product_from_row, search, Catalog, CatalogReader, Product};
use crate::audit::Change;
use crate::db::{sql, Row};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{CategoryId, CollectionId, ProductId};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::validate;

/// Most categories a catalog may have.
pub const MAX_CATEGORIES: usize = 10_000;
/// Deepest a category may sit: a top-level category has depth 0, so the
/// tree has at most this many levels below the top (nine in all).
pub const MAX_CATEGORY_DEPTH: u32 = 8;
/// Longest category name, in characters.
pub const MAX_CATEGORY_NAME_LEN: usize = 100;
/// Most collections a catalog may have.
pub const MAX_COLLECTIONS: usize = 10_000;
/// Longest collection name, in characters.
pub const MAX_COLLECTION_NAME_LEN: usize = 200;
/// Most products one collection may list.
pub const MAX_COLLECTION_PRODUCTS: usize = 10_000;

/// A category of the catalog's tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Category {
    /// The category's id.
    pub id: CategoryId,
    /// Its parent; `None` at the top of the tree.
    pub parent_id: Option<CategoryId>,
    /// Its name, unique among its siblings.
    pub name: String,
    /// 0 at the top, 1 below a top-level category, ...
    pub depth: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A category to create.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewCategory {
    /// Name: 1 to [`MAX_CATEGORY_NAME_LEN`] characters, unique among its
    /// siblings.
    pub name: String,
    /// The parent; `None` for a top-level category.
    #[serde(default)]
    pub parent_id: Option<CategoryId>,
}
crate::input::strict_serde!(NewCategory);

impl NewCategory {
    /// A top-level category.
    pub fn new(name: impl Into<String>) -> Self {
        NewCategory {
            name: name.into(),
            parent_id: None,
        }
    }

    /// Puts it below `parent`.
    pub fn parent(mut self, parent: CategoryId) -> Self {
        self.parent_id = Some(parent);
        self
    }
}

/// A change to a category: a new name, a new parent (a move), or both.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct CategoryPatch {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New parent, or `Some(None)` (JSON `null`) to move it to the top.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_id: Option<Option<CategoryId>>,
}
crate::input::strict_serde!(CategoryPatch; not_null: name);

impl CategoryPatch {
    /// Renames it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Moves it below `parent`, or to the top with `None`.
    pub fn parent(mut self, parent: Option<CategoryId>) -> Self {
        self.parent_id = Some(parent);
        self
    }
}

/// A collection: a named, hand-ordered list of products.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Collection {
    /// The collection's id.
    pub id: CollectionId,
    /// Its name, unique.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// How many products it lists (archived ones included).
    pub product_count: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (its products included).
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A collection to create.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewCollection {
    /// Name: 1 to [`MAX_COLLECTION_NAME_LEN`] characters, unique.
    pub name: String,
    /// Description, at most
    /// [`MAX_DESCRIPTION_LEN`](super::MAX_DESCRIPTION_LEN) characters.
    #[serde(default)]
    pub description: Option<String>,
}
crate::input::strict_serde!(NewCollection);

impl NewCollection {
    /// A collection with this name.
    pub fn new(name: impl Into<String>) -> Self {
        NewCollection {
            name: name.into(),
            description: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

/// A change to a collection's name or description.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct CollectionPatch {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description, or `Some(None)` (JSON `null`) to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
}
crate::input::strict_serde!(CollectionPatch; not_null: name);

impl CollectionPatch {
    /// Renames it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(Some(text.into()));
        self
    }
}

/// A category row without its depth.
fn category_row(row: &Row<'_>) -> Result<Category> {
    Ok(Category {
        id: row.get(0)?,
        parent_id: row.get(1)?,
        name: row.get(2)?,
        depth: 0,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
        version: row.get(5)?,
    })
}

fn collection_row(row: &Row<'_>) -> Result<Collection> {
    Ok(Collection {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        product_count: u64::try_from(row.get::<i64>(3)?).unwrap_or(0),
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        version: row.get(6)?,
    })
}

macro_rules! select_collection {
    ($where:literal) => {
        concat!(
            "SELECT c.id, c.name, c.description, \
             (SELECT count(*) FROM collection_products cp WHERE cp.collection_id = c.id), \
             c.created_at, c.updated_at, c.version FROM collections c ",
            $where
        )
    };
}

/// The products of a category (?1) and, up to depth ?2 below it, of its
/// subcategories, not archived, by name after the cursor (?3, ?4).
const CATEGORY_PRODUCTS: &str = concat!(
    "WITH RECURSIVE sub(id, depth) AS (SELECT ?1, 0 UNION \
     SELECT c.id, sub.depth + 1 FROM categories c JOIN sub ON c.parent_id = sub.id \
     WHERE sub.depth < ?2) SELECT ",
    product_columns!(),
    " FROM products p WHERE p.archived_at IS NULL AND EXISTS (SELECT 1 FROM product_categories pc \
     WHERE pc.product_id = p.id AND pc.category_id IN (SELECT id FROM sub)) \
     AND (?3 IS NULL OR (p.name, p.id) > (?3, ?4)) ORDER BY p.name, p.id LIMIT ?5"
);
/// [`CATEGORY_PRODUCTS`] on PostgreSQL.
const CATEGORY_PRODUCTS_PG: &str = concat!(
    "WITH RECURSIVE sub(id, depth) AS (SELECT CAST(?1 AS uuid), 0 UNION \
     SELECT c.id, sub.depth + 1 FROM categories c JOIN sub ON c.parent_id = sub.id \
     WHERE sub.depth < ?2) SELECT ",
    product_columns!(),
    " FROM products p WHERE p.archived_at IS NULL AND EXISTS (SELECT 1 FROM product_categories pc \
     WHERE pc.product_id = p.id AND pc.category_id IN (SELECT id FROM sub)) \
     AND (CAST(?3 AS text) IS NULL OR (p.name, p.id) > (?3, CAST(?4 AS uuid))) \
     ORDER BY p.name, p.id LIMIT ?5"
);
/// The products of a collection (?1) after position ?2, not archived, in
/// the collection's order.
const COLLECTION_PRODUCTS: &str = concat!(
    "SELECT ",
    product_columns!(),
    ", cp.position FROM collection_products cp JOIN products p ON p.id = cp.product_id \
     WHERE cp.collection_id = ?1 AND cp.position > ?2 AND p.archived_at IS NULL \
     ORDER BY cp.position LIMIT ?3"
);

/// The category ids of a subtree (?1 and everything below it).
const SUBTREE: &str = "WITH RECURSIVE sub(id, depth) AS (SELECT ?1, 0 UNION \
    SELECT c.id, sub.depth + 1 FROM categories c JOIN sub ON c.parent_id = sub.id \
    WHERE sub.depth <= ?2) SELECT id, depth FROM sub";
/// [`SUBTREE`] on PostgreSQL.
const SUBTREE_PG: &str = "WITH RECURSIVE sub(id, depth) AS (SELECT CAST(?1 AS uuid), 0 UNION \
    SELECT c.id, sub.depth + 1 FROM categories c JOIN sub ON c.parent_id = sub.id \
    WHERE sub.depth <= ?2) SELECT id, depth FROM sub";

impl CatalogReader<'_> {
    /// A category, with its depth.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn category(&self, id: CategoryId) -> Result<Category> {
        let mut category = self
            .db
            .query_opt(
                sql!(
                    "SELECT id, parent_id, name, created_at, updated_at, version \
                     FROM categories WHERE id = ?1"
                ),
                &[&id],
                category_row,
            )?
            .ok_or_else(|| Error::not_found("category", id))?;
        category.depth = self.ancestors(id)?.len() as u32;
        Ok(category)
    }

    /// The ids of a category's ancestors, its parent first.
    fn ancestors(&self, id: CategoryId) -> Result<Vec<CategoryId>> {
        let mut out = Vec::new();
        let mut at = id;
        // The tree is at most MAX_CATEGORY_DEPTH deep; the bound also stops
        // a cycle written around custdb from looping.
        while let Some(parent) = self.db.query_row(
            sql!("SELECT parent_id FROM categories WHERE id = ?1"),
            &[&at],
            |r| r.get::<Option<CategoryId>>(0),
        )? {
            out.push(parent);
            if out.len() > MAX_CATEGORY_DEPTH as usize {
                return Err(Error::corrupt(format!(
                    "category {id} has more than {MAX_CATEGORY_DEPTH} ancestors"
                )));
            }
            at = parent;
        }
        Ok(out)
    }

    /// Every category, in tree order: each top-level category (by name)
    /// followed by its subcategories, depth first, siblings by name.
    ///
    /// # Errors
    ///
    /// A database error; [`ErrorKind::Corrupt`] for a stored cycle.
    pub fn categories(&self) -> Result<Vec<Category>> {
        let all = self.db.query_vec(
            sql!(
                "SELECT id, parent_id, name, created_at, updated_at, version FROM categories \
                 ORDER BY name, id"
            ),
            &[],
            category_row,
        )?;
        let mut children: BTreeMap<Option<CategoryId>, Vec<Category>> = BTreeMap::new();
        let total = all.len();
        for c in all {
            children.entry(c.parent_id).or_default().push(c);
        }
        let mut out = Vec::with_capacity(total);
        // Depth first, without recursion: a stack of (category, depth),
        // each level pushed in reverse so that names come out in order.
        let mut stack: Vec<(Category, u32)> = children
            .remove(&None)
            .unwrap_or_default()
            .into_iter()
            .rev()
            .map(|c| (c, 0))
            .collect();
        while let Some((mut c, depth)) = stack.pop() {
            c.depth = depth;
            if let Some(kids) = children.remove(&Some(c.id)) {
                stack.extend(kids.into_iter().rev().map(|k| (k, depth + 1)));
            }
            out.push(c);
        }
        if out.len() != total {
            return Err(Error::corrupt(
                "some categories are not reachable from the top of the tree (a cycle)",
            ));
        }
        Ok(out)
    }

    /// The products of a category that are not archived, by name, `limit`
    /// at a time (1 to [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE)); with
    /// `include_subcategories`, also those of every category below it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown category;
    /// [`ErrorKind::Invalid`] for a bad cursor or limit.
    pub fn category_products(
        &self,
        category_id: CategoryId,
        include_subcategories: bool,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Product>> {
        let limit = check_limit(limit)?;
        self.category(category_id)?;
        let (name, id) = name_cursor(after)?;
        let depth = if include_subcategories {
            i64::from(MAX_CATEGORY_DEPTH)
        } else {
            0
        };
        let mut items = self.db.query_vec(
            sql!(sqlite: CATEGORY_PRODUCTS, postgres: CATEGORY_PRODUCTS_PG),
            &[&category_id, &depth, &name, &id, &(limit + 1)],
            product_from_row,
        )?;
        self.fill(&mut items)?;
        Ok(into_page(items, limit, |p| format!("{}|{}", p.id, p.name)))
    }

    /// A collection.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn collection(&self, id: CollectionId) -> Result<Collection> {
        self.db
            .query_opt(
                sql!(select_collection!("WHERE c.id = ?1")),
                &[&id],
                collection_row,
            )?
            .ok_or_else(|| Error::not_found("collection", id))
    }

    /// Every collection, by name.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn collections(&self) -> Result<Vec<Collection>> {
        self.db.query_vec(
            sql!(select_collection!("ORDER BY c.name")),
            &[],
            collection_row,
        )
    }

    /// The products of a collection that are not archived, in the
    /// collection's order, `limit` at a time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown collection;
    /// [`ErrorKind::Invalid`] for a bad cursor or limit.
    pub fn collection_products(
        &self,
        collection_id: CollectionId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Product>> {
        let limit = check_limit(limit)?;
        self.collection(collection_id)?;
        let position: i64 = match after {
            None => -1,
            Some(c) => c
                .key()?
                .parse()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| Error::invalid("cursor", "is not a collection cursor"))?,
        };
        let keyed = self.db.query_vec(
            sql!(COLLECTION_PRODUCTS),
            &[&collection_id, &position, &(limit + 1)],
            |r| Ok((product_from_row(r)?, r.get::<i64>(8)?)),
        )?;
        let page = into_page(keyed, limit, |(_, position)| position.to_string());
        let mut items: Vec<Product> = page.items.into_iter().map(|(p, _)| p).collect();
        self.fill(&mut items)?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// The ids of every category in the subtree of `id` (itself included)
    /// with their depth below it.
    fn subtree(&self, id: CategoryId) -> Result<Vec<(CategoryId, i64)>> {
        self.db.query_vec(
            sql!(sqlite: SUBTREE, postgres: SUBTREE_PG),
            &[&id, &i64::from(MAX_CATEGORY_DEPTH)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

/// A name-order cursor (`id|name`), as [`CatalogReader::products`] makes.
pub(super) fn name_cursor(after: Option<&Cursor>) -> Result<(Option<String>, Option<ProductId>)> {
    match after {
        None => Ok((None, None)),
        Some(c) => {
            let key = c.key()?;
            let (id, name) = key
                .split_once('|')
                .ok_or_else(|| Error::invalid("cursor", "is not a product cursor"))?;
            Ok((Some(name.to_owned()), Some(ProductId::parse(id, "cursor")?)))
        }
    }
}

fn taken(entity: &'static str) -> Error {
    Error::new(ErrorKind::AlreadyExists {
        entity,
        field: "name",
    })
}

/// A unique index lost to another writer between the check and the write.
fn map_unique(err: Error) -> Error {
    match err.violated_unique() {
        Some(what) if what.contains("categories_sibling_name") => taken("category"),
        Some(what) if what.contains("collections.name") || what == "collections_name_key" => {
            taken("collection")
        }
        _ => err,
    }
}

impl Catalog<'_> {
    /// Creates a category, at the top or below a parent.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `name` (empty, too long), `parent_id`
    /// (unknown, or the new category would be deeper than
    /// [`MAX_CATEGORY_DEPTH`]) or `categories` (the catalog has
    /// [`MAX_CATEGORIES`]); [`ErrorKind::AlreadyExists`] on `name` when a
    /// sibling has the name.
    pub fn create_category(&self, new: NewCategory) -> Result<Category> {
        self.tx.atomic(|| {
            let name = validate::required_text("name", &new.name, MAX_CATEGORY_NAME_LEN)?;
            // The parent's depth and the count stay true until commit.
            self.lock_categories()?;
            let count: i64 =
                self.tx
                    .db()
                    .query_row(sql!("SELECT count(*) FROM categories"), &[], |r| r.get(0))?;
            if count >= MAX_CATEGORIES as i64 {
                return Err(Error::invalid(
                    "categories",
                    format!("the catalog already has {MAX_CATEGORIES} categories"),
                ));
            }
            if let Some(parent) = new.parent_id {
                let depth = self.parent_depth(parent)?;
                if depth + 1 > MAX_CATEGORY_DEPTH {
                    return Err(Error::invalid(
                        "parent_id",
                        format!("the category would sit deeper than {MAX_CATEGORY_DEPTH} levels"),
                    ));
                }
            }
            self.require_free_name(new.parent_id, &name, None)?;
            let id = CategoryId::new();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO categories (id, parent_id, name, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?4)"
                    ),
                    &[&id, &new.parent_id, &name, &self.tx.now()],
                )
                .map_err(map_unique)?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "category",
                entity_id: &id.to_string(),
                changed_fields: &["name", "parent_id"],
            })?;
            self.category(id)
        })
    }

    /// The depth of a would-be parent, which must exist.
    fn parent_depth(&self, parent: CategoryId) -> Result<u32> {
        match self.category(parent) {
            Ok(c) => Ok(c.depth),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound { .. }) => Err(Error::invalid(
                "parent_id",
                format!("no category has id {parent}"),
            )),
            Err(e) => Err(e),
        }
    }

    fn require_free_name(
        &self,
        parent: Option<CategoryId>,
        name: &str,
        except: Option<CategoryId>,
    ) -> Result<()> {
        let taken_by: Option<CategoryId> = self.tx.db().query_opt(
            sql!(
                sqlite: "SELECT id FROM categories WHERE parent_id IS ?1 AND name = ?2",
                postgres: "SELECT id FROM categories \
                    WHERE parent_id IS NOT DISTINCT FROM CAST(?1 AS uuid) AND name = ?2"
            ),
            &[&parent, &name],
            |r| r.get(0),
        )?;
        match taken_by {
            Some(other) if Some(other) != except => Err(taken("category")),
            _ => Ok(()),
        }
    }

    /// Renames or moves a category if its version is still
    /// `expected_version`. A move takes the whole subtree along; the search
    /// index of every product in the subtree follows.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id; [`ErrorKind::Conflict`]
    /// for a stale version; [`ErrorKind::Invalid`] naming `name`, or
    /// `parent_id` for an unknown parent, the category itself or one of its
    /// subcategories (a cycle), or a move that would put part of the
    /// subtree deeper than [`MAX_CATEGORY_DEPTH`];
    /// [`ErrorKind::AlreadyExists`] on `name` when a sibling at the
    /// destination has the name.
    pub fn update_category(
        &self,
        id: CategoryId,
        expected_version: i64,
        patch: CategoryPatch,
    ) -> Result<Category> {
        self.tx.atomic(|| {
            self.lock_categories()?;
            let current = self.category(id)?;
            Error::require_version("category", id, expected_version, current.version)?;
            let name = match &patch.name {
                Some(n) => validate::required_text("name", n, MAX_CATEGORY_NAME_LEN)?,
                None => current.name.clone(),
            };
            let parent = patch.parent_id.unwrap_or(current.parent_id);
            let subtree = self.subtree(id)?;
            if let Some(p) = parent {
                if subtree.iter().any(|(c, _)| *c == p) {
                    return Err(Error::invalid(
                        "parent_id",
                        "is the category itself or one of its subcategories: the tree would \
                         have a cycle",
                    ));
                }
                let height = subtree.iter().map(|(_, d)| *d).max().unwrap_or(0);
                let depth = self.parent_depth(p)?;
                if i64::from(depth) + 1 + height > i64::from(MAX_CATEGORY_DEPTH) {
                    return Err(Error::invalid(
                        "parent_id",
                        format!(
                            "the move would put part of the subtree deeper than \
                             {MAX_CATEGORY_DEPTH} levels"
                        ),
                    ));
                }
            }
            let mut changed: Vec<&str> = Vec::new();
            if name != current.name {
                changed.push("name");
            }
            if parent != current.parent_id {
                changed.push("parent_id");
            }
            if changed.is_empty() {
                return Ok(current);
            }
            self.require_free_name(parent, &name, Some(id))?;
            self.tx
                .db()
                .execute(
                    sql!(
                        "UPDATE categories SET name = ?2, parent_id = ?3, updated_at = ?4, \
                         version = version + 1 WHERE id = ?1"
                    ),
                    &[&id, &name, &parent, &self.tx.now()],
                )
                .map_err(map_unique)?;
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "category",
                entity_id: &id.to_string(),
                changed_fields: &changed,
            })?;
            let ids: Vec<CategoryId> = subtree.into_iter().map(|(c, _)| c).collect();
            self.reindex_products_of(&ids)?;
            self.category(id)
        })
    }

    /// On PostgreSQL, serialises changes to the tree's shape (moves and
    /// deletes) across servers: two moves checked at once could otherwise
    /// each pass the cycle check and make a cycle together. The lock is
    /// the categories table's own, held to the end of the unit of work;
    /// reads are not blocked.
    fn lock_categories(&self) -> Result<()> {
        self.tx.db().lock_for_update(
            sql!(postgres_only: "LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE"),
            &[],
        )
    }

    /// On PostgreSQL, holds the tree's shape (and its names) still while a
    /// product's categories are written and its search text read from
    /// them: a rename or move waits, and sees the new membership after.
    /// Lock order everywhere: the categories table, then product rows.
    pub(super) fn lock_categories_shared(&self) -> Result<()> {
        self.tx.db().lock_for_update(
            sql!(postgres_only: "LOCK TABLE categories IN SHARE MODE"),
            &[],
        )
    }

    /// Rewrites the search rows of the products in these categories.
    fn reindex_products_of(&self, categories: &[CategoryId]) -> Result<()> {
        let mut products = BTreeSet::new();
        for c in categories {
            self.tx.db().query_each(
                sql!("SELECT product_id FROM product_categories WHERE category_id = ?1"),
                &[c],
                |r| {
                    products.insert(r.get::<ProductId>(0)?);
                    Ok(())
                },
            )?;
        }
        for p in products {
            search::reindex(self.tx.db(), p)?;
        }
        Ok(())
    }

    /// Deletes a category that has no subcategories; the products in it
    /// leave it (they stay in their other categories).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id; [`ErrorKind::InvalidState`]
    /// while it has subcategories (move or delete them first) or a promotion
    /// names it.
    pub fn delete_category(&self, id: CategoryId) -> Result<()> {
        self.tx.atomic(|| {
            self.lock_categories()?;
            self.category(id)?;
            let has_children: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM categories WHERE parent_id = ?1)"),
                &[&id],
                |r| r.get(0),
            )?;
            if has_children {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "category",
                    id: id.to_string(),
                    reason: "has subcategories; move or delete them first".into(),
                }));
            }
            // A promotion for a deleted category would silently apply to
            // nothing (or, without its only condition, to everything).
            let promotion: Option<String> = self.tx.db().query_opt(
                sql!(
                    "SELECT p.key FROM promotion_conditions pc JOIN promotions p \
                     ON p.id = pc.promotion_id WHERE pc.kind = 'category' AND pc.target_id = ?1 \
                     ORDER BY p.key LIMIT 1"
                ),
                &[&id],
                |r| r.get(0),
            )?;
            if let Some(key) = promotion {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "category",
                    id: id.to_string(),
                    reason: format!(
                        "promotion {key:?} is for it; a category a promotion names stays"
                    ),
                }));
            }
            let members: Vec<ProductId> = self.tx.db().query_vec(
                sql!("SELECT product_id FROM product_categories WHERE category_id = ?1"),
                &[&id],
                |r| r.get(0),
            )?;
            self.tx.db().execute(
                sql!("DELETE FROM product_categories WHERE category_id = ?1"),
                &[&id],
            )?;
            self.tx
                .db()
                .execute(sql!("DELETE FROM categories WHERE id = ?1"), &[&id])?;
            self.tx.audit_change(Change {
                action: "delete",
                entity_type: "category",
                entity_id: &id.to_string(),
                changed_fields: &[],
            })?;
            for p in members {
                self.touch_product(p)?;
                self.audit_product_update(p, "categories")?;
                search::reindex(self.tx.db(), p)?;
            }
            Ok(())
        })
    }

    /// Creates a collection.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `name`, `description` or
    /// `collections` (the catalog has [`MAX_COLLECTIONS`]);
    /// [`ErrorKind::AlreadyExists`] on `name`.
    pub fn create_collection(&self, new: NewCollection) -> Result<Collection> {
        self.tx.atomic(|| {
            let name = validate::required_text("name", &new.name, MAX_COLLECTION_NAME_LEN)?;
            let description = validate::optional_long_text(
                "description",
                new.description.as_deref(),
                super::MAX_DESCRIPTION_LEN,
            )?;
            let count: i64 =
                self.tx
                    .db()
                    .query_row(sql!("SELECT count(*) FROM collections"), &[], |r| r.get(0))?;
            if count >= MAX_COLLECTIONS as i64 {
                return Err(Error::invalid(
                    "collections",
                    format!("the catalog already has {MAX_COLLECTIONS} collections"),
                ));
            }
            self.require_free_collection_name(&name, None)?;
            let id = CollectionId::new();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO collections (id, name, description, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?4)"
                    ),
                    &[&id, &name, &description, &self.tx.now()],
                )
                .map_err(map_unique)?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "collection",
                entity_id: &id.to_string(),
                changed_fields: &["name", "description"],
            })?;
            self.collection(id)
        })
    }

    fn require_free_collection_name(&self, name: &str, except: Option<CollectionId>) -> Result<()> {
        let taken_by: Option<CollectionId> = self.tx.db().query_opt(
            sql!("SELECT id FROM collections WHERE name = ?1"),
            &[&name],
            |r| r.get(0),
        )?;
        match taken_by {
            Some(other) if Some(other) != except => Err(taken("collection")),
            _ => Ok(()),
        }
    }

    /// Renames a collection or changes its description, if its version is
    /// still `expected_version`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`], [`ErrorKind::Conflict`],
    /// [`ErrorKind::Invalid`] and [`ErrorKind::AlreadyExists`] as
    /// [`create_collection`](Catalog::create_collection).
    pub fn update_collection(
        &self,
        id: CollectionId,
        expected_version: i64,
        patch: CollectionPatch,
    ) -> Result<Collection> {
        self.tx.atomic(|| {
            self.lock_collection(id)?;
            let current = self.collection(id)?;
            Error::require_version("collection", id, expected_version, current.version)?;
            let name = match &patch.name {
                Some(n) => validate::required_text("name", n, MAX_COLLECTION_NAME_LEN)?,
                None => current.name.clone(),
            };
            let description = match &patch.description {
                Some(d) => validate::optional_long_text(
                    "description",
                    d.as_deref(),
                    super::MAX_DESCRIPTION_LEN,
                )?,
                None => current.description.clone(),
            };
            let mut changed: Vec<&str> = Vec::new();
            if name != current.name {
                changed.push("name");
            }
            if description != current.description {
                changed.push("description");
            }
            if changed.is_empty() {
                return Ok(current);
            }
            self.require_free_collection_name(&name, Some(id))?;
            self.tx
                .db()
                .execute(
                    sql!(
                        "UPDATE collections SET name = ?2, description = ?3, updated_at = ?4, \
                         version = version + 1 WHERE id = ?1"
                    ),
                    &[&id, &name, &description, &self.tx.now()],
                )
                .map_err(map_unique)?;
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "collection",
                entity_id: &id.to_string(),
                changed_fields: &changed,
            })?;
            self.collection(id)
        })
    }

    /// On PostgreSQL, locks a collection's row to the end of the unit of
    /// work, so that its list is changed by one server at a time.
    fn lock_collection(&self, id: CollectionId) -> Result<()> {
        self.tx.db().lock_for_update(
            sql!(postgres_only: "SELECT 1 FROM collections WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
    }

    fn touch_collection(&self, id: CollectionId) -> Result<()> {
        self.tx.db().execute(
            sql!("UPDATE collections SET updated_at = ?2, version = version + 1 WHERE id = ?1"),
            &[&id, &self.tx.now()],
        )?;
        self.tx.audit_change(Change {
            action: "update",
            entity_type: "collection",
            entity_id: &id.to_string(),
            changed_fields: &["products"],
        })
    }

    /// Deletes a collection (its products are not touched).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn delete_collection(&self, id: CollectionId) -> Result<()> {
        self.tx.atomic(|| {
            self.lock_collection(id)?;
            self.collection(id)?;
            self.tx.db().execute(
                sql!("DELETE FROM collection_products WHERE collection_id = ?1"),
                &[&id],
            )?;
            self.tx
                .db()
                .execute(sql!("DELETE FROM collections WHERE id = ?1"), &[&id])?;
            self.tx.audit_change(Change {
                action: "delete",
                entity_type: "collection",
                entity_id: &id.to_string(),
                changed_fields: &[],
            })
        })
    }

    /// Adds a product at the end of a collection; a product already in it
    /// stays where it is.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown collection or product;
    /// [`ErrorKind::Invalid`] on `products` when the collection already
    /// lists [`MAX_COLLECTION_PRODUCTS`].
    pub fn add_to_collection(
        &self,
        collection_id: CollectionId,
        product_id: ProductId,
    ) -> Result<Collection> {
        self.tx.atomic(|| {
            self.lock_collection(collection_id)?;
            let collection = self.collection(collection_id)?;
            self.require_product(product_id)?;
            let present: bool = self.tx.db().query_row(
                sql!(
                    "SELECT EXISTS (SELECT 1 FROM collection_products \
                     WHERE collection_id = ?1 AND product_id = ?2)"
                ),
                &[&collection_id, &product_id],
                |r| r.get(0),
            )?;
            if present {
                return Ok(collection);
            }
            if collection.product_count >= MAX_COLLECTION_PRODUCTS as u64 {
                return Err(Error::invalid(
                    "products",
                    format!("the collection already lists {MAX_COLLECTION_PRODUCTS} products"),
                ));
            }
            self.tx.db().execute(
                sql!(
                    "INSERT INTO collection_products (collection_id, product_id, position) \
                     VALUES (?1, ?2, (SELECT coalesce(max(position) + 1, 0) \
                     FROM collection_products WHERE collection_id = ?1))"
                ),
                &[&collection_id, &product_id],
            )?;
            self.touch_collection(collection_id)?;
            self.collection(collection_id)
        })
    }

    /// Takes a product out of a collection; one not in it changes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown collection.
    pub fn remove_from_collection(
        &self,
        collection_id: CollectionId,
        product_id: ProductId,
    ) -> Result<Collection> {
        self.tx.atomic(|| {
            self.lock_collection(collection_id)?;
            let collection = self.collection(collection_id)?;
            let removed = self.tx.db().execute(
                sql!(
                    "DELETE FROM collection_products WHERE collection_id = ?1 AND product_id = ?2"
                ),
                &[&collection_id, &product_id],
            )?;
            if removed == 0 {
                return Ok(collection);
            }
            self.touch_collection(collection_id)?;
            self.collection(collection_id)
        })
    }

    /// Replaces a collection's list: exactly these products, in this order.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown collection;
    /// [`ErrorKind::Invalid`] naming `product_ids[i]` for an unknown or
    /// repeated product, or `product_ids` for more than
    /// [`MAX_COLLECTION_PRODUCTS`].
    pub fn set_collection_products(
        &self,
        collection_id: CollectionId,
        product_ids: Vec<ProductId>,
    ) -> Result<Collection> {
        self.tx.atomic(|| {
            self.lock_collection(collection_id)?;
            self.collection(collection_id)?;
            if product_ids.len() > MAX_COLLECTION_PRODUCTS {
                return Err(Error::invalid(
                    "product_ids",
                    format!(
                        "has {} products, at most {MAX_COLLECTION_PRODUCTS}",
                        product_ids.len()
                    ),
                ));
            }
            let mut seen = BTreeSet::new();
            for (i, id) in product_ids.iter().enumerate() {
                if !seen.insert(*id) {
                    return Err(Error::invalid(
                        format!("product_ids[{i}]"),
                        "names a product twice",
                    ));
                }
                if let Err(e) = self.require_product(*id) {
                    return Err(match e.kind() {
                        ErrorKind::NotFound { .. } => Error::invalid(
                            format!("product_ids[{i}]"),
                            format!("no product has id {id}"),
                        ),
                        _ => e,
                    });
                }
            }
            self.tx.db().execute(
                sql!("DELETE FROM collection_products WHERE collection_id = ?1"),
                &[&collection_id],
            )?;
            for (position, id) in product_ids.iter().enumerate() {
                self.tx.db().execute(
                    sql!(
                        "INSERT INTO collection_products (collection_id, product_id, position) \
                         VALUES (?1, ?2, ?3)"
                    ),
                    &[&collection_id, id, &(position as i64)],
                )?;
            }
            self.touch_collection(collection_id)?;
            self.collection(collection_id)
        })
    }

    fn require_product(&self, id: ProductId) -> Result<()> {
        let exists: bool = self.tx.db().query_row(
            sql!("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)"),
            &[&id],
            |r| r.get(0),
        )?;
        if exists {
            Ok(())
        } else {
            Err(Error::not_found("product", id))
        }
    }
}

/// Tree invariants for `check()`: every category reachable from the top
/// (no cycle), none deeper than [`MAX_CATEGORY_DEPTH`].
pub(crate) fn check(
    conn: crate::db::Conn<'_>,
    report: &mut crate::unit::CheckReport,
) -> Result<()> {
    let reader = CatalogReader::new(conn);
    match reader.categories() {
        Ok(all) => {
            for c in all.iter().filter(|c| c.depth > MAX_CATEGORY_DEPTH) {
                report.push(format!(
                    "category {} sits at depth {}, deeper than {MAX_CATEGORY_DEPTH}",
                    c.id, c.depth
                ));
            }
        }
        Err(e) => report.push(format!("categories: {e}")),
    }
    Ok(())
}
