//! The catalog: products and their variants (the things with a SKU, a price
//! and stock).
//!
//! A product groups variants that differ by option values (size, colour).
//! Each variant has a unique SKU, an optional barcode, a unit price in one
//! currency (up to [`PRICE_DECIMALS`](crate::money::PRICE_DECIMALS)
//! decimals, see [`crate::money`]), and two stock flags: whether custdb
//! tracks its stock (services and gift cards are not tracked) and whether it
//! may be sold below zero available (backorders). Archived products and
//! variants stay readable but cannot be ordered.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::audit::Change;
use crate::customer::ArchiveState;
use crate::db::{sql, Conn, Json, Row};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{ProductId, VariantId};
use crate::money::{self, Currency, Money};
use crate::page::{check_limit, into_page, Cursor, Page};
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
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
}
crate::input::strict_serde!(NewProduct);

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
        }
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
}
crate::input::strict_serde!(VariantPatch; not_null: title, price, currency, barcode, track_stock, allow_backorder);

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
         allow_backorder, created_at, updated_at, version, archived_at FROM product_variants "
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
    archived_at FROM products WHERE (?1 IS NULL OR (name, id) > (?1, ?2)) \
    AND (?3 = 'all' OR (archived_at IS NULL) = (?3 = 'active')) \
    ORDER BY name, id LIMIT ?4";

/// [`PRODUCT_PAGE`] on PostgreSQL, where the NULL of the first page needs
/// its type.
const PRODUCT_PAGE_PG: &str = "SELECT id, name, description, created_at, updated_at, version, \
    archived_at FROM products WHERE (CAST(?1 AS text) IS NULL OR (name, id) > (?1, CAST(?2 AS uuid))) \
    AND (?3 = 'all' OR (archived_at IS NULL) = (?3 = 'active')) \
    ORDER BY name, id LIMIT ?4";

crate::bench_sql::sql_module! {
    /// Catalog statements on the order-placement path, public only so that the
    /// benchmarks' raw-rusqlite baselines run exactly the same text. Not part
    /// of the API.
    mod sql {
    /// A variant by its SKU.
    pub const VARIANT_BY_SKU: &str = concat!(select_variant!(), "WHERE sku = ?1");
    /// A product's name.
    pub const PRODUCT_NAME: &str = "SELECT name FROM products WHERE id = ?1";
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
    })
}

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
        let mut product = self
            .db
            .query_opt(
                sql!(
                    "SELECT id, name, description, created_at, updated_at, version, archived_at \
                     FROM products WHERE id = ?1"
                ),
                &[&id],
                product_from_row,
            )?
            .ok_or_else(|| Error::not_found("product", id))?;
        product.variants = self.variants_of(id)?;
        Ok(product)
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
        // Two statements for the page, whatever its length: the products,
        // then all their variants (no query per product).
        let mut items = self.db.query_vec(
            sql!(sqlite: PRODUCT_PAGE, postgres: PRODUCT_PAGE_PG),
            &[&name, &id, &archived.as_str(), &(limit + 1)],
            product_from_row,
        )?;
        let ids: Vec<ProductId> = items.iter().map(|p| p.id).collect();
        let mut variants: BTreeMap<ProductId, Vec<Variant>> = BTreeMap::new();
        self.db.query_each(
            sql!(sqlite: VARIANTS_OF_PRODUCTS, postgres: VARIANTS_OF_PRODUCTS_PG),
            &[&Json(&serde_json::to_string(&ids).written()?)],
            |r| {
                let v = variant_from_row(r)?;
                variants.entry(v.product_id).or_default().push(v);
                Ok(())
            },
        )?;
        for p in &mut items {
            p.variants = variants.remove(&p.id).unwrap_or_default();
        }
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
    Ok(CheckedVariant {
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
            let id = ProductId::new();
            self.tx.db().execute(
                sql!(
                    "INSERT INTO products (id, name, description, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4)"
                ),
                &[&id, &name, &description, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "product",
                entity_id: &id.to_string(),
                changed_fields: &["name", "description"],
            })?;
            for (v, new) in checked.iter().zip(&new.variants) {
                self.insert_variant(id, v, new)?;
            }
            self.product(id)
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
            let id = self.insert_variant(product_id, &checked, &new)?;
            self.touch_product(product_id)?;
            self.variant(id)
        })
    }

    fn insert_variant(
        &self,
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
        let id = VariantId::new();
        self.tx
            .db()
            .execute(
                sql!(
                    "INSERT INTO product_variants (id, product_id, sku, title, options, barcode, \
                     price_e4, currency, track_stock, allow_backorder, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
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
                         version = version + 1 WHERE id = ?1 AND version = ?9"
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
    })
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
    }
    read {
        fn product(id: ProductId) -> Product;
        fn variants_of(product_id: ProductId) -> Vec<Variant>;
        fn variant(id: VariantId) -> Variant;
        fn variant_by_sku(sku: &str) -> Variant;
        fn variant_by_barcode(barcode: &str) -> Variant;
        fn products(archived: ArchiveState, after: Option<&Cursor>, limit: usize) -> Page<Product>;
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
