//! The catalog: products and their variants (the things with a SKU, a price
//! and stock).
//!
//! A product groups variants that differ by option values (size, colour).
//! Each variant has a unique SKU, an optional barcode, a unit price in one
//! currency (up to [`PRICE_DECIMALS`](crate::money::PRICE_DECIMALS)
//! decimals, see [`crate::money`]), and two stock flags: whether custdb
//! tracks its stock (services and gift cards are not tracked) and whether it
//! may be sold below zero available (backorders). Archived products and
//! variants stay readable but cannot be ordered, nor can the variants of a
//! draft product.
//!
//! Products also carry media references (images and documents, by URL or
//! path), belong to categories (a tree, [`Category`]) and to collections
//! (hand-ordered lists, [`Collection`]), and are found by full-text search
//! over title, description, SKUs, barcodes and category names
//! ([`CatalogReader::search_products`]). docs/CATALOG.md has the rules.

mod search;
mod taxonomy;

pub use taxonomy::{
    Category, CategoryPatch, Collection, CollectionPatch, NewCategory, NewCollection,
    MAX_CATEGORIES, MAX_CATEGORY_DEPTH, MAX_CATEGORY_NAME_LEN, MAX_COLLECTIONS,
    MAX_COLLECTION_NAME_LEN, MAX_COLLECTION_PRODUCTS,
};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::audit::Change;
use crate::customer::ArchiveState;
use crate::db::{sql, Conn, Json, Row};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{CategoryId, CollectionId, MediaId, ProductId, VariantId};
use crate::money::{self, Currency, Money};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::text_enum::text_enum;
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// Longest product name, in characters.
pub const MAX_PRODUCT_NAME_LEN: usize = 200;
/// Longest product description, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 10_000;
/// Longest SKU, in characters.
pub const MAX_SKU_LEN: usize = 64;
/// Longest variant title, in characters.
pub const MAX_VARIANT_TITLE_LEN: usize = 200;
/// Longest barcode, in characters.
pub const MAX_BARCODE_LEN: usize = 64;
/// Most variants one product may have.
pub const MAX_VARIANTS_PER_PRODUCT: usize = 100;
/// Most option values (size, colour, ...) one variant may have.
pub const MAX_OPTIONS: usize = 8;
/// Longest option name, in characters.
pub const MAX_OPTION_NAME_LEN: usize = 32;
/// Longest option value, in characters.
pub const MAX_OPTION_VALUE_LEN: usize = 64;
/// Most media references one product may have.
pub const MAX_MEDIA_PER_PRODUCT: usize = 100;
/// Longest media reference (a URL or a path), in characters.
pub const MAX_MEDIA_REFERENCE_LEN: usize = 2048;
/// Longest alternative text of a media reference, in characters.
pub const MAX_ALT_TEXT_LEN: usize = 500;
/// Highest media position.
pub const MAX_MEDIA_POSITION: u32 = 1_000_000;
/// Most categories one product may be in.
pub const MAX_CATEGORIES_PER_PRODUCT: usize = 32;

text_enum!(
    /// Whether a product is on sale yet.
    ProductStatus {
        /// Being prepared: listed and found, but its variants cannot be
        /// ordered.
        Draft = "draft",
        /// On sale (unless archived).
        Active = "active",
    }
);

text_enum!(
    /// What a media reference points at.
    MediaKind {
        /// A picture (alt text recommended).
        Image = "image",
        /// A document: a data sheet, a manual, a certificate.
        Document = "document",
    }
);

/// An image or document of a product, by reference: custdb stores the URL
/// or path, never the bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ProductMedia {
    /// The reference's id.
    pub id: MediaId,
    /// Its product.
    pub product_id: ProductId,
    /// Image or document.
    pub kind: MediaKind,
    /// A URL or a path, as given (trimmed).
    pub reference: String,
    /// Alternative text, for an image.
    pub alt_text: Option<String>,
    /// Its place in the product's list (lowest first; ties by id).
    pub position: u32,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A media reference to add to a product.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewMedia {
    /// Image or document.
    pub kind: MediaKind,
    /// A URL or a path: 1 to [`MAX_MEDIA_REFERENCE_LEN`] characters, no
    /// control characters.
    pub reference: String,
    /// Alternative text, at most [`MAX_ALT_TEXT_LEN`] characters.
    #[serde(default)]
    pub alt_text: Option<String>,
    /// Its place (0 to [`MAX_MEDIA_POSITION`]); `None` puts it after the
    /// product's last one.
    #[serde(default)]
    pub position: Option<u32>,
}
crate::input::strict_serde!(NewMedia);

impl NewMedia {
    /// An image at a URL or path.
    pub fn image(reference: impl Into<String>) -> Self {
        NewMedia {
            kind: MediaKind::Image,
            reference: reference.into(),
            alt_text: None,
            position: None,
        }
    }

    /// A document at a URL or path.
    pub fn document(reference: impl Into<String>) -> Self {
        NewMedia {
            kind: MediaKind::Document,
            ..NewMedia::image(reference)
        }
    }

    /// Sets the alternative text.
    pub fn alt_text(mut self, text: impl Into<String>) -> Self {
        self.alt_text = Some(text.into());
        self
    }

    /// Sets the position.
    pub fn position(mut self, position: u32) -> Self {
        self.position = Some(position);
        self
    }
}

/// A partial update of a product: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ProductPatch {
    /// New name (title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description, or `Some(None)` (JSON `null`) to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
}
crate::input::strict_serde!(ProductPatch; not_null: name, status);

impl ProductPatch {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(Some(text.into()));
        self
    }

    /// Clears the description.
    pub fn clear_description(mut self) -> Self {
        self.description = Some(None);
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: ProductStatus) -> Self {
        self.status = Some(status);
        self
    }
}

/// A product and its variants.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Product {
    /// The product's id.
    pub id: ProductId,
    /// Its name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Its variants, in the order they were added (the order given to
    /// [`create_product`](Catalog::create_product), then `add_variant`s).
    pub variants: Vec<Variant>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
    /// When it was archived; `None` while active.
    pub archived_at: Option<DateTime<Utc>>,
    /// Draft or active (an archived product keeps its status).
    pub status: ProductStatus,
    /// Its images and documents, by position.
    pub media: Vec<ProductMedia>,
    /// The categories it is in, by id.
    pub category_ids: Vec<CategoryId>,
}

/// One sellable variant of a product.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Variant {
    /// The variant's id.
    pub id: VariantId,
    /// Its product.
    pub product_id: ProductId,
    /// The stock-keeping unit, unique across the catalog.
    pub sku: String,
    /// A title such as "Large / Blue".
    pub title: Option<String>,
    /// Option values, e.g. `size = L`, `colour = blue`.
    pub options: BTreeMap<String, String>,
    /// A barcode (EAN, UPC, ...), unique when present.
    pub barcode: Option<String>,
    /// The unit price.
    pub price: Money,
    /// Whether custdb keeps a stock ledger for it.
    pub track_stock: bool,
    /// Whether it may be sold when none is available.
    pub allow_backorder: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
    /// When it was archived; `None` while it can be sold.
    pub archived_at: Option<DateTime<Utc>>,
    /// Its tax class (docs/PRICING.md): `standard` unless set.
    pub tax_class: String,
}

impl Variant {
    /// True once archived.
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// A product to create, with its first variants.
///
/// # Example
///
/// ```
/// use custdb::{Currency, Decimal, NewProduct, NewVariant, Store};
///
/// let store = Store::open_in_memory()?;
/// let tee = store.write(|tx| {
///     tx.catalog().create_product(
///         NewProduct::new("Tee")
///             .variant(NewVariant::new("TEE-S", Decimal::new(1500, 2), Currency::GBP).option("size", "S"))
///             .variant(NewVariant::new("TEE-M", Decimal::new(1500, 2), Currency::GBP).option("size", "M")),
///     )
/// })?;
/// assert_eq!(tee.variants.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewProduct {
    /// Name (required).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Variants to create with it.
    #[serde(default)]
    pub variants: Vec<NewVariant>,
    /// Draft or active (default active).
    #[serde(default = "active")]
    pub status: ProductStatus,
    /// Categories to put it in (at most [`MAX_CATEGORIES_PER_PRODUCT`]).
    #[serde(default)]
    pub category_ids: Vec<CategoryId>,
}
crate::input::strict_serde!(NewProduct);

impl Default for NewProduct {
    fn default() -> Self {
        NewProduct {
            name: String::new(),
            description: None,
            variants: Vec::new(),
            status: ProductStatus::Active,
            category_ids: Vec::new(),
        }
    }
}

fn active() -> ProductStatus {
    ProductStatus::Active
}

impl NewProduct {
    /// A product with this name.
    pub fn new(name: impl Into<String>) -> Self {
        NewProduct {
            name: name.into(),
            ..NewProduct::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Adds a variant.
    pub fn variant(mut self, variant: NewVariant) -> Self {
        self.variants.push(variant);
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: ProductStatus) -> Self {
        self.status = status;
        self
    }

    /// Puts it in a category.
    pub fn category(mut self, id: CategoryId) -> Self {
        self.category_ids.push(id);
        self
    }
}

/// A variant to create.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewVariant {
    /// SKU (required, unique).
    pub sku: String,
    /// Unit price.
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub price: rust_decimal::Decimal,
    /// The price's currency (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Option values.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Barcode.
    #[serde(default)]
    pub barcode: Option<String>,
    /// Track stock (default true).
    #[serde(default = "yes")]
    pub track_stock: bool,
    /// Allow backorders (default false).
    #[serde(default)]
    pub allow_backorder: bool,
    /// Its tax class, one defined with
    /// [`define_tax_class`](crate::Pricing::define_tax_class) (default
    /// `standard`).
    #[serde(default)]
    pub tax_class: Option<String>,
}
crate::input::strict_serde!(NewVariant);

fn yes() -> bool {
    true
}

impl NewVariant {
    /// A tracked variant without backorders.
    pub fn new(sku: impl Into<String>, price: rust_decimal::Decimal, currency: Currency) -> Self {
        NewVariant {
            sku: sku.into(),
            price,
            currency,
            title: None,
            options: BTreeMap::new(),
            barcode: None,
            track_stock: true,
            allow_backorder: false,
            tax_class: None,
        }
    }

    /// Sets the tax class.
    pub fn tax_class(mut self, class: impl Into<String>) -> Self {
        self.tax_class = Some(class.into());
        self
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Adds an option value.
    pub fn option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(name.into(), value.into());
        self
    }

    /// Sets the barcode.
    pub fn barcode(mut self, code: impl Into<String>) -> Self {
        self.barcode = Some(code.into());
        self
    }

    /// Whether stock is tracked.
    pub fn track_stock(mut self, yes: bool) -> Self {
        self.track_stock = yes;
        self
    }

    /// Whether backorders are allowed.
    pub fn allow_backorder(mut self, yes: bool) -> Self {
        self.allow_backorder = yes;
        self
    }
}

/// A partial update of a variant: `None` leaves a field as it is. The SKU
/// and the product never change (a new SKU is a new variant).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct VariantPatch {
    /// New title.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New unit price, in the same currency unless `currency` is set too.
    #[serde(default, deserialize_with = "crate::money::amount_text::option")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<rust_decimal::Decimal>,
    /// New currency (with `price`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// New barcode.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// Track stock or not.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_stock: Option<bool>,
    /// Allow backorders or not.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_backorder: Option<bool>,
    /// New tax class.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_class: Option<String>,
}
crate::input::strict_serde!(VariantPatch; not_null: title, price, currency, barcode, track_stock, allow_backorder, tax_class);

impl VariantPatch {
    /// Sets the price.
    pub fn price(mut self, price: rust_decimal::Decimal) -> Self {
        self.price = Some(price);
        self
    }

    /// Sets whether backorders are allowed.
    pub fn allow_backorder(mut self, yes: bool) -> Self {
        self.allow_backorder = Some(yes);
        self
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

macro_rules! select_variant {
    () => {
        "SELECT id, product_id, sku, title, options, barcode, price_e4, currency, track_stock, \
         allow_backorder, created_at, updated_at, version, archived_at, tax_class \
         FROM product_variants "
    };
}

/// The variants of the products whose ids are in the JSON array ?1.
const VARIANTS_OF_PRODUCTS: &str = concat!(
    select_variant!(),
    "WHERE product_id IN (SELECT value FROM json_each(?1)) ORDER BY product_id, id"
);

/// [`VARIANTS_OF_PRODUCTS`] on PostgreSQL.
const VARIANTS_OF_PRODUCTS_PG: &str = concat!(
    select_variant!(),
    "WHERE product_id IN (SELECT j.value::uuid FROM jsonb_array_elements_text(?1::jsonb) AS j(value)) \
     ORDER BY product_id, id"
);

/// One page of products after the cursor (name ?1, id ?2; NULL for the
/// first page).
const PRODUCT_PAGE: &str = "SELECT id, name, description, created_at, updated_at, version, \
    archived_at, status FROM products WHERE (?1 IS NULL OR (name, id) > (?1, ?2)) \
    AND (?3 = 'all' OR (archived_at IS NULL) = (?3 = 'active')) \
    ORDER BY name, id LIMIT ?4";

/// [`PRODUCT_PAGE`] on PostgreSQL, where the NULL of the first page needs
/// its type.
const PRODUCT_PAGE_PG: &str = "SELECT id, name, description, created_at, updated_at, version, \
    archived_at, status FROM products WHERE (CAST(?1 AS text) IS NULL OR (name, id) > (?1, CAST(?2 AS uuid))) \
    AND (?3 = 'all' OR (archived_at IS NULL) = (?3 = 'active')) \
    ORDER BY name, id LIMIT ?4";

crate::bench_sql::sql_module! {
    /// Catalog statements on the order-placement path, public only so that the
    /// benchmarks' raw-rusqlite baselines run exactly the same text. Not part
    /// of the API.
    mod sql {
    /// A variant by its SKU.
    pub const VARIANT_BY_SKU: &str = concat!(select_variant!(), "WHERE sku = ?1");
    /// A product's name and status.
    pub const PRODUCT_NAME: &str = "SELECT name, status FROM products WHERE id = ?1";
    /// A variant by its id.
    pub const VARIANT_BY_ID: &str = concat!(select_variant!(), "WHERE id = ?1");
    }
}

pub(crate) fn variant_from_row(row: &Row<'_>) -> Result<Variant> {
    let options: String = row.get(4)?;
    let currency: String = row.get(7)?;
    Ok(Variant {
        id: row.get(0)?,
        product_id: row.get(1)?,
        sku: row.get(2)?,
        title: row.get(3)?,
        options: serde_json::from_str(&options).stored()?,
        barcode: row.get(5)?,
        price: Money::from_e4(row.get(6)?, Currency::from_db(&currency)?),
        track_stock: row.get(8)?,
        allow_backorder: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        version: row.get(12)?,
        archived_at: row.get(13)?,
        tax_class: row.get(14)?,
    })
}

/// A product row: everything but the variants.
fn product_from_row(row: &Row<'_>) -> Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        variants: Vec::new(),
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
        version: row.get(5)?,
        archived_at: row.get(6)?,
        status: row.get(7)?,
        media: Vec::new(),
        category_ids: Vec::new(),
    })
}

/// The media of the products whose ids are in the JSON array ?1.
const MEDIA_OF_PRODUCTS: &str = "SELECT id, product_id, kind, reference, alt_text, position, \
    created_at FROM product_media WHERE product_id IN (SELECT value FROM json_each(?1)) \
    ORDER BY product_id, position, id";
/// [`MEDIA_OF_PRODUCTS`] on PostgreSQL.
const MEDIA_OF_PRODUCTS_PG: &str = "SELECT id, product_id, kind, reference, alt_text, position, \
    created_at FROM product_media WHERE product_id IN \
    (SELECT j.value::uuid FROM jsonb_array_elements_text(?1::jsonb) AS j(value)) \
    ORDER BY product_id, position, id";
/// The category memberships of the products whose ids are in ?1.
const CATEGORIES_OF_PRODUCTS: &str = "SELECT product_id, category_id FROM product_categories \
    WHERE product_id IN (SELECT value FROM json_each(?1)) ORDER BY product_id, category_id";
/// [`CATEGORIES_OF_PRODUCTS`] on PostgreSQL.
const CATEGORIES_OF_PRODUCTS_PG: &str = "SELECT product_id, category_id FROM product_categories \
    WHERE product_id IN (SELECT j.value::uuid FROM jsonb_array_elements_text(?1::jsonb) AS j(value)) \
    ORDER BY product_id, category_id";

fn media_from_row(row: &Row<'_>) -> Result<ProductMedia> {
    Ok(ProductMedia {
        id: row.get(0)?,
        product_id: row.get(1)?,
        kind: row.get(2)?,
        reference: row.get(3)?,
        alt_text: row.get(4)?,
        position: u32::try_from(row.get::<i64>(5)?)
            .map_err(|_| Error::corrupt("a media position is out of range"))?,
        created_at: row.get(6)?,
    })
}

/// The columns of a product row, for queries that join other tables
/// (`p` is the product).
macro_rules! product_columns {
    () => {
        "p.id, p.name, p.description, p.created_at, p.updated_at, p.version, p.archived_at, \
         p.status"
    };
}
pub(crate) use product_columns;

/// Read access to the catalog.
#[derive(Debug)]
pub struct CatalogReader<'a> {
    db: Conn<'a>,
}

impl<'a> CatalogReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        CatalogReader { db }
    }

    /// A product with its variants.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn product(&self, id: ProductId) -> Result<Product> {
        let product = self
            .db
            .query_opt(
                sql!(
                    "SELECT id, name, description, created_at, updated_at, version, archived_at, \
                     status FROM products WHERE id = ?1"
                ),
                &[&id],
                product_from_row,
            )?
            .ok_or_else(|| Error::not_found("product", id))?;
        let mut one = [product];
        self.fill(&mut one)?;
        let [product] = one;
        Ok(product)
    }

    /// Reads the variants, media and categories of `products` (three
    /// statements, whatever their number).
    pub(crate) fn fill(&self, products: &mut [Product]) -> Result<()> {
        if products.is_empty() {
            return Ok(());
        }
        let ids: Vec<ProductId> = products.iter().map(|p| p.id).collect();
        let ids = serde_json::to_string(&ids).written()?;
        let mut variants: BTreeMap<ProductId, Vec<Variant>> = BTreeMap::new();
        self.db.query_each(
            sql!(sqlite: VARIANTS_OF_PRODUCTS, postgres: VARIANTS_OF_PRODUCTS_PG),
            &[&Json(&ids)],
            |r| {
                let v = variant_from_row(r)?;
                variants.entry(v.product_id).or_default().push(v);
                Ok(())
            },
        )?;
        let mut media: BTreeMap<ProductId, Vec<ProductMedia>> = BTreeMap::new();
        self.db.query_each(
            sql!(sqlite: MEDIA_OF_PRODUCTS, postgres: MEDIA_OF_PRODUCTS_PG),
            &[&Json(&ids)],
            |r| {
                let m = media_from_row(r)?;
                media.entry(m.product_id).or_default().push(m);
                Ok(())
            },
        )?;
        let mut categories: BTreeMap<ProductId, Vec<CategoryId>> = BTreeMap::new();
        self.db.query_each(
            sql!(sqlite: CATEGORIES_OF_PRODUCTS, postgres: CATEGORIES_OF_PRODUCTS_PG),
            &[&Json(&ids)],
            |r| {
                categories.entry(r.get(0)?).or_default().push(r.get(1)?);
                Ok(())
            },
        )?;
        for p in products.iter_mut() {
            p.variants = variants.remove(&p.id).unwrap_or_default();
            p.media = media.remove(&p.id).unwrap_or_default();
            p.category_ids = categories.remove(&p.id).unwrap_or_default();
        }
        Ok(())
    }

    /// The variants of a product, in the order they were added.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn variants_of(&self, product_id: ProductId) -> Result<Vec<Variant>> {
        self.db.query_vec(
            sql!(concat!(
                select_variant!(),
                "WHERE product_id = ?1 ORDER BY id"
            )),
            &[&product_id],
            variant_from_row,
        )
    }

    /// A media reference by id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn media(&self, id: MediaId) -> Result<ProductMedia> {
        self.db
            .query_opt(
                sql!(
                    "SELECT id, product_id, kind, reference, alt_text, position, created_at \
                     FROM product_media WHERE id = ?1"
                ),
                &[&id],
                media_from_row,
            )?
            .ok_or_else(|| Error::not_found("media", id))
    }

    /// A variant by id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn variant(&self, id: VariantId) -> Result<Variant> {
        self.db
            .query_opt(sql!(sql::VARIANT_BY_ID), &[&id], variant_from_row)?
            .ok_or_else(|| Error::not_found("variant", id))
    }

    /// A variant by SKU (exact match after trimming).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown SKU.
    pub fn variant_by_sku(&self, sku: &str) -> Result<Variant> {
        self.find_by_sku(sku)?
            .ok_or_else(|| Error::not_found("variant", format!("with SKU {:?}", sku.trim())))
    }

    pub(crate) fn find_by_sku(&self, sku: &str) -> Result<Option<Variant>> {
        self.db
            .query_opt(sql!(sql::VARIANT_BY_SKU), &[&sku.trim()], variant_from_row)
    }

    /// A variant by barcode.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown barcode.
    pub fn variant_by_barcode(&self, barcode: &str) -> Result<Variant> {
        self.find_by_barcode(barcode)?
            .ok_or_else(|| Error::not_found("variant", format!("with barcode {barcode:?}")))
    }

    fn find_by_barcode(&self, barcode: &str) -> Result<Option<Variant>> {
        self.db.query_opt(
            sql!(concat!(select_variant!(), "WHERE barcode = ?1")),
            &[&barcode.trim()],
            variant_from_row,
        )
    }

    /// Products in name order, with their variants: the active ones
    /// (`ArchiveState::Active`), the archived ones, or all.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] for a bad cursor or limit.
    pub fn products(
        &self,
        archived: ArchiveState,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Product>> {
        let limit = check_limit(limit)?;
        let (name, id) = match after {
            None => (None, None),
            Some(c) => {
                let key = c.key()?;
                let (id, name) = key
                    .split_once('|')
                    .ok_or_else(|| Error::invalid("cursor", "is not a product cursor"))?;
                (Some(name.to_owned()), Some(ProductId::parse(id, "cursor")?))
            }
        };
        // Four statements for the page, whatever its length: the products,
        // then all their variants, media and categories (no query per
        // product).
        let mut items = self.db.query_vec(
            sql!(sqlite: PRODUCT_PAGE, postgres: PRODUCT_PAGE_PG),
            &[&name, &id, &archived.as_str(), &(limit + 1)],
            product_from_row,
        )?;
        self.fill(&mut items)?;
        Ok(into_page(items, limit, |p| format!("{}|{}", p.id, p.name)))
    }
}

/// The catalog inside a unit of work: everything [`CatalogReader`] does,
/// plus changes.
#[derive(Debug)]
pub struct Catalog<'t> {
    tx: &'t WriteTx<'t>,
    reader: CatalogReader<'t>,
}

impl<'t> std::ops::Deref for Catalog<'t> {
    type Target = CatalogReader<'t>;
    fn deref(&self) -> &CatalogReader<'t> {
        &self.reader
    }
}

struct CheckedVariant {
    tax_class: String,
    sku: String,
    title: Option<String>,
    options: String,
    barcode: Option<String>,
    price_e4: i64,
    currency: Currency,
}

fn check_variant(field: &str, new: &NewVariant) -> Result<CheckedVariant> {
    let sku = sku(&format!("{field}.sku"), &new.sku)?;
    let title = validate::optional_text(
        &format!("{field}.title"),
        new.title.as_deref(),
        MAX_VARIANT_TITLE_LEN,
    )?;
    if new.options.len() > MAX_OPTIONS {
        return Err(Error::invalid(
            format!("{field}.options"),
            format!("has {} options, at most {MAX_OPTIONS}", new.options.len()),
        ));
    }
    let mut options = BTreeMap::new();
    for (name, value) in &new.options {
        let name = validate::required_text(&format!("{field}.options"), name, MAX_OPTION_NAME_LEN)?;
        let value = validate::required_text(
            &format!("{field}.options.{name}"),
            value,
            MAX_OPTION_VALUE_LEN,
        )?;
        options.insert(name, value);
    }
    let barcode = new
        .barcode
        .as_deref()
        .map(|b| barcode(&format!("{field}.barcode"), b))
        .transpose()?;
    let currency = new.currency;
    let price_e4 = money::unit_price(&format!("{field}.price"), new.price)?;
    let tax_class = match &new.tax_class {
        Some(c) => crate::pricing::tax_class_key(&format!("{field}.tax_class"), c)?,
        None => crate::pricing::STANDARD_TAX_CLASS.to_owned(),
    };
    Ok(CheckedVariant {
        tax_class,
        sku,
        title,
        options: serde_json::to_string(&options).written()?,
        barcode,
        price_e4,
        currency,
    })
}

/// Checks a SKU: trimmed, 1 to [`MAX_SKU_LEN`] characters, no control
/// characters. Spaces inside are allowed (real catalogs have them).
pub(crate) fn sku(field: &str, value: &str) -> Result<String> {
    validate::required_text(field, value, MAX_SKU_LEN)
}

fn barcode(field: &str, value: &str) -> Result<String> {
    let b = validate::required_text(field, value, MAX_BARCODE_LEN)?;
    if !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Error::invalid(
            field,
            "may hold only ASCII letters, digits and '-'",
        ));
    }
    Ok(b)
}

impl<'t> Catalog<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Catalog {
            tx,
            reader: CatalogReader::new(tx.db()),
        }
    }

    /// Creates a product with its variants.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming the field (`name`, `variants[1].sku`,
    /// `variants[0].price`, ...): empty or too long text, more than
    /// [`MAX_VARIANTS_PER_PRODUCT`] variants, a price with more than four
    /// decimals, an unknown currency. [`ErrorKind::AlreadyExists`] when a
    /// SKU or barcode is taken.
    pub fn create_product(&self, new: NewProduct) -> Result<Product> {
        self.tx.atomic(|| {
            let name = validate::required_text("name", &new.name, MAX_PRODUCT_NAME_LEN)?;
            let description = validate::optional_long_text(
                "description",
                new.description.as_deref(),
                MAX_DESCRIPTION_LEN,
            )?;
            if new.variants.len() > MAX_VARIANTS_PER_PRODUCT {
                return Err(Error::invalid(
                    "variants",
                    format!(
                        "has {} variants, at most {MAX_VARIANTS_PER_PRODUCT}",
                        new.variants.len()
                    ),
                ));
            }
            let checked = new
                .variants
                .iter()
                .enumerate()
                .map(|(i, v)| check_variant(&format!("variants[{i}]"), v))
                .collect::<Result<Vec<_>>>()?;
            if !new.category_ids.is_empty() {
                self.lock_categories_shared()?;
            }
            let categories = self.check_categories("category_ids", &new.category_ids)?;
            let id = ProductId::new();
            self.tx.db().execute(
                sql!(
                    "INSERT INTO products (id, name, description, created_at, updated_at, status) \
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5)"
                ),
                &[&id, &name, &description, &self.tx.now(), &new.status],
            )?;
            self.tx.audit_change_with(
                Change {
                    action: "create",
                    entity_type: "product",
                    entity_id: &id.to_string(),
                    changed_fields: &["name", "description", "status", "categories"],
                },
                crate::changes::ChangeFacts {
                    status: Some(new.status.as_str().to_owned()),
                    ..crate::changes::ChangeFacts::current()
                },
            )?;
            for (i, (v, new)) in checked.iter().zip(&new.variants).enumerate() {
                self.insert_variant(&format!("variants[{i}]"), id, v, new)?;
            }
            self.insert_categories(id, &categories)?;
            search::reindex(self.tx.db(), id)?;
            self.product(id)
        })
    }

    /// The categories named in `ids`, checked: each exists, none twice, at
    /// most [`MAX_CATEGORIES_PER_PRODUCT`].
    fn check_categories(&self, field: &str, ids: &[CategoryId]) -> Result<Vec<CategoryId>> {
        if ids.len() > MAX_CATEGORIES_PER_PRODUCT {
            return Err(Error::invalid(
                field,
                format!(
                    "has {} categories, at most {MAX_CATEGORIES_PER_PRODUCT}",
                    ids.len()
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            if !seen.insert(*id) {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    "names a category twice",
                ));
            }
            // A category deleted at once by another server is held off by
            // the membership's foreign key.
            self.category(*id).map_err(|e| match e.kind() {
                ErrorKind::NotFound { .. } => {
                    Error::invalid(format!("{field}[{i}]"), format!("no category has id {id}"))
                }
                _ => e,
            })?;
        }
        Ok(seen.into_iter().collect())
    }

    fn insert_categories(&self, product_id: ProductId, ids: &[CategoryId]) -> Result<()> {
        for id in ids {
            self.tx.db().execute(
                sql!("INSERT INTO product_categories (product_id, category_id) VALUES (?1, ?2)"),
                &[&product_id, id],
            )?;
        }
        Ok(())
    }

    /// Changes a product's name, description or status if its version is
    /// still `expected_version`. Setting a product to draft stops its
    /// variants being ordered; orders already placed are not touched.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id; [`ErrorKind::Conflict`]
    /// for a stale version; [`ErrorKind::Invalid`] naming `name` or
    /// `description`; [`ErrorKind::InvalidState`] for an archived product
    /// (restore it first).
    pub fn update_product(
        &self,
        id: ProductId,
        expected_version: i64,
        patch: ProductPatch,
    ) -> Result<Product> {
        self.tx.atomic(|| {
            self.lock_product(id)?;
            let current = self.product(id)?;
            Error::require_version("product", id, expected_version, current.version)?;
            if current.archived_at.is_some() {
                return Err(archived("product", id));
            }
            let name = match &patch.name {
                Some(n) => validate::required_text("name", n, MAX_PRODUCT_NAME_LEN)?,
                None => current.name.clone(),
            };
            let description = match &patch.description {
                Some(d) => {
                    validate::optional_long_text("description", d.as_deref(), MAX_DESCRIPTION_LEN)?
                }
                None => current.description.clone(),
            };
            let status = patch.status.unwrap_or(current.status);
            let mut changed: Vec<&str> = Vec::new();
            if name != current.name {
                changed.push("name");
            }
            if description != current.description {
                changed.push("description");
            }
            if status != current.status {
                changed.push("status");
            }
            if changed.is_empty() {
                return Ok(current);
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE products SET name = ?2, description = ?3, status = ?4, \
                     updated_at = ?5, version = version + 1 WHERE id = ?1"
                ),
                &[&id, &name, &description, &status, &self.tx.now()],
            )?;
            self.tx.audit_change_with(
                Change {
                    action: "update",
                    entity_type: "product",
                    entity_id: &id.to_string(),
                    changed_fields: &changed,
                },
                crate::changes::ChangeFacts {
                    status: Some(status.as_str().to_owned()),
                    ..crate::changes::ChangeFacts::current()
                },
            )?;
            if changed.iter().any(|f| *f != "status") {
                search::reindex(self.tx.db(), id)?;
            }
            self.product(id)
        })
    }

    /// Restores an archived product, and with it the variants that were
    /// archived with it (at the same instant); variants archived before it
    /// stay archived. Restoring an active product changes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn restore_product(&self, id: ProductId) -> Result<Product> {
        self.tx.atomic(|| {
            self.lock_product(id)?;
            let p = self.product(id)?;
            let Some(archived_at) = p.archived_at else {
                return Ok(p);
            };
            for v in p
                .variants
                .iter()
                .filter(|v| v.archived_at == Some(archived_at))
            {
                self.unarchive_variant(v.id)?;
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE products SET archived_at = NULL, updated_at = ?2, \
                     version = version + 1 WHERE id = ?1"
                ),
                &[&id, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "restore",
                entity_type: "product",
                entity_id: &id.to_string(),
                changed_fields: &["archived_at"],
            })?;
            self.product(id)
        })
    }

    /// Restores an archived variant of an active product: it can be
    /// ordered again. Restoring a variant that is not archived changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id; [`ErrorKind::InvalidState`]
    /// when its product is archived (restore the product).
    pub fn restore_variant(&self, id: VariantId) -> Result<Variant> {
        self.tx.atomic(|| {
            let v = self.variant(id)?;
            self.lock_product(v.product_id)?;
            if !v.is_archived() {
                return Ok(v);
            }
            let product_archived: bool = self.tx.db().query_row(
                sql!("SELECT archived_at IS NOT NULL FROM products WHERE id = ?1"),
                &[&v.product_id],
                |r| r.get(0),
            )?;
            if product_archived {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "variant",
                    id: id.to_string(),
                    reason: "belongs to an archived product; restore the product".into(),
                }));
            }
            self.unarchive_variant(id)?;
            self.variant(id)
        })
    }

    fn unarchive_variant(&self, id: VariantId) -> Result<()> {
        self.tx.db().execute(
            sql!(
                "UPDATE product_variants SET archived_at = NULL, updated_at = ?2, \
                 version = version + 1 WHERE id = ?1"
            ),
            &[&id, &self.tx.now()],
        )?;
        self.tx.audit_change(Change {
            action: "restore",
            entity_type: "variant",
            entity_id: &id.to_string(),
            changed_fields: &["archived_at"],
        })
    }

    /// Adds an image or document reference to a product.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown product;
    /// [`ErrorKind::Invalid`] naming `reference` (empty, too long, control
    /// characters), `alt_text` (too long), `position` (above
    /// [`MAX_MEDIA_POSITION`]) or `media` (the product already has
    /// [`MAX_MEDIA_PER_PRODUCT`]).
    pub fn add_media(&self, product_id: ProductId, new: NewMedia) -> Result<ProductMedia> {
        self.tx.atomic(|| {
            self.lock_product(product_id)?;
            let product = self.product(product_id)?;
            if product.archived_at.is_some() {
                return Err(archived("product", product_id));
            }
            let reference =
                validate::required_text("reference", &new.reference, MAX_MEDIA_REFERENCE_LEN)?;
            let alt_text =
                validate::optional_text("alt_text", new.alt_text.as_deref(), MAX_ALT_TEXT_LEN)?;
            if product.media.len() >= MAX_MEDIA_PER_PRODUCT {
                return Err(Error::invalid(
                    "media",
                    format!("the product already has {MAX_MEDIA_PER_PRODUCT} media references"),
                ));
            }
            let position = match new.position {
                Some(p) if p > MAX_MEDIA_POSITION => {
                    return Err(Error::invalid(
                        "position",
                        format!("is {p}, at most {MAX_MEDIA_POSITION}"),
                    ))
                }
                Some(p) => p,
                None => product
                    .media
                    .iter()
                    .map(|m| m.position.saturating_add(1))
                    .max()
                    .unwrap_or(0)
                    .min(MAX_MEDIA_POSITION),
            };
            let id = MediaId::new();
            self.tx.db().execute(
                sql!(
                    "INSERT INTO product_media (id, product_id, kind, reference, alt_text, \
                     position, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                &[
                    &id,
                    &product_id,
                    &new.kind,
                    &reference,
                    &alt_text,
                    &i64::from(position),
                    &self.tx.now(),
                ],
            )?;
            self.touch_product(product_id)?;
            self.audit_product_update(product_id, "media")?;
            self.media(id)
        })
    }

    /// Removes a media reference from its product.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn remove_media(&self, id: MediaId) -> Result<Product> {
        self.tx.atomic(|| {
            let media = self.media(id)?;
            self.lock_product(media.product_id)?;
            if self.product(media.product_id)?.archived_at.is_some() {
                return Err(archived("product", media.product_id));
            }
            self.tx
                .db()
                .execute(sql!("DELETE FROM product_media WHERE id = ?1"), &[&id])?;
            self.touch_product(media.product_id)?;
            self.audit_product_update(media.product_id, "media")?;
            self.product(media.product_id)
        })
    }

    /// Puts a product in exactly these categories (replacing the ones it
    /// was in); the search index follows.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown product;
    /// [`ErrorKind::Invalid`] naming `category_ids[i]` for an unknown or
    /// repeated category, or `category_ids` for more than
    /// [`MAX_CATEGORIES_PER_PRODUCT`].
    pub fn set_product_categories(
        &self,
        product_id: ProductId,
        category_ids: Vec<CategoryId>,
    ) -> Result<Product> {
        self.tx.atomic(|| {
            self.lock_categories_shared()?;
            self.lock_product(product_id)?;
            let product = self.product(product_id)?;
            if product.archived_at.is_some() {
                return Err(archived("product", product_id));
            }
            let categories = self.check_categories("category_ids", &category_ids)?;
            if categories == product.category_ids {
                return Ok(product);
            }
            self.tx.db().execute(
                sql!("DELETE FROM product_categories WHERE product_id = ?1"),
                &[&product_id],
            )?;
            self.insert_categories(product_id, &categories)?;
            self.touch_product(product_id)?;
            self.audit_product_update(product_id, "categories")?;
            search::reindex(self.tx.db(), product_id)?;
            self.product(product_id)
        })
    }

    fn audit_product_update(&self, id: ProductId, field: &str) -> Result<()> {
        self.tx.audit_change(Change {
            action: "update",
            entity_type: "product",
            entity_id: &id.to_string(),
            changed_fields: &[field],
        })
    }

    /// Adds a variant to an active product.
    ///
    /// # Errors
    ///
    /// As [`create_product`](Catalog::create_product), with fields named
    /// `variant.<field>`; [`ErrorKind::NotFound`] for an unknown product,
    /// [`ErrorKind::InvalidState`] for an archived one.
    pub fn add_variant(&self, product_id: ProductId, new: NewVariant) -> Result<Variant> {
        self.tx.atomic(|| {
            self.lock_product(product_id)?;
            let product = self.product(product_id)?;
            if product.archived_at.is_some() {
                return Err(archived("product", product_id));
            }
            if product.variants.len() >= MAX_VARIANTS_PER_PRODUCT {
                return Err(Error::invalid(
                    "variants",
                    format!("the product already has {MAX_VARIANTS_PER_PRODUCT} variants"),
                ));
            }
            let checked = check_variant("variant", &new)?;
            let id = self.insert_variant("variant", product_id, &checked, &new)?;
            self.touch_product(product_id)?;
            search::reindex(self.tx.db(), product_id)?;
            self.variant(id)
        })
    }

    fn insert_variant(
        &self,
        field: &str,
        product_id: ProductId,
        v: &CheckedVariant,
        new: &NewVariant,
    ) -> Result<VariantId> {
        if self.find_by_sku(&v.sku)?.is_some() {
            return Err(Error::new(ErrorKind::AlreadyExists {
                entity: "variant",
                field: "sku",
            }));
        }
        if let Some(b) = &v.barcode {
            if self.find_by_barcode(b)?.is_some() {
                return Err(Error::new(ErrorKind::AlreadyExists {
                    entity: "variant",
                    field: "barcode",
                }));
            }
        }
        crate::pricing::require_tax_class(
            self.tx.db(),
            &format!("{field}.tax_class"),
            &v.tax_class,
        )?;
        let id = VariantId::new();
        self.tx
            .db()
            .execute(
                sql!(
                    "INSERT INTO product_variants (id, product_id, sku, title, options, barcode, \
                     price_e4, currency, track_stock, allow_backorder, created_at, updated_at, \
                     tax_class) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)"
                ),
                &[
                    &id,
                    &product_id,
                    &v.sku,
                    &v.title,
                    &Json(&v.options),
                    &v.barcode,
                    &v.price_e4,
                    &v.currency.code(),
                    &new.track_stock,
                    &new.allow_backorder,
                    &self.tx.now(),
                    &v.tax_class,
                ],
            )
            .map_err(map_unique)?;
        self.tx.audit_change_with(
            Change {
                action: "create",
                entity_type: "variant",
                entity_id: &id.to_string(),
                changed_fields: &[
                    "sku",
                    "title",
                    "options",
                    "barcode",
                    "price",
                    "track_stock",
                    "allow_backorder",
                    "tax_class",
                ],
            },
            crate::changes::ChangeFacts {
                product_id: Some(product_id.to_string()),
                ..crate::changes::ChangeFacts::current()
            },
        )?;
        Ok(id)
    }

    /// On PostgreSQL, locks the product's row until the unit of work ends,
    /// so that what is checked of it (not archived, its number of variants)
    /// stays true while variants are added or it is archived by another
    /// server at once.
    fn lock_product(&self, id: ProductId) -> Result<()> {
        self.tx.db().lock_for_update(
            sql!(postgres_only: "SELECT 1 FROM products WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
    }

    fn touch_product(&self, id: ProductId) -> Result<()> {
        self.tx.db().execute(
            sql!("UPDATE products SET updated_at = ?2, version = version + 1 WHERE id = ?1"),
            &[&id, &self.tx.now()],
        )?;
        Ok(())
    }

    /// Changes a variant if its version is still `expected_version`.
    ///
    /// Turning backorders off while a warehouse holds more reservations than
    /// stock of the variant is refused: it would leave availability below
    /// zero.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Conflict`] for a stale version; [`ErrorKind::Invalid`]
    /// for a bad field; [`ErrorKind::AlreadyExists`] for a taken barcode;
    /// [`ErrorKind::InvalidState`] for an archived variant or the backorder
    /// case above.
    pub fn update_variant(
        &self,
        id: VariantId,
        expected_version: i64,
        patch: VariantPatch,
    ) -> Result<Variant> {
        self.tx.atomic(|| {
            let product_id = self.variant(id)?.product_id;
            self.lock_product(product_id)?;
            let current = self.variant(id)?;
            if current.version != expected_version {
                return Err(Error::new(ErrorKind::Conflict {
                    entity: "variant",
                    id: id.to_string(),
                    expected_version,
                    actual_version: current.version,
                }));
            }
            if current.is_archived() {
                return Err(archived("variant", id));
            }
            let mut next = NewVariant {
                sku: current.sku.clone(),
                price: patch.price.unwrap_or(current.price.amount),
                currency: patch.currency.unwrap_or(current.price.currency),
                title: patch.title.clone().or(current.title.clone()),
                options: current.options.clone(),
                barcode: patch.barcode.clone().or(current.barcode.clone()),
                track_stock: patch.track_stock.unwrap_or(current.track_stock),
                allow_backorder: patch.allow_backorder.unwrap_or(current.allow_backorder),
                tax_class: Some(patch.tax_class.clone().unwrap_or(current.tax_class.clone())),
            };
            let checked = check_variant("variant", &next)?;
            next.sku = checked.sku.clone();
            if let Some(b) = &checked.barcode {
                if let Some(other) = self.find_by_barcode(b)? {
                    if other.id != id {
                        return Err(Error::new(ErrorKind::AlreadyExists {
                            entity: "variant",
                            field: "barcode",
                        }));
                    }
                }
            }
            if current.track_stock && !next.track_stock {
                let holds: bool = self.tx.db().query_row(
                    sql!(
                        "SELECT EXISTS (SELECT 1 FROM stock_levels WHERE variant_id = ?1 \
                         AND (on_hand <> 0 OR reserved <> 0))"
                    ),
                    &[&id],
                    |r| r.get(0),
                )?;
                if holds {
                    return Err(Error::new(ErrorKind::InvalidState {
                        entity: "variant",
                        id: id.to_string(),
                        reason: "has stock or reservations; stock tracking cannot be turned off \
                             until they are zero"
                            .into(),
                    }));
                }
            }
            if current.allow_backorder && !next.allow_backorder {
                let oversold: Option<i64> = self.tx.db().query_row(
                    sql!("SELECT min(on_hand - reserved) FROM stock_levels WHERE variant_id = ?1"),
                    &[&id],
                    |r| r.get(0),
                )?;
                if oversold.is_some_and(|a| a < 0) {
                    return Err(Error::new(ErrorKind::InvalidState {
                        entity: "variant",
                        id: id.to_string(),
                        reason: "more is reserved than in stock; backorders cannot be turned off \
                             until the stock arrives or reservations are released"
                            .into(),
                    }));
                }
            }
            let mut changed: Vec<&str> = Vec::new();
            let new_price = Money::from_e4(checked.price_e4, checked.currency);
            if new_price != current.price {
                changed.push("price");
            }
            if checked.title != current.title {
                changed.push("title");
            }
            if checked.barcode != current.barcode {
                changed.push("barcode");
            }
            if next.track_stock != current.track_stock {
                changed.push("track_stock");
            }
            if next.allow_backorder != current.allow_backorder {
                changed.push("allow_backorder");
            }
            if checked.tax_class != current.tax_class {
                crate::pricing::require_tax_class(
                    self.tx.db(),
                    "variant.tax_class",
                    &checked.tax_class,
                )?;
                changed.push("tax_class");
            }
            if changed.is_empty() {
                return Ok(current);
            }
            let updated = self
                .tx
                .db()
                .execute(
                    sql!(
                        "UPDATE product_variants SET title = ?2, barcode = ?3, price_e4 = ?4, \
                         currency = ?5, track_stock = ?6, allow_backorder = ?7, updated_at = ?8, \
                         version = version + 1, tax_class = ?10 WHERE id = ?1 AND version = ?9"
                    ),
                    &[
                        &id,
                        &checked.title,
                        &checked.barcode,
                        &checked.price_e4,
                        &checked.currency.code(),
                        &next.track_stock,
                        &next.allow_backorder,
                        &self.tx.now(),
                        &expected_version,
                        &checked.tax_class,
                    ],
                )
                .map_err(map_unique)?;
            if updated == 0 {
                // Another server changed it after this unit of work read it.
                let actual_version = self.variant(id)?.version;
                return Err(Error::new(ErrorKind::Conflict {
                    entity: "variant",
                    id: id.to_string(),
                    expected_version,
                    actual_version,
                }));
            }
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "variant",
                entity_id: &id.to_string(),
                changed_fields: &changed,
            })?;
            if changed.contains(&"barcode") {
                search::reindex(self.tx.db(), current.product_id)?;
            }
            self.variant(id)
        })
    }

    /// Archives a variant: it stays readable (old orders name it) but can no
    /// longer be ordered. Archiving an archived variant changes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn archive_variant(&self, id: VariantId) -> Result<Variant> {
        self.tx.atomic(|| {
            let v = self.variant(id)?;
            if v.is_archived() {
                return Ok(v);
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE product_variants SET archived_at = ?2, updated_at = ?2, \
                     version = version + 1 WHERE id = ?1"
                ),
                &[&id, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "archive",
                entity_type: "variant",
                entity_id: &id.to_string(),
                changed_fields: &["archived_at"],
            })?;
            self.variant(id)
        })
    }

    /// Archives a product and every variant of it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn archive_product(&self, id: ProductId) -> Result<Product> {
        self.tx.atomic(|| {
            self.lock_product(id)?;
            let p = self.product(id)?;
            if p.archived_at.is_some() {
                return Ok(p);
            }
            for v in &p.variants {
                self.archive_variant(v.id)?;
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE products SET archived_at = ?2, updated_at = ?2, \
                     version = version + 1 WHERE id = ?1"
                ),
                &[&id, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "archive",
                entity_type: "product",
                entity_id: &id.to_string(),
                changed_fields: &["archived_at"],
            })?;
            self.product(id)
        })
    }
}

/// A unique index lost to another writer (another server on PostgreSQL)
/// between the check and the insert: the same error as the check's.
fn map_unique(err: Error) -> Error {
    match err.violated_unique() {
        // SQLite names the column, PostgreSQL the constraint or index.
        Some(what)
            if what.contains("product_variants.sku") || what == "product_variants_sku_key" =>
        {
            Error::new(ErrorKind::AlreadyExists {
                entity: "variant",
                field: "sku",
            })
        }
        Some(what)
            if what.contains("product_variants.barcode") || what == "product_variants_barcode" =>
        {
            Error::new(ErrorKind::AlreadyExists {
                entity: "variant",
                field: "barcode",
            })
        }
        _ => err,
    }
}

fn archived(entity: &'static str, id: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidState {
        entity,
        id: id.to_string(),
        reason: "is archived".into(),
    })
}

/// Catalog invariants: every stored price has a known currency and the
/// options parse.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(sql!(concat!(select_variant!(), "ORDER BY sku")), &[], |r| {
        if let Err(e) = variant_from_row(r) {
            report.push(format!("variant: {e}"));
        }
        Ok(())
    })?;
    taxonomy::check(conn, report)?;
    search::check(conn, report)
}

crate::one_shot::one_shot! {
    /// The catalog for single operations, each its own unit of work:
    /// `store.catalog().create_product(new)`.
    StoreCatalog => write catalog: Catalog, read catalog: CatalogReader;
    write {
        fn create_product(new: NewProduct) -> Product;
        fn add_variant(product_id: ProductId, new: NewVariant) -> Variant;
        fn update_variant(id: VariantId, expected_version: i64, patch: VariantPatch) -> Variant;
        fn archive_variant(id: VariantId) -> Variant;
        fn archive_product(id: ProductId) -> Product;
        fn update_product(id: ProductId, expected_version: i64, patch: ProductPatch) -> Product;
        fn restore_product(id: ProductId) -> Product;
        fn restore_variant(id: VariantId) -> Variant;
        fn add_media(product_id: ProductId, new: NewMedia) -> ProductMedia;
        fn remove_media(id: MediaId) -> Product;
        fn set_product_categories(product_id: ProductId, category_ids: Vec<CategoryId>) -> Product;
        fn create_category(new: NewCategory) -> Category;
        fn update_category(id: CategoryId, expected_version: i64, patch: CategoryPatch) -> Category;
        fn delete_category(id: CategoryId) -> ();
        fn create_collection(new: NewCollection) -> Collection;
        fn update_collection(id: CollectionId, expected_version: i64, patch: CollectionPatch) -> Collection;
        fn delete_collection(id: CollectionId) -> ();
        fn add_to_collection(collection_id: CollectionId, product_id: ProductId) -> Collection;
        fn remove_from_collection(collection_id: CollectionId, product_id: ProductId) -> Collection;
        fn set_collection_products(collection_id: CollectionId, product_ids: Vec<ProductId>) -> Collection;
    }
    read {
        fn product(id: ProductId) -> Product;
        fn variants_of(product_id: ProductId) -> Vec<Variant>;
        fn variant(id: VariantId) -> Variant;
        fn variant_by_sku(sku: &str) -> Variant;
        fn variant_by_barcode(barcode: &str) -> Variant;
        fn products(archived: ArchiveState, after: Option<&Cursor>, limit: usize) -> Page<Product>;
        fn media(id: MediaId) -> ProductMedia;
        fn search_products(query: &str, after: Option<&Cursor>, limit: usize) -> Page<Product>;
        fn category(id: CategoryId) -> Category;
        fn categories() -> Vec<Category>;
        fn category_products(category_id: CategoryId, include_subcategories: bool, after: Option<&Cursor>, limit: usize) -> Page<Product>;
        fn collection(id: CollectionId) -> Collection;
        fn collections() -> Vec<Collection>;
        fn collection_products(collection_id: CollectionId, after: Option<&Cursor>, limit: usize) -> Page<Product>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// The catalog for one-shot calls.
    pub fn catalog(&self) -> crate::catalog::StoreCatalog<'_> {
        crate::catalog::StoreCatalog::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// The catalog inside this transaction.
    pub fn catalog(&self) -> crate::catalog::Catalog<'_> {
        crate::catalog::Catalog::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// The catalog, read-only.
    pub fn catalog(&self) -> crate::catalog::CatalogReader<'a> {
        crate::catalog::CatalogReader::new(self.db())
    }
}
