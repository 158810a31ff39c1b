//! Prices and tax (docs/PRICING.md): tax classes and rates by country and
//! region, customer groups, price lists per currency (optionally per
//! group) with validity periods and quantity breaks, and [`quote`]: the
//! price of a quantity of a variant for a customer, with where each
//! number came from.
//!
//! [`quote`]: PricingReader::quote

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::audit::Change;
use crate::db::{sql, Conn, Json, Row};
use crate::error::{Error, ErrorKind, JsonResult, Result};
use crate::id::{CustomerGroupId, CustomerId, PriceListId, TaxRateId, VariantId};
use crate::money::{self, Currency, Money};
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// The tax class every variant starts in; it always exists.
pub const STANDARD_TAX_CLASS: &str = "standard";
/// Longest tax class key, in characters.
pub const MAX_TAX_CLASS_LEN: usize = 32;
/// Longest name of a tax class, tax rate or customer group, in characters.
pub const MAX_PRICING_NAME_LEN: usize = 100;
/// Longest region (a state, province or territory as the application
/// names it), in characters.
pub const MAX_REGION_LEN: usize = 64;
/// Longest key of a customer group or price list, in characters.
pub const MAX_PRICING_KEY_LEN: usize = 64;
/// Longest price list name, in characters.
pub const MAX_PRICE_LIST_NAME_LEN: usize = 200;
/// Highest quantity a price break may start at.
pub const MAX_MIN_QUANTITY: i64 = 1_000_000;
/// Most customer groups one quote may name.
pub const MAX_QUOTE_GROUPS: usize = 32;
/// Decimals a tax rate may have (a fraction: 0.2 is 20 %).
pub const TAX_RATE_DECIMALS: u32 = 6;
/// Longest VAT (tax) id, in characters.
pub const MAX_VAT_ID_LEN: usize = 32;
/// Longest reason for a tax exemption, in characters.
pub const MAX_EXEMPTION_REASON_LEN: usize = 200;
/// Most groups one customer may be in.
pub const MAX_GROUPS_PER_CUSTOMER: usize = 32;

/// A customer's membership of a group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct GroupMembership {
    /// The group.
    pub group_id: CustomerGroupId,
    /// The customer.
    pub customer_id: CustomerId,
    /// A member from this instant on; `None`: always was.
    pub valid_from: Option<DateTime<Utc>>,
    /// A member until just before this instant; `None`: open-ended.
    pub valid_until: Option<DateTime<Utc>>,
    /// When the membership was recorded.
    pub added_at: DateTime<Utc>,
}

/// A customer exempt from tax: a business that accounts for the tax itself
/// (reverse charge), identified by its VAT id. Its orders priced by the
/// catalog carry no tax.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct TaxExemption {
    /// The VAT id: 1 to [`MAX_VAT_ID_LEN`] letters and digits (spaces,
    /// dots and dashes are dropped; letters upper-cased).
    pub vat_id: String,
    /// Why (1 to [`MAX_EXEMPTION_REASON_LEN`] characters), e.g. "EU
    /// reverse charge".
    pub reason: String,
}
crate::input::strict_serde!(TaxExemption);

/// A tax class: products taxed alike.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct TaxClass {
    /// Its key (`standard`, `reduced`, `zero`...).
    pub key: String,
    /// A name for people.
    pub name: String,
}

/// A tax rate for a class in a country or one region of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct TaxRate {
    /// The rate's id.
    pub id: TaxRateId,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// A region of the country, as the application names it; `None` for
    /// the whole country.
    pub region: Option<String>,
    /// The tax class it applies to.
    pub tax_class: String,
    /// The rate, a fraction (0.2 is 20 %).
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub rate: Decimal,
    /// A name for people ("VAT 20 %").
    pub name: String,
    /// When it was set first.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A tax rate to set: the one rate of its class in its country (and
/// region), replacing any before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewTaxRate {
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// A region of the country (1 to [`MAX_REGION_LEN`] characters).
    #[serde(default)]
    pub region: Option<String>,
    /// A defined tax class (default `standard`).
    #[serde(default = "standard")]
    pub tax_class: String,
    /// The rate: a fraction from 0 to 1 with at most
    /// [`TAX_RATE_DECIMALS`] decimals (JSON: a decimal string).
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub rate: Decimal,
    /// A name for people.
    pub name: String,
}
crate::input::strict_serde!(NewTaxRate);

fn standard() -> String {
    STANDARD_TAX_CLASS.to_owned()
}

impl NewTaxRate {
    /// A rate of the standard class for a whole country.
    pub fn new(country: impl Into<String>, rate: Decimal, name: impl Into<String>) -> Self {
        NewTaxRate {
            country: country.into(),
            region: None,
            tax_class: standard(),
            rate,
            name: name.into(),
        }
    }

    /// For one region of the country.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// For another tax class.
    pub fn tax_class(mut self, class: impl Into<String>) -> Self {
        self.tax_class = class.into();
        self
    }
}

/// A customer group (wholesale, staff, VIP...), which price lists name.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct CustomerGroup {
    /// The group's id.
    pub id: CustomerGroupId,
    /// Its key, unique.
    pub key: String,
    /// A name for people.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A price list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PriceList {
    /// The list's id.
    pub id: PriceListId,
    /// Its key, unique.
    pub key: String,
    /// A name for people.
    pub name: String,
    /// The currency of its prices.
    pub currency: Currency,
    /// Whether its prices include tax (gross) or not (net).
    pub prices_include_tax: bool,
    /// The customer group it is for; `None` for everyone.
    pub customer_group_id: Option<CustomerGroupId>,
    /// Valid from this instant on; `None`: always was.
    pub valid_from: Option<DateTime<Utc>>,
    /// Valid until just before this instant; `None`: open-ended.
    pub valid_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (its prices included).
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A price list to create.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewPriceList {
    /// Key: 1 to [`MAX_PRICING_KEY_LEN`] characters, unique.
    pub key: String,
    /// Name: 1 to [`MAX_PRICE_LIST_NAME_LEN`] characters.
    pub name: String,
    /// The currency of its prices.
    pub currency: Currency,
    /// Whether its prices include tax (default false: net).
    #[serde(default)]
    pub prices_include_tax: bool,
    /// The customer group it is for; `None` for everyone.
    #[serde(default)]
    pub customer_group_id: Option<CustomerGroupId>,
    /// Valid from (RFC 3339); `None`: from the start of time.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// Valid until, exclusive; `None`: open-ended.
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(NewPriceList);

impl NewPriceList {
    /// A net price list for everyone, always valid.
    pub fn new(key: impl Into<String>, name: impl Into<String>, currency: Currency) -> Self {
        NewPriceList {
            key: key.into(),
            name: name.into(),
            currency,
            prices_include_tax: false,
            customer_group_id: None,
            valid_from: None,
            valid_until: None,
        }
    }

    /// Its prices include tax.
    pub fn gross(mut self) -> Self {
        self.prices_include_tax = true;
        self
    }

    /// For one customer group.
    pub fn for_group(mut self, group: CustomerGroupId) -> Self {
        self.customer_group_id = Some(group);
        self
    }

    /// Valid from `from` until just before `until` (either open).
    pub fn valid(mut self, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Self {
        self.valid_from = from;
        self.valid_until = until;
        self
    }
}

/// One price of a list: a variant's unit price from a quantity on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ListPrice {
    /// The list.
    pub price_list_id: PriceListId,
    /// The variant.
    pub variant_id: VariantId,
    /// The smallest quantity this price is for.
    pub min_quantity: i64,
    /// The unit price, in the list's currency, with or without tax as the
    /// list says.
    pub price: Money,
}

/// What to price: a quantity of a variant, in a currency, for a customer's
/// groups, delivered to a country (and region), at an instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct QuoteRequest {
    /// The variant.
    pub variant_id: VariantId,
    /// How many (1 to [`MAX_MIN_QUANTITY`]).
    pub quantity: i64,
    /// The currency to price in.
    pub currency: Currency,
    /// The country tax is due in (where the goods go).
    pub country: String,
    /// Its region, when rates differ by region.
    #[serde(default)]
    pub region: Option<String>,
    /// The customer: its groups at the instant join
    /// `customer_group_ids`, and its tax exemption applies.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// Further groups to price for (at most [`MAX_QUOTE_GROUPS`]).
    #[serde(default)]
    pub customer_group_ids: Vec<CustomerGroupId>,
    /// When (default now): which lists are valid.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(QuoteRequest);

impl QuoteRequest {
    /// A quote of `quantity` of a variant in `currency`, for delivery to
    /// `country`, for a customer in no group, now.
    pub fn new(
        variant_id: VariantId,
        quantity: i64,
        currency: Currency,
        country: impl Into<String>,
    ) -> Self {
        QuoteRequest {
            variant_id,
            quantity,
            currency,
            country: country.into(),
            region: None,
            customer_id: None,
            customer_group_ids: Vec::new(),
            at: None,
        }
    }

    /// For a customer (its groups and tax exemption).
    pub fn customer(mut self, customer_id: CustomerId) -> Self {
        self.customer_id = Some(customer_id);
        self
    }

    /// Delivery to a region of the country.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// For a customer in this group.
    pub fn group(mut self, group: CustomerGroupId) -> Self {
        self.customer_group_ids.push(group);
        self
    }

    /// At an instant other than now.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }
}

/// Where a quoted unit price came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PriceSource {
    /// The price list; `None` when the price is the variant's own.
    pub price_list_id: Option<PriceListId>,
    /// The list's key.
    pub price_list_key: Option<String>,
    /// The quantity break the price starts at (1 for the variant's own).
    pub min_quantity: i64,
    /// The customer group the list is for.
    pub customer_group_id: Option<CustomerGroupId>,
}

/// A priced quantity of a variant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Quote {
    /// The variant.
    pub variant_id: VariantId,
    /// Its SKU.
    pub sku: String,
    /// The quantity.
    pub quantity: i64,
    /// The unit price as entered (gross when `prices_include_tax`).
    pub unit_price: Money,
    /// Whether `unit_price` includes tax.
    pub prices_include_tax: bool,
    /// The variant's tax class.
    pub tax_class: String,
    /// The tax rate applied, a fraction.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub tax_rate: Decimal,
    /// The rate's record; `None` when no tax is configured at all or the
    /// customer is exempt.
    pub tax_rate_id: Option<TaxRateId>,
    /// Whether the customer is exempt from tax (the rate is then 0).
    pub tax_exempt: bool,
    /// The line before tax.
    pub subtotal: Money,
    /// The tax of the line.
    pub tax: Money,
    /// What the customer pays for the line.
    pub total: Money,
    /// Where the unit price came from.
    pub source: PriceSource,
    /// The same, in a sentence a support agent can read.
    pub explanation: String,
}

/// Checks a tax class key: 1 to [`MAX_TAX_CLASS_LEN`] of lowercase ASCII
/// letters, digits, `_` and `-`.
pub(crate) fn tax_class_key(field: &str, value: &str) -> Result<String> {
    key(field, value, MAX_TAX_CLASS_LEN)
}

pub(crate) fn key(field: &str, value: &str, max: usize) -> Result<String> {
    let k = validate::required_text(field, value, max)?;
    if !k
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(Error::invalid(
            field,
            "may hold only lowercase ASCII letters, digits, '_' and '-'",
        ));
    }
    Ok(k)
}

/// Checks a VAT id: letters and digits once spaces, dots and dashes are
/// dropped, upper-cased, 1 to [`MAX_VAT_ID_LEN`] of them.
fn vat_id(field: &str, value: &str) -> Result<String> {
    let id: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if id.is_empty() || id.chars().count() > MAX_VAT_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("must have 1 to {MAX_VAT_ID_LEN} letters and digits"),
        ));
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            field,
            "may hold only letters and digits (and spaces, dots, dashes, which are dropped)",
        ));
    }
    Ok(id)
}

/// Refuses a tax class that was not defined.
pub(crate) fn require_tax_class(db: Conn<'_>, field: &str, class: &str) -> Result<()> {
    let known: bool = db.query_row(
        sql!("SELECT EXISTS (SELECT 1 FROM tax_classes WHERE key = ?1)"),
        &[&class],
        |r| r.get(0),
    )?;
    if known {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("no tax class {class:?}; define it first"),
        ))
    }
}

/// Checks a tax rate; returns it in parts per million.
fn rate_ppm(field: &str, rate: Decimal) -> Result<i64> {
    if rate.is_sign_negative() && !rate.is_zero()
        || rate > Decimal::ONE
        || rate.normalize().scale() > TAX_RATE_DECIMALS
    {
        return Err(Error::invalid(
            field,
            format!(
                "is {rate}, must be a fraction from 0 to 1 with at most {TAX_RATE_DECIMALS} decimals"
            ),
        ));
    }
    i64::try_from((rate * Decimal::from(1_000_000)).trunc())
        .map_err(|_| Error::invalid(field, "is out of range"))
}

fn rate_of(ppm: i64) -> Decimal {
    Decimal::new(ppm, TAX_RATE_DECIMALS).normalize()
}

fn tax_rate_row(r: &Row<'_>) -> Result<TaxRate> {
    Ok(TaxRate {
        id: r.get(0)?,
        country: r.get(1)?,
        region: r.get(2)?,
        tax_class: r.get(3)?,
        rate: rate_of(r.get(4)?),
        name: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        version: r.get(8)?,
    })
}

macro_rules! select_tax_rate {
    () => {
        "SELECT id, country, region, tax_class, rate_ppm, name, created_at, updated_at, version \
         FROM tax_rates "
    };
}

fn group_row(r: &Row<'_>) -> Result<CustomerGroup> {
    Ok(CustomerGroup {
        id: r.get(0)?,
        key: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        version: r.get(5)?,
    })
}

macro_rules! select_price_list {
    () => {
        "SELECT id, key, name, currency, prices_include_tax, customer_group_id, valid_from, \
         valid_until, created_at, updated_at, version FROM price_lists "
    };
}

fn price_list_row(r: &Row<'_>) -> Result<PriceList> {
    let currency: String = r.get(3)?;
    Ok(PriceList {
        id: r.get(0)?,
        key: r.get(1)?,
        name: r.get(2)?,
        currency: Currency::from_db(&currency)?,
        prices_include_tax: r.get(4)?,
        customer_group_id: r.get(5)?,
        valid_from: r.get(6)?,
        valid_until: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        version: r.get(10)?,
    })
}

crate::bench_sql::sql_module! {
    /// The statements a quote and an order priced by the catalog run,
    /// public only so that the benchmarks' raw-rusqlite baselines run
    /// exactly the same text. Not part of the API.
    mod sql {
    /// The rate of a class in a country (?1), for a region (?2) when it
    /// has one there, else the country's.
    pub const TAX_RATE_FOR: &str = concat!(
        select_tax_rate!(),
        "WHERE country = ?1 AND tax_class = ?3 AND (region IS NULL OR region = ?2) \
         ORDER BY region IS NULL LIMIT 1"
    );
    /// A customer's groups at an instant.
    pub const GROUPS_OF: &str = "SELECT g.id, g.key, g.name, g.created_at, g.updated_at, \
        g.version FROM customer_group_members m JOIN customer_groups g ON g.id = m.group_id \
        WHERE m.customer_id = ?1 AND (m.valid_from IS NULL OR m.valid_from <= ?2) \
        AND (m.valid_until IS NULL OR m.valid_until > ?2) ORDER BY g.key";
    /// A customer's tax exemption.
    pub const TAX_EXEMPTION: &str =
        "SELECT vat_id, reason FROM customer_tax_exemptions WHERE customer_id = ?1";
    /// The lists of a currency valid at ?2 for everyone or for one of the
    /// groups in the JSON array ?3.
    pub const CANDIDATE_LISTS: &str = concat!(
        select_price_list!(),
        "WHERE currency = ?1 AND (valid_from IS NULL OR valid_from <= ?2) \
         AND (valid_until IS NULL OR valid_until > ?2) \
         AND (customer_group_id IS NULL OR customer_group_id IN (SELECT value FROM json_each(?3))) \
         ORDER BY key"
    );
    /// [`CANDIDATE_LISTS`] on PostgreSQL.
    pub const CANDIDATE_LISTS_PG: &str = concat!(
        select_price_list!(),
        "WHERE currency = ?1 AND (valid_from IS NULL OR valid_from <= ?2) \
         AND (valid_until IS NULL OR valid_until > ?2) \
         AND (customer_group_id IS NULL OR customer_group_id IN \
         (SELECT j.value::uuid FROM jsonb_array_elements_text(?3::jsonb) AS j(value))) \
         ORDER BY key"
    );
    /// A list's price (?1) of a variant (?2) for a quantity (?3): the
    /// highest break at or below it.
    pub const LIST_PRICE: &str = "SELECT min_quantity, price_e4 FROM price_list_prices \
        WHERE price_list_id = ?1 AND variant_id = ?2 AND min_quantity <= ?3 \
        ORDER BY min_quantity DESC LIMIT 1";
    }
}

/// What pricing knows of the customer of a quote (see
/// [`PricingReader::buyer`]).
#[derive(Debug)]
pub(crate) struct Buyer {
    /// The groups that count, as a JSON array of ids.
    groups_json: String,
    /// Whether the customer is exempt from tax.
    exempt: bool,
    /// The groups that count (promotions' conditions name them).
    pub(crate) groups: BTreeSet<CustomerGroupId>,
    /// The lists that apply, read by the first line's quote: every line of
    /// one order has the same currency, instant and groups.
    lists: std::cell::OnceCell<Vec<PriceList>>,
    /// The destination's rate per tax class, read by the first line of
    /// each class: every line of one order goes to the same place.
    rates: std::cell::RefCell<std::collections::BTreeMap<String, Option<TaxRate>>>,
}

/// Read access to prices and tax.
#[derive(Debug)]
pub struct PricingReader<'a> {
    db: Conn<'a>,
}

impl<'a> PricingReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        PricingReader { db }
    }

    /// Every tax class, by key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn tax_classes(&self) -> Result<Vec<TaxClass>> {
        self.db.query_vec(
            sql!("SELECT key, name FROM tax_classes ORDER BY key"),
            &[],
            |r| {
                Ok(TaxClass {
                    key: r.get(0)?,
                    name: r.get(1)?,
                })
            },
        )
    }

    /// Every tax rate, by country, region (the country's own first) and
    /// class.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn tax_rates(&self) -> Result<Vec<TaxRate>> {
        self.db.query_vec(
            sql!(concat!(
                select_tax_rate!(),
                "ORDER BY country, coalesce(region, ''), tax_class"
            )),
            &[],
            tax_rate_row,
        )
    }

    /// The rate for a class in a country and region: the region's own
    /// rate when it has one, else the country's. `None` when neither is
    /// set.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] for a country that is not ISO 3166-1.
    pub fn tax_rate_for(
        &self,
        country: &str,
        region: Option<&str>,
        tax_class: &str,
    ) -> Result<Option<TaxRate>> {
        let country = validate::country("country", country)?;
        let region = region.map(str::trim).filter(|r| !r.is_empty());
        self.db.query_opt(
            sql!(sql::TAX_RATE_FOR),
            &[&country, &region, &tax_class],
            tax_rate_row,
        )
    }

    /// Every customer group, by key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn customer_groups(&self) -> Result<Vec<CustomerGroup>> {
        self.db.query_vec(
            sql!(
                "SELECT id, key, name, created_at, updated_at, version FROM customer_groups \
                 ORDER BY key"
            ),
            &[],
            group_row,
        )
    }

    /// A customer group.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn customer_group(&self, id: CustomerGroupId) -> Result<CustomerGroup> {
        self.db
            .query_opt(
                sql!(
                    "SELECT id, key, name, created_at, updated_at, version FROM customer_groups \
                     WHERE id = ?1"
                ),
                &[&id],
                group_row,
            )?
            .ok_or_else(|| Error::not_found("customer group", id))
    }

    /// The groups a customer is in at an instant, by key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn groups_of(
        &self,
        customer_id: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Vec<CustomerGroup>> {
        self.db
            .query_vec(sql!(sql::GROUPS_OF), &[&customer_id, &at], group_row)
    }

    /// A customer's memberships, current or not, by group key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn memberships_of(&self, customer_id: CustomerId) -> Result<Vec<GroupMembership>> {
        self.db.query_vec(
            sql!(
                "SELECT m.group_id, m.customer_id, m.valid_from, m.valid_until, m.added_at \
                 FROM customer_group_members m JOIN customer_groups g ON g.id = m.group_id \
                 WHERE m.customer_id = ?1 ORDER BY g.key"
            ),
            &[&customer_id],
            |r| {
                Ok(GroupMembership {
                    group_id: r.get(0)?,
                    customer_id: r.get(1)?,
                    valid_from: r.get(2)?,
                    valid_until: r.get(3)?,
                    added_at: r.get(4)?,
                })
            },
        )
    }

    /// A customer's tax exemption, if any.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn tax_exemption(&self, customer_id: CustomerId) -> Result<Option<TaxExemption>> {
        self.db
            .query_opt(sql!(sql::TAX_EXEMPTION), &[&customer_id], |r| {
                Ok(TaxExemption {
                    vat_id: r.get(0)?,
                    reason: r.get(1)?,
                })
            })
    }

    /// Every price list, by key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn price_lists(&self) -> Result<Vec<PriceList>> {
        self.db.query_vec(
            sql!(concat!(select_price_list!(), "ORDER BY key")),
            &[],
            price_list_row,
        )
    }

    /// A price list.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn price_list(&self, id: PriceListId) -> Result<PriceList> {
        self.db
            .query_opt(
                sql!(concat!(select_price_list!(), "WHERE id = ?1")),
                &[&id],
                price_list_row,
            )?
            .ok_or_else(|| Error::not_found("price list", id))
    }

    /// A list's prices, by variant and quantity break.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown list.
    pub fn prices_of(&self, price_list_id: PriceListId) -> Result<Vec<ListPrice>> {
        let list = self.price_list(price_list_id)?;
        self.db.query_vec(
            sql!(
                "SELECT variant_id, min_quantity, price_e4 FROM price_list_prices \
                 WHERE price_list_id = ?1 ORDER BY variant_id, min_quantity"
            ),
            &[&price_list_id],
            |r| {
                Ok(ListPrice {
                    price_list_id,
                    variant_id: r.get(0)?,
                    min_quantity: r.get(1)?,
                    price: Money::from_e4(r.get(2)?, list.currency),
                })
            },
        )
    }

    /// Prices a quantity of a variant by the rules of docs/PRICING.md:
    ///
    /// 1. The candidate lists are those in the request's currency, valid at
    ///    its instant, for everyone or for one of its groups; in each, the
    ///    variant's price with the largest quantity break not above the
    ///    quantity.
    /// 2. A group's list beats a list for everyone (most specific); among
    ///    equals the lowest price before tax wins; then the list's key.
    /// 3. Without a list price, the variant's own price (before tax), when
    ///    it is in the request's currency.
    /// 4. Tax: the rate of the variant's class in the region, else in the
    ///    country. When no rate at all is configured, tax is 0.
    /// 5. Net prices: subtotal = round(unit × quantity), tax =
    ///    round(subtotal × rate). Gross prices: total = round(unit ×
    ///    quantity), tax = round(total × rate ÷ (1 + rate)), subtotal =
    ///    total − tax. Rounding to the currency's minor unit, half away
    ///    from zero.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown variant;
    /// [`ErrorKind::Invalid`] naming `variant_id` (archived, or of a draft
    /// product: neither is sold), `quantity`, `country`, `region`,
    /// `customer_group_ids`, `currency` (no price in that currency) or
    /// `country` again when rates are configured but none is for the
    /// variant's class there.
    pub fn quote(&self, request: &QuoteRequest) -> Result<Quote> {
        if !(1..=MAX_MIN_QUANTITY).contains(&request.quantity) {
            return Err(Error::invalid(
                "quantity",
                format!(
                    "is {}, must be between 1 and {MAX_MIN_QUANTITY}",
                    request.quantity
                ),
            ));
        }
        // Checked here, before any read, as well as in quote_variant.
        validate::country("country", &request.country)?;
        validate::optional_text("region", request.region.as_deref(), MAX_REGION_LEN)?;
        if request.customer_group_ids.len() > MAX_QUOTE_GROUPS {
            return Err(Error::invalid(
                "customer_group_ids",
                format!("has more than {MAX_QUOTE_GROUPS} groups"),
            ));
        }
        let at = match request.at {
            Some(at) => crate::time::checked("at", at)?,
            None => crate::time::now(),
        };
        let catalog = crate::catalog::CatalogReader::new(self.db);
        let variant = catalog.variant(request.variant_id)?;
        // What cannot be sold is not quoted either (place refuses it too).
        if variant.is_archived() {
            return Err(Error::invalid(
                "variant_id",
                format!("{:?} is archived", variant.sku),
            ));
        }
        if catalog.product(variant.product_id)?.status == crate::catalog::ProductStatus::Draft {
            return Err(Error::invalid(
                "variant_id",
                format!(
                    "{:?} belongs to a draft product; make the product active to sell it",
                    variant.sku
                ),
            ));
        }
        let buyer = self.buyer(request.customer_id, &request.customer_group_ids, at)?;
        self.quote_variant(request, &variant, &buyer, at)
    }

    /// What pricing needs of a customer at an instant, read once for every
    /// line of an order: its groups (with `extra` ones) and whether it is
    /// exempt from tax.
    pub(crate) fn buyer(
        &self,
        customer_id: Option<CustomerId>,
        extra: &[CustomerGroupId],
        at: DateTime<Utc>,
    ) -> Result<Buyer> {
        let mut groups: BTreeSet<CustomerGroupId> = extra.iter().copied().collect();
        let mut exempt = false;
        if let Some(customer) = customer_id {
            crate::customer::CustomerReader::new(self.db).require(customer)?;
            groups.extend(self.groups_of(customer, at)?.into_iter().map(|g| g.id));
            exempt = self.tax_exemption(customer)?.is_some();
        }
        Ok(Buyer {
            groups_json: serde_json::to_string(&groups).written()?,
            exempt,
            groups,
            lists: std::cell::OnceCell::new(),
            rates: std::cell::RefCell::default(),
        })
    }

    /// [`quote`](PricingReader::quote) of a variant already read, for a
    /// buyer already read; the request's other fields checked here.
    pub(crate) fn quote_variant(
        &self,
        request: &QuoteRequest,
        variant: &crate::catalog::Variant,
        buyer: &Buyer,
        at: DateTime<Utc>,
    ) -> Result<Quote> {
        let country = validate::country("country", &request.country)?;
        let region = validate::optional_text("region", request.region.as_deref(), MAX_REGION_LEN)?;
        let currency = request.currency;
        let exempt = buyer.exempt;
        // A buyer is read for one quote, or for the lines of one order
        // (one currency, destination and instant): what its first line of
        // a class reads holds for the others.
        let known = buyer.rates.borrow().get(&variant.tax_class).cloned();
        let destination_rate = match known {
            Some(rate) => rate,
            None => {
                let rate = self.tax_rate_for(&country, region.as_deref(), &variant.tax_class)?;
                buyer
                    .rates
                    .borrow_mut()
                    .insert(variant.tax_class.clone(), rate.clone());
                rate
            }
        };
        // An exempt customer pays no tax, and a gross price less the tax
        // in it (at the rate that would have applied).
        let exempt_rate = match (&destination_rate, exempt) {
            (Some(t), true) => t.rate,
            _ => Decimal::ZERO,
        };
        let tax = if exempt { None } else { destination_rate };
        let (tax_rate, tax_rate_id) = match &tax {
            Some(t) => (t.rate, Some(t.id)),
            None if exempt => (Decimal::ZERO, None),
            None => {
                let any: bool = self.db.query_row(
                    sql!("SELECT EXISTS (SELECT 1 FROM tax_rates)"),
                    &[],
                    |r| r.get(0),
                )?;
                if any {
                    return Err(Error::invalid(
                        "country",
                        format!(
                            "no tax rate for class {:?} in {country}{}; set one",
                            variant.tax_class,
                            region
                                .as_deref()
                                .map(|r| format!(" (region {r:?})"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                (Decimal::ZERO, None)
            }
        };
        let lists = match buyer.lists.get() {
            Some(lists) => lists,
            None => {
                let lists = self.db.query_vec(
                    sql!(sqlite: sql::CANDIDATE_LISTS, postgres: sql::CANDIDATE_LISTS_PG),
                    &[&currency.code(), &at, &Json(&buyer.groups_json)],
                    price_list_row,
                )?;
                buyer.lists.get_or_init(|| lists)
            }
        };
        // The best candidate: (group list first, net unit price, key).
        let mut best: Option<(bool, Decimal, &PriceList, i64, i64)> = None;
        for list in lists {
            let Some((min_quantity, price_e4)) = self.db.query_opt(
                sql!(sql::LIST_PRICE),
                &[&list.id, &variant.id, &request.quantity],
                |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
            )?
            else {
                continue;
            };
            let entered = money::from_e4(price_e4);
            let net = if list.prices_include_tax {
                entered / (Decimal::ONE + tax_rate + exempt_rate)
            } else {
                entered
            };
            let general = list.customer_group_id.is_none();
            let better = match &best {
                None => true,
                Some((best_general, best_net, ..)) => (general, net) < (*best_general, *best_net),
            };
            if better {
                best = Some((general, net, list, min_quantity, price_e4));
            }
        }
        let (unit_e4, gross, source) = match best {
            Some((_, _, list, min_quantity, price_e4)) => (
                price_e4,
                list.prices_include_tax,
                PriceSource {
                    price_list_id: Some(list.id),
                    price_list_key: Some(list.key.clone()),
                    min_quantity,
                    customer_group_id: list.customer_group_id,
                },
            ),
            None if variant.price.currency == currency => (
                money::to_e4("price", variant.price.amount)?,
                false,
                PriceSource {
                    price_list_id: None,
                    price_list_key: None,
                    min_quantity: 1,
                    customer_group_id: None,
                },
            ),
            None => {
                return Err(Error::invalid(
                    "currency",
                    format!(
                        "{} has no price in {currency}: no valid price list prices it and its \
                         own price is in {}",
                        variant.sku, variant.price.currency
                    ),
                ))
            }
        };
        let entered = Money::from_e4(unit_e4, currency);
        let (unit_e4, gross, stripped) = if exempt && gross {
            let net = (money::from_e4(unit_e4) / (Decimal::ONE + exempt_rate))
                .round_dp_with_strategy(
                    money::PRICE_DECIMALS,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                );
            (money::to_e4("price", net)?, false, true)
        } else {
            (unit_e4, gross, false)
        };
        let (subtotal, tax_amount, total) =
            line_amounts(currency, request.quantity, unit_e4, gross, tax_rate)
                .ok_or_else(|| Error::invalid("quantity", "the line amount is too large"))?;
        let unit_price = Money::from_e4(unit_e4, currency);
        let mut explanation = explain(
            &entered,
            gross || stripped,
            &source,
            &variant.tax_class,
            tax_rate,
            &tax,
        );
        if exempt {
            let net = if stripped {
                format!(
                    ": {} {currency} excl. {}% tax",
                    unit_price.amount.normalize(),
                    (exempt_rate * Decimal::from(100)).normalize()
                )
            } else {
                String::new()
            };
            explanation = explanation.replace(
                "no tax configured",
                &format!("the customer is tax exempt{net}"),
            );
        }
        Ok(Quote {
            variant_id: variant.id,
            sku: variant.sku.clone(),
            quantity: request.quantity,
            unit_price,
            prices_include_tax: gross,
            tax_class: variant.tax_class.clone(),
            tax_rate,
            tax_rate_id,
            tax_exempt: exempt,
            subtotal: Money::new(subtotal, currency),
            tax: Money::new(tax_amount, currency),
            total: Money::new(total, currency),
            source,
            explanation,
        })
    }
}

/// The line's subtotal, tax and total by rule 5 of
/// [`PricingReader::quote`]: the order's own rule
/// ([`crate::order::line_amounts_gross_or_net`]), so that a quote and the
/// line placed from it never differ.
pub(crate) fn line_amounts(
    currency: Currency,
    quantity: i64,
    unit_e4: i64,
    gross: bool,
    rate: Decimal,
) -> Option<(Decimal, Decimal, Decimal)> {
    let rate_ppm = i64::try_from((rate * Decimal::from(1_000_000)).trunc()).ok()?;
    let (subtotal_e4, tax_e4, total_e4) =
        crate::order::line_amounts_gross_or_net(currency, quantity, unit_e4, 0, rate_ppm, gross)?;
    Some((
        currency.present(money::from_e4(subtotal_e4)),
        currency.present(money::from_e4(tax_e4)),
        currency.present(money::from_e4(total_e4)),
    ))
}

fn explain(
    unit: &Money,
    gross: bool,
    source: &PriceSource,
    tax_class: &str,
    rate: Decimal,
    tax: &Option<TaxRate>,
) -> String {
    let basis = if gross { "incl. tax" } else { "excl. tax" };
    let from = match &source.price_list_key {
        Some(key) => {
            let group = if source.customer_group_id.is_some() {
                " (a customer group's list)"
            } else {
                ""
            };
            let break_at = if source.min_quantity > 1 {
                format!(", price from {} units", source.min_quantity)
            } else {
                String::new()
            };
            format!("price list {key:?}{group}{break_at}")
        }
        None => "the variant's own price".to_owned(),
    };
    let tax = match tax {
        Some(t) => format!(
            "tax {}% ({tax_class}, {}{}: {})",
            (rate * Decimal::from(100)).normalize(),
            t.country,
            t.region
                .as_deref()
                .map(|r| format!("/{r}"))
                .unwrap_or_default(),
            t.name
        ),
        None => "no tax configured".to_owned(),
    };
    format!(
        "{} {} {basis} from {from}; {tax}",
        unit.currency.present(unit.amount.normalize()),
        unit.currency
    )
}

/// Prices and tax inside a unit of work.
#[derive(Debug)]
pub struct Pricing<'t> {
    tx: &'t WriteTx<'t>,
    reader: PricingReader<'t>,
}

impl<'t> std::ops::Deref for Pricing<'t> {
    type Target = PricingReader<'t>;
    fn deref(&self) -> &PricingReader<'t> {
        &self.reader
    }
}

pub(crate) fn taken(entity: &'static str, field: &'static str) -> Error {
    Error::new(ErrorKind::AlreadyExists { entity, field })
}

/// A key taken by another writer (another server, on PostgreSQL) between
/// the check and the insert: the check's own error.
fn map_unique(err: Error, entity: &'static str) -> Error {
    match err.violated_unique() {
        Some(_) => taken(entity, "key"),
        None => err,
    }
}

impl<'t> Pricing<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Pricing {
            tx,
            reader: PricingReader::new(tx.db()),
        }
    }

    /// Defines a tax class (`reduced`, `zero`, `books`...).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `key` (1 to [`MAX_TAX_CLASS_LEN`]
    /// lowercase letters, digits, `_`, `-`) or `name`;
    /// [`ErrorKind::AlreadyExists`] for a key in use.
    pub fn define_tax_class(&self, key: &str, name: &str) -> Result<TaxClass> {
        self.tx.atomic(|| {
            let key = tax_class_key("key", key)?;
            let name = validate::required_text("name", name, MAX_PRICING_NAME_LEN)?;
            let exists: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM tax_classes WHERE key = ?1)"),
                &[&key],
                |r| r.get(0),
            )?;
            if exists {
                return Err(taken("tax class", "key"));
            }
            self.tx
                .db()
                .execute(
                    sql!("INSERT INTO tax_classes (key, name) VALUES (?1, ?2)"),
                    &[&key, &name],
                )
                .map_err(|e| map_unique(e, "tax class"))?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "tax_class",
                entity_id: &key,
                changed_fields: &["name"],
            })?;
            Ok(TaxClass { key, name })
        })
    }

    /// Sets the rate of a tax class in a country (or one region of it),
    /// replacing the one before.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `country`, `region`, `tax_class` (not
    /// defined), `rate` (outside 0 to 1, too many decimals) or `name`.
    pub fn set_tax_rate(&self, new: NewTaxRate) -> Result<TaxRate> {
        self.tx.atomic(|| {
            let country = validate::country("country", &new.country)?;
            let region = validate::optional_text("region", new.region.as_deref(), MAX_REGION_LEN)?;
            let class = tax_class_key("tax_class", &new.tax_class)?;
            require_tax_class(self.tx.db(), "tax_class", &class)?;
            let ppm = rate_ppm("rate", new.rate)?;
            let name = validate::required_text("name", &new.name, MAX_PRICING_NAME_LEN)?;
            // Two servers setting the rate of one place take turns, so the
            // second replaces the first's instead of colliding with it.
            let place = format!("{country}/{}/{class}", region.as_deref().unwrap_or(""));
            self.tx.db().lock_for_update(
                sql!(postgres_only: "SELECT pg_advisory_xact_lock(1668641654, hashtext($1))"),
                &[&place],
            )?;
            let existing = self.tax_rate_for(&country, region.as_deref(), &class)?;
            let now = self.tx.now();
            let id = match existing.filter(|r| r.region == region) {
                Some(rate) => {
                    self.tx.db().execute(
                        sql!(
                            "UPDATE tax_rates SET rate_ppm = ?2, name = ?3, updated_at = ?4, \
                             version = version + 1 WHERE id = ?1"
                        ),
                        &[&rate.id, &ppm, &name, &now],
                    )?;
                    self.tx.audit_change(Change {
                        action: "update",
                        entity_type: "tax_rate",
                        entity_id: &rate.id.to_string(),
                        changed_fields: &["rate", "name"],
                    })?;
                    rate.id
                }
                None => {
                    let id = TaxRateId::new();
                    self.tx.db().execute(
                        sql!(
                            "INSERT INTO tax_rates (id, country, region, tax_class, rate_ppm, \
                             name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
                        ),
                        &[&id, &country, &region, &class, &ppm, &name, &now],
                    )?;
                    self.tx.audit_change(Change {
                        action: "create",
                        entity_type: "tax_rate",
                        entity_id: &id.to_string(),
                        changed_fields: &["country", "region", "tax_class", "rate", "name"],
                    })?;
                    id
                }
            };
            self.tx.db().query_row(
                sql!(concat!(select_tax_rate!(), "WHERE id = ?1")),
                &[&id],
                tax_rate_row,
            )
        })
    }

    /// Removes a tax rate.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn remove_tax_rate(&self, id: TaxRateId) -> Result<()> {
        self.tx.atomic(|| {
            let removed = self
                .tx
                .db()
                .execute(sql!("DELETE FROM tax_rates WHERE id = ?1"), &[&id])?;
            if removed == 0 {
                return Err(Error::not_found("tax rate", id));
            }
            self.tx.audit_change(Change {
                action: "delete",
                entity_type: "tax_rate",
                entity_id: &id.to_string(),
                changed_fields: &[],
            })
        })
    }

    /// Creates a customer group.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `key` or `name`;
    /// [`ErrorKind::AlreadyExists`] for a key in use.
    pub fn create_customer_group(&self, key: &str, name: &str) -> Result<CustomerGroup> {
        self.tx.atomic(|| {
            let key = self::key("key", key, MAX_PRICING_KEY_LEN)?;
            let name = validate::required_text("name", name, MAX_PRICING_NAME_LEN)?;
            let exists: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM customer_groups WHERE key = ?1)"),
                &[&key],
                |r| r.get(0),
            )?;
            if exists {
                return Err(taken("customer group", "key"));
            }
            let id = CustomerGroupId::new();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO customer_groups (id, key, name, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4)"
                    ),
                    &[&id, &key, &name, &self.tx.now()],
                )
                .map_err(|e| map_unique(e, "customer group"))?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "customer_group",
                entity_id: &id.to_string(),
                changed_fields: &["key", "name"],
            })?;
            self.customer_group(id)
        })
    }

    /// Puts a customer in a group, from and until an instant (either
    /// open), replacing the period of a membership already there.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown group or customer;
    /// [`ErrorKind::InvalidState`] for an erased or archived customer;
    /// [`ErrorKind::Invalid`] naming `valid_until` (not after
    /// `valid_from`) or `groups` (the customer is in
    /// [`MAX_GROUPS_PER_CUSTOMER`] already).
    pub fn add_to_group(
        &self,
        group_id: CustomerGroupId,
        customer_id: CustomerId,
        valid_from: Option<DateTime<Utc>>,
        valid_until: Option<DateTime<Utc>>,
    ) -> Result<GroupMembership> {
        self.tx.atomic(|| {
            self.customer_group(group_id)?;
            // A customer's memberships change one writer at a time (on
            // PostgreSQL too), so that the limit holds.
            self.tx.db().lock_for_update(
                sql!(postgres_only: "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE"),
                &[&customer_id],
            )?;
            crate::customer::CustomerReader::new(self.tx.db()).require_active(customer_id)?;
            let from = crate::time::checked_opt("valid_from", valid_from)?;
            let until = crate::time::checked_opt("valid_until", valid_until)?;
            if let (Some(f), Some(u)) = (from, until) {
                if u <= f {
                    return Err(Error::invalid("valid_until", "must be after valid_from"));
                }
            }
            let memberships = self.memberships_of(customer_id)?;
            if memberships.len() >= MAX_GROUPS_PER_CUSTOMER
                && !memberships.iter().any(|m| m.group_id == group_id)
            {
                return Err(Error::invalid(
                    "groups",
                    format!("the customer is in {MAX_GROUPS_PER_CUSTOMER} groups already"),
                ));
            }
            self.tx.db().execute(
                sql!(
                    "INSERT INTO customer_group_members (group_id, customer_id, valid_from, \
                     valid_until, added_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (group_id, customer_id) DO UPDATE SET \
                     valid_from = excluded.valid_from, valid_until = excluded.valid_until"
                ),
                &[&group_id, &customer_id, &from, &until, &self.tx.now()],
            )?;
            self.tx.audit_change_with(
                Change {
                    action: "add_member",
                    entity_type: "customer_group",
                    entity_id: &group_id.to_string(),
                    changed_fields: &["members"],
                },
                crate::changes::ChangeFacts {
                    customer_id: Some(customer_id.to_string()),
                    ..crate::changes::ChangeFacts::current()
                },
            )?;
            self.memberships_of(customer_id)?
                .into_iter()
                .find(|m| m.group_id == group_id)
                .ok_or_else(|| Error::corrupt("a membership just written is missing"))
        })
    }

    /// Takes a customer out of a group; one not in it changes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown group.
    pub fn remove_from_group(
        &self,
        group_id: CustomerGroupId,
        customer_id: CustomerId,
    ) -> Result<()> {
        self.tx.atomic(|| {
            self.customer_group(group_id)?;
            let removed = self.tx.db().execute(
                sql!("DELETE FROM customer_group_members WHERE group_id = ?1 AND customer_id = ?2"),
                &[&group_id, &customer_id],
            )?;
            if removed == 0 {
                return Ok(());
            }
            self.tx.audit_change_with(
                Change {
                    action: "remove_member",
                    entity_type: "customer_group",
                    entity_id: &group_id.to_string(),
                    changed_fields: &["members"],
                },
                crate::changes::ChangeFacts {
                    customer_id: Some(customer_id.to_string()),
                    ..crate::changes::ChangeFacts::current()
                },
            )
        })
    }

    /// Makes a customer exempt from tax (`Some`), replacing an exemption
    /// before, or ends the exemption (`None`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer;
    /// [`ErrorKind::InvalidState`] for an erased or archived one;
    /// [`ErrorKind::Invalid`] naming `vat_id` or `reason`.
    pub fn set_tax_exemption(
        &self,
        customer_id: CustomerId,
        exemption: Option<TaxExemption>,
    ) -> Result<Option<TaxExemption>> {
        self.tx.atomic(|| {
            // Two servers setting one customer's exemption take turns.
            self.tx.db().lock_for_update(
                sql!(postgres_only: "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE"),
                &[&customer_id],
            )?;
            crate::customer::CustomerReader::new(self.tx.db()).require_active(customer_id)?;
            self.tx.db().execute(
                sql!("DELETE FROM customer_tax_exemptions WHERE customer_id = ?1"),
                &[&customer_id],
            )?;
            let stored = match exemption {
                Some(e) => {
                    let vat_id = vat_id("vat_id", &e.vat_id)?;
                    let reason =
                        validate::required_text("reason", &e.reason, MAX_EXEMPTION_REASON_LEN)?;
                    self.tx.db().execute(
                        sql!(
                            "INSERT INTO customer_tax_exemptions (customer_id, vat_id, reason, \
                             created_at) VALUES (?1, ?2, ?3, ?4)"
                        ),
                        &[&customer_id, &vat_id, &reason, &self.tx.now()],
                    )?;
                    Some(TaxExemption { vat_id, reason })
                }
                None => None,
            };
            self.tx.audit_change(Change {
                action: "set_tax_exemption",
                entity_type: "customer",
                entity_id: &customer_id.to_string(),
                changed_fields: &["tax_exemption"],
            })?;
            Ok(stored)
        })
    }

    /// Creates a price list.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `key`, `name`, `customer_group_id`
    /// (unknown), `valid_until` (not after `valid_from`) or `valid_from`
    /// when the list would overlap in time another list of the same
    /// currency and group (which of two such lists applies would be
    /// ambiguous); [`ErrorKind::AlreadyExists`] for a key in use.
    pub fn create_price_list(&self, new: NewPriceList) -> Result<PriceList> {
        self.tx.atomic(|| {
            let key = self::key("key", &new.key, MAX_PRICING_KEY_LEN)?;
            let name = validate::required_text("name", &new.name, MAX_PRICE_LIST_NAME_LEN)?;
            let from = crate::time::checked_opt("valid_from", new.valid_from)?;
            let until = crate::time::checked_opt("valid_until", new.valid_until)?;
            if let (Some(f), Some(u)) = (from, until) {
                if u <= f {
                    return Err(Error::invalid("valid_until", "must be after valid_from"));
                }
            }
            if let Some(group) = new.customer_group_id {
                if let Err(e) = self.customer_group(group) {
                    return Err(match e.kind() {
                        ErrorKind::NotFound { .. } => Error::invalid(
                            "customer_group_id",
                            format!("no customer group has id {group}"),
                        ),
                        _ => e,
                    });
                }
            }
            let exists: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM price_lists WHERE key = ?1)"),
                &[&key],
                |r| r.get(0),
            )?;
            if exists {
                return Err(taken("price list", "key"));
            }
            // On PostgreSQL two servers could each pass the overlap check;
            // the lists of a currency are changed one at a time.
            self.tx.db().lock_for_update(
                sql!(postgres_only: "LOCK TABLE price_lists IN SHARE ROW EXCLUSIVE MODE"),
                &[],
            )?;
            for other in self.price_lists()? {
                if other.currency == new.currency
                    && other.customer_group_id == new.customer_group_id
                    && overlaps((from, until), (other.valid_from, other.valid_until))
                {
                    return Err(Error::invalid(
                        "valid_from",
                        format!(
                            "the list's period overlaps price list {:?}, for the same currency \
                             and customer group; end one before the other starts",
                            other.key
                        ),
                    ));
                }
            }
            let id = PriceListId::new();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO price_lists (id, key, name, currency, prices_include_tax, \
                     customer_group_id, valid_from, valid_until, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
                    ),
                    &[
                        &id,
                        &key,
                        &name,
                        &new.currency.code(),
                        &new.prices_include_tax,
                        &new.customer_group_id,
                        &from,
                        &until,
                        &self.tx.now(),
                    ],
                )
                .map_err(|e| map_unique(e, "price list"))?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "price_list",
                entity_id: &id.to_string(),
                changed_fields: &[
                    "key",
                    "name",
                    "currency",
                    "prices_include_tax",
                    "customer_group_id",
                    "valid_from",
                    "valid_until",
                ],
            })?;
            self.price_list(id)
        })
    }

    /// Sets a list's price of a variant from `min_quantity` on (1 for the
    /// base price; more for a quantity break), replacing the one before.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown list or variant;
    /// [`ErrorKind::Invalid`] naming `min_quantity` (1 to
    /// [`MAX_MIN_QUANTITY`]) or `price` (negative, more than four
    /// decimals, above the limit).
    pub fn set_price(
        &self,
        price_list_id: PriceListId,
        variant_id: VariantId,
        min_quantity: i64,
        price: Decimal,
    ) -> Result<ListPrice> {
        self.tx.atomic(|| {
            let list = self.price_list(price_list_id)?;
            crate::catalog::CatalogReader::new(self.tx.db()).variant(variant_id)?;
            if !(1..=MAX_MIN_QUANTITY).contains(&min_quantity) {
                return Err(Error::invalid(
                    "min_quantity",
                    format!("is {min_quantity}, must be between 1 and {MAX_MIN_QUANTITY}"),
                ));
            }
            let price_e4 = money::unit_price("price", price)?;
            self.tx.db().execute(
                sql!(
                    "INSERT INTO price_list_prices (price_list_id, variant_id, min_quantity, \
                     price_e4) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (price_list_id, variant_id, \
                     min_quantity) DO UPDATE SET price_e4 = excluded.price_e4"
                ),
                &[&price_list_id, &variant_id, &min_quantity, &price_e4],
            )?;
            self.touch_list(price_list_id)?;
            Ok(ListPrice {
                price_list_id,
                variant_id,
                min_quantity,
                price: Money::from_e4(price_e4, list.currency),
            })
        })
    }

    /// Removes a list's price of a variant at a quantity break.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown list or price.
    pub fn remove_price(
        &self,
        price_list_id: PriceListId,
        variant_id: VariantId,
        min_quantity: i64,
    ) -> Result<()> {
        self.tx.atomic(|| {
            self.price_list(price_list_id)?;
            let removed = self.tx.db().execute(
                sql!(
                    "DELETE FROM price_list_prices WHERE price_list_id = ?1 AND variant_id = ?2 \
                     AND min_quantity = ?3"
                ),
                &[&price_list_id, &variant_id, &min_quantity],
            )?;
            if removed == 0 {
                return Err(Error::not_found(
                    "price",
                    format!("of variant {variant_id} from {min_quantity} units"),
                ));
            }
            self.touch_list(price_list_id)
        })
    }

    fn touch_list(&self, id: PriceListId) -> Result<()> {
        self.tx.db().execute(
            sql!("UPDATE price_lists SET updated_at = ?2, version = version + 1 WHERE id = ?1"),
            &[&id, &self.tx.now()],
        )?;
        self.tx.audit_change(Change {
            action: "update",
            entity_type: "price_list",
            entity_id: &id.to_string(),
            changed_fields: &["prices"],
        })
    }

    /// Deletes a price list and its prices.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn delete_price_list(&self, id: PriceListId) -> Result<()> {
        self.tx.atomic(|| {
            self.price_list(id)?;
            self.tx.db().execute(
                sql!("DELETE FROM price_list_prices WHERE price_list_id = ?1"),
                &[&id],
            )?;
            self.tx
                .db()
                .execute(sql!("DELETE FROM price_lists WHERE id = ?1"), &[&id])?;
            self.tx.audit_change(Change {
                action: "delete",
                entity_type: "price_list",
                entity_id: &id.to_string(),
                changed_fields: &[],
            })
        })
    }
}

/// Whether two half-open periods (`None`: unbounded) share an instant.
fn overlaps(
    a: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    b: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> bool {
    let starts_before_b_ends = match (a.0, b.1) {
        (Some(start), Some(end)) => start < end,
        _ => true,
    };
    let b_starts_before_a_ends = match (b.0, a.1) {
        (Some(start), Some(end)) => start < end,
        _ => true,
    };
    starts_before_b_ends && b_starts_before_a_ends
}

/// Pricing invariants for `check()`: every variant's tax class is defined,
/// and no two lists of one currency and group overlap in time.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT v.sku, v.tax_class FROM product_variants v \
             WHERE NOT EXISTS (SELECT 1 FROM tax_classes c WHERE c.key = v.tax_class) ORDER BY v.sku"
        ),
        &[],
        |r| {
            let sku: String = r.get(0)?;
            let class: String = r.get(1)?;
            report.push(format!(
                "variant {sku}: its tax class {class:?} is not defined"
            ));
            Ok(())
        },
    )?;
    let lists = PricingReader::new(conn).price_lists()?;
    for (i, a) in lists.iter().enumerate() {
        for b in &lists[i + 1..] {
            if a.currency == b.currency
                && a.customer_group_id == b.customer_group_id
                && overlaps((a.valid_from, a.valid_until), (b.valid_from, b.valid_until))
            {
                report.push(format!(
                    "price lists {:?} and {:?} overlap in time for the same currency and group",
                    a.key, b.key
                ));
            }
        }
    }
    Ok(())
}

crate::one_shot::one_shot! {
    /// Prices and tax for single operations, each its own unit of work:
    /// `store.pricing().set_tax_rate(new)`.
    StorePricing => write pricing: Pricing, read pricing: PricingReader;
    write {
        fn define_tax_class(key: &str, name: &str) -> TaxClass;
        fn set_tax_rate(new: NewTaxRate) -> TaxRate;
        fn remove_tax_rate(id: TaxRateId) -> ();
        fn create_customer_group(key: &str, name: &str) -> CustomerGroup;
        fn create_price_list(new: NewPriceList) -> PriceList;
        fn set_price(price_list_id: PriceListId, variant_id: VariantId, min_quantity: i64, price: Decimal) -> ListPrice;
        fn remove_price(price_list_id: PriceListId, variant_id: VariantId, min_quantity: i64) -> ();
        fn delete_price_list(id: PriceListId) -> ();
        fn add_to_group(group_id: CustomerGroupId, customer_id: CustomerId, valid_from: Option<DateTime<Utc>>, valid_until: Option<DateTime<Utc>>) -> GroupMembership;
        fn remove_from_group(group_id: CustomerGroupId, customer_id: CustomerId) -> ();
        fn set_tax_exemption(customer_id: CustomerId, exemption: Option<TaxExemption>) -> Option<TaxExemption>;
    }
    read {
        fn tax_classes() -> Vec<TaxClass>;
        fn tax_rates() -> Vec<TaxRate>;
        fn tax_rate_for(country: &str, region: Option<&str>, tax_class: &str) -> Option<TaxRate>;
        fn customer_groups() -> Vec<CustomerGroup>;
        fn customer_group(id: CustomerGroupId) -> CustomerGroup;
        fn price_lists() -> Vec<PriceList>;
        fn price_list(id: PriceListId) -> PriceList;
        fn prices_of(price_list_id: PriceListId) -> Vec<ListPrice>;
        fn quote(request: &QuoteRequest) -> Quote;
        fn groups_of(customer_id: CustomerId, at: DateTime<Utc>) -> Vec<CustomerGroup>;
        fn memberships_of(customer_id: CustomerId) -> Vec<GroupMembership>;
        fn tax_exemption(customer_id: CustomerId) -> Option<TaxExemption>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Prices and tax for one-shot calls.
    pub fn pricing(&self) -> StorePricing<'_> {
        StorePricing::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Prices and tax inside this transaction.
    pub fn pricing(&self) -> Pricing<'_> {
        Pricing::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Prices and tax, read-only.
    pub fn pricing(&self) -> PricingReader<'a> {
        PricingReader::new(self.db())
    }
}
