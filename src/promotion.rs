//! Promotions and coupons (docs/PRICING.md, "Promotions"): percent or
//! amount off an order, percent off lines, buy X get Y, free shipping;
//! conditions (minimum subtotal, products, categories, customer groups,
//! first order); coupon codes with limits per code and per customer;
//! stacking; redemptions. Orders priced by the catalog
//! ([`NewOrder::priced_by_catalog`](crate::NewOrder::priced_by_catalog))
//! apply them; explicit orders carry the caller's discounts instead.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::audit::Change;
use crate::db::{sql, Conn, Row};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{
    CategoryId, CouponId, CustomerGroupId, CustomerId, OrderId, ProductId, PromotionId,
    RedemptionId,
};
use crate::money::{self, Currency, Money};
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// Longest promotion key, in characters.
pub const MAX_PROMOTION_KEY_LEN: usize = 64;
/// Longest promotion name, in characters.
pub const MAX_PROMOTION_NAME_LEN: usize = 200;
/// Shortest coupon code, in characters.
pub const MIN_COUPON_CODE_LEN: usize = 3;
/// Longest coupon code, in characters.
pub const MAX_COUPON_CODE_LEN: usize = 32;
/// Most products, most categories and most customer groups one promotion
/// may name (each).
pub const MAX_PROMOTION_TARGETS: usize = 100;
/// Highest "buy" or "get" quantity of a buy-X-get-Y promotion.
pub const MAX_BUY_GET_QUANTITY: i64 = 1000;
/// Highest priority (and, negated, the lowest).
pub const MAX_PROMOTION_PRIORITY: i64 = 1000;
/// Most promotions that apply to one order (the coupon's counts).
pub const MAX_PROMOTIONS_PER_ORDER: usize = 5;
/// Most automatic (coupon-less) promotions active at once: every catalog
/// order considers each of them.
pub const MAX_AUTOMATIC_PROMOTIONS: usize = 100;
/// Highest amount off and highest minimum subtotal of a promotion, in its
/// currency.
pub const MAX_PROMOTION_AMOUNT: i64 = 100_000_000;
/// Highest usage limit of a coupon, in total or per customer.
pub const MAX_COUPON_USES: i64 = 1_000_000_000;

/// What a promotion takes off. Percentages are 0.01 to 100 with at most
/// two decimals; amounts are in the promotion's currency (JSON: decimal
/// strings).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PromotionEffect {
    /// A percentage of the eligible lines' amount, worked out once for the
    /// order and shared among those lines in proportion to their amounts.
    PercentOffOrder {
        /// The percentage (10 is 10 %).
        #[serde(with = "crate::money::amount_text")]
        #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
        percent: Decimal,
    },
    /// A fixed amount off the eligible lines (never more than they cost),
    /// shared among them in proportion to their amounts.
    AmountOffOrder {
        /// The amount, in the promotion's currency.
        #[serde(with = "crate::money::amount_text")]
        #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
        amount: Decimal,
    },
    /// A percentage off each eligible line, rounded per line.
    PercentOffLines {
        /// The percentage (10 is 10 %).
        #[serde(with = "crate::money::amount_text")]
        #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
        percent: Decimal,
    },
    /// Of every `buy_quantity + get_quantity` eligible units, the
    /// `get_quantity` cheapest are `percent` off (100: free).
    BuyXGetY {
        /// Units to buy.
        buy_quantity: i64,
        /// Units that get the discount.
        get_quantity: i64,
        /// The percentage off those units (100 is free).
        #[serde(with = "crate::money::amount_text")]
        #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
        percent: Decimal,
    },
    /// The order's shipping is free.
    FreeShipping,
}

impl PromotionEffect {
    fn kind(&self) -> &'static str {
        match self {
            PromotionEffect::PercentOffOrder { .. } => "percent_off_order",
            PromotionEffect::AmountOffOrder { .. } => "amount_off_order",
            PromotionEffect::PercentOffLines { .. } => "percent_off_lines",
            PromotionEffect::BuyXGetY { .. } => "buy_x_get_y",
            PromotionEffect::FreeShipping => "free_shipping",
        }
    }
}

/// Whether a promotion combines with others (the stacking rule of
/// docs/PRICING.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Applies together with every other stackable promotion.
    #[default]
    Stackable,
    /// Applies alone.
    Exclusive,
}

/// When a promotion applies. Every condition given must hold; an empty
/// list is no condition.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionConditions {
    /// The order's goods before any discount must come to at least this
    /// (in the promotion's currency, which it then needs).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub min_subtotal: Option<Decimal>,
    /// The promotion is for lines of these products...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_ids: Vec<ProductId>,
    /// ... and of products in these categories or their subcategories.
    /// With neither, it is for every line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category_ids: Vec<CategoryId>,
    /// Only for customers in one of these groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_group_ids: Vec<CustomerGroupId>,
    /// Only for a customer's first order (not counting cancelled ones);
    /// never for a guest, whose email address proves no history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_order_only: bool,
}

/// A promotion to create.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewPromotion {
    /// Key: 1 to [`MAX_PROMOTION_KEY_LEN`] lowercase letters, digits, `_`,
    /// `-`; unique.
    pub key: String,
    /// Name for people: 1 to [`MAX_PROMOTION_NAME_LEN`] characters.
    pub name: String,
    /// What it takes off.
    pub effect: PromotionEffect,
    /// The currency of its orders; needed by an amount off and a minimum
    /// subtotal. `None`: orders in any currency.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// When it applies.
    #[serde(default)]
    pub conditions: PromotionConditions,
    /// Only with one of its coupons (default false: automatic).
    #[serde(default)]
    pub requires_coupon: bool,
    /// Whether it combines with others (default stackable).
    #[serde(default)]
    pub stacking: Stacking,
    /// Higher applies first; -[`MAX_PROMOTION_PRIORITY`] to
    /// [`MAX_PROMOTION_PRIORITY`] (default 0).
    #[serde(default)]
    pub priority: i64,
    /// From this instant; `None`: from now.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until just before this instant; `None`: open-ended.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(NewPromotion);

impl NewPromotion {
    /// An automatic, stackable promotion for every order, from now on.
    pub fn new(key: impl Into<String>, name: impl Into<String>, effect: PromotionEffect) -> Self {
        NewPromotion {
            key: key.into(),
            name: name.into(),
            effect,
            currency: None,
            conditions: PromotionConditions::default(),
            requires_coupon: false,
            stacking: Stacking::Stackable,
            priority: 0,
            starts_at: None,
            ends_at: None,
        }
    }

    /// For orders in this currency.
    pub fn currency(mut self, currency: Currency) -> Self {
        self.currency = Some(currency);
        self
    }

    /// Only from this subtotal on (set the currency too).
    pub fn min_subtotal(mut self, amount: Decimal) -> Self {
        self.conditions.min_subtotal = Some(amount);
        self
    }

    /// For lines of this product.
    pub fn product(mut self, id: ProductId) -> Self {
        self.conditions.product_ids.push(id);
        self
    }

    /// For lines of products in this category (or below it).
    pub fn category(mut self, id: CategoryId) -> Self {
        self.conditions.category_ids.push(id);
        self
    }

    /// Only for members of this group.
    pub fn group(mut self, id: CustomerGroupId) -> Self {
        self.conditions.customer_group_ids.push(id);
        self
    }

    /// Only for a customer's first order.
    pub fn first_order_only(mut self) -> Self {
        self.conditions.first_order_only = true;
        self
    }

    /// Only with one of its coupons.
    pub fn requires_coupon(mut self) -> Self {
        self.requires_coupon = true;
        self
    }

    /// Applies alone.
    pub fn exclusive(mut self) -> Self {
        self.stacking = Stacking::Exclusive;
        self
    }

    /// Its priority (higher first).
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }

    /// From `starts_at` until just before `ends_at` (either open).
    pub fn valid(
        mut self,
        starts_at: Option<DateTime<Utc>>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Self {
        self.starts_at = starts_at;
        self.ends_at = ends_at;
        self
    }
}

/// A promotion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Promotion {
    /// Its id.
    pub id: PromotionId,
    /// Its key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// What it takes off.
    pub effect: PromotionEffect,
    /// The currency of its orders; `None` for any.
    pub currency: Option<Currency>,
    /// When it applies.
    pub conditions: PromotionConditions,
    /// Only with one of its coupons.
    pub requires_coupon: bool,
    /// Whether it combines with others.
    pub stacking: Stacking,
    /// Higher applies first.
    pub priority: i64,
    /// From this instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until just before this instant.
    pub ends_at: Option<DateTime<Utc>>,
    /// Whether it is switched on.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A coupon to create: a code that unlocks a promotion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewCoupon {
    /// The code: [`MIN_COUPON_CODE_LEN`] to [`MAX_COUPON_CODE_LEN`]
    /// letters, digits, `-` and `_`; stored upper-cased, matched without
    /// regard to case.
    pub code: String,
    /// The promotion it unlocks.
    pub promotion_id: PromotionId,
    /// How many orders may use it in all; `None`: no limit.
    #[serde(default)]
    pub usage_limit: Option<i64>,
    /// How many orders of one customer may use it; `None`: no limit. A
    /// coupon with this limit is not for guests.
    #[serde(default)]
    pub per_customer_limit: Option<i64>,
    /// From this instant (the promotion's own period applies too).
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Until just before this instant.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(NewCoupon);

impl NewCoupon {
    /// A coupon without limits.
    pub fn new(code: impl Into<String>, promotion_id: PromotionId) -> Self {
        NewCoupon {
            code: code.into(),
            promotion_id,
            usage_limit: None,
            per_customer_limit: None,
            starts_at: None,
            ends_at: None,
        }
    }

    /// At most `uses` orders in all (1: a one-time code).
    pub fn usage_limit(mut self, uses: i64) -> Self {
        self.usage_limit = Some(uses);
        self
    }

    /// At most `uses` orders per customer.
    pub fn per_customer_limit(mut self, uses: i64) -> Self {
        self.per_customer_limit = Some(uses);
        self
    }

    /// From `starts_at` until just before `ends_at` (either open).
    pub fn valid(
        mut self,
        starts_at: Option<DateTime<Utc>>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Self {
        self.starts_at = starts_at;
        self.ends_at = ends_at;
        self
    }
}

/// A coupon.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Coupon {
    /// Its id.
    pub id: CouponId,
    /// Its code, upper-cased.
    pub code: String,
    /// The promotion it unlocks.
    pub promotion_id: PromotionId,
    /// How many orders may use it in all.
    pub usage_limit: Option<i64>,
    /// How many orders of one customer may use it.
    pub per_customer_limit: Option<i64>,
    /// How many orders use it now (a cancelled order gives its use back).
    pub uses: i64,
    /// From this instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until just before this instant.
    pub ends_at: Option<DateTime<Utc>>,
    /// Whether it is switched on.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (a use changes it).
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// One promotion applied to one order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Redemption {
    /// Its id.
    pub id: RedemptionId,
    /// The promotion.
    pub promotion_id: PromotionId,
    /// The promotion's key.
    pub promotion_key: String,
    /// The coupon used, if any.
    pub coupon_id: Option<CouponId>,
    /// The coupon's code.
    pub coupon_code: Option<String>,
    /// The order.
    pub order_id: OrderId,
    /// What it took off the order's lines.
    pub discount: Money,
    /// What it took off the shipping.
    pub shipping_discount: Money,
    /// When the order was placed.
    pub redeemed_at: DateTime<Utc>,
    /// When the order was cancelled (its coupon use given back).
    pub released_at: Option<DateTime<Utc>>,
}

/// A discount on one order line, as the line's
/// [`LinePriceSource`](crate::LinePriceSource) keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LineDiscount {
    /// The promotion's key.
    pub promotion_key: String,
    /// The coupon's code, when one unlocked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    /// What it took off the line.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub amount: Decimal,
}

// ---------------------------------------------------------------------
// Rows.

macro_rules! select_promotion {
    () => {
        "SELECT id, key, name, effect, percent_e2, amount_e4, buy_quantity, get_quantity, \
         currency, min_subtotal_e4, first_order_only, requires_coupon, exclusive, priority, \
         starts_at, ends_at, active, created_at, updated_at, version FROM promotions "
    };
}

macro_rules! select_coupon {
    () => {
        "SELECT id, code, promotion_id, usage_limit, per_customer_limit, uses, starts_at, \
         ends_at, active, created_at, updated_at, version FROM coupons "
    };
}

macro_rules! select_redemption {
    () => {
        "SELECT r.id, r.promotion_id, p.key, r.coupon_id, c.code, r.order_id, r.currency, \
         r.discount_e4, r.shipping_discount_e4, r.redeemed_at, r.released_at \
         FROM promotion_redemptions r JOIN promotions p ON p.id = r.promotion_id \
         LEFT JOIN coupons c ON c.id = r.coupon_id "
    };
}

crate::bench_sql::sql_module! {
    /// The statements an order priced by the catalog runs for its
    /// promotions, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// The automatic promotions active at ?1, by priority then key.
    pub const AUTOMATIC: &str = concat!(
        select_promotion!(),
        "WHERE requires_coupon = 0 AND active = 1 AND (starts_at IS NULL OR starts_at <= ?1) \
         AND (ends_at IS NULL OR ends_at > ?1) ORDER BY priority DESC, key"
    );
    /// A promotion's conditions.
    pub const CONDITIONS: &str = "SELECT kind, target_id FROM promotion_conditions \
        WHERE promotion_id = ?1 ORDER BY kind, target_id";
    /// The conditions of every promotion [`AUTOMATIC`] reads at ?1, in one
    /// read per order.
    pub const AUTOMATIC_CONDITIONS: &str = "SELECT c.promotion_id, c.kind, c.target_id \
        FROM promotion_conditions c JOIN promotions p ON p.id = c.promotion_id \
        WHERE p.requires_coupon = 0 AND p.active = 1 \
        AND (p.starts_at IS NULL OR p.starts_at <= ?1) AND (p.ends_at IS NULL OR p.ends_at > ?1) \
        ORDER BY c.promotion_id, c.kind, c.target_id";
    /// One promotion applied to one order.
    pub const INSERT_REDEMPTION: &str = "INSERT INTO promotion_redemptions (id, promotion_id, \
        coupon_id, order_id, currency, discount_e4, shipping_discount_e4, redeemed_at) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    }
}

fn percent_of(e2: Option<i64>) -> Result<Decimal> {
    e2.map(|p| Decimal::new(p, 2))
        .ok_or_else(|| Error::corrupt("a percent promotion has no percent"))
}

fn promotion_row(r: &Row<'_>) -> Result<Promotion> {
    let effect: String = r.get(3)?;
    let currency: Option<String> = r.get(8)?;
    let currency = currency.as_deref().map(Currency::from_db).transpose()?;
    let effect = match effect.as_str() {
        "percent_off_order" => PromotionEffect::PercentOffOrder {
            percent: percent_of(r.get(4)?)?,
        },
        "amount_off_order" => PromotionEffect::AmountOffOrder {
            amount: money::from_e4(
                r.get::<Option<i64>>(5)?
                    .ok_or_else(|| Error::corrupt("an amount promotion has no amount"))?,
            )
            .normalize(),
        },
        "percent_off_lines" => PromotionEffect::PercentOffLines {
            percent: percent_of(r.get(4)?)?,
        },
        "buy_x_get_y" => PromotionEffect::BuyXGetY {
            buy_quantity: r.get::<Option<i64>>(6)?.unwrap_or(1),
            get_quantity: r.get::<Option<i64>>(7)?.unwrap_or(1),
            percent: percent_of(r.get(4)?)?,
        },
        "free_shipping" => PromotionEffect::FreeShipping,
        other => {
            return Err(Error::corrupt(format!(
                "unknown promotion effect {other:?}"
            )))
        }
    };
    let min_subtotal: Option<i64> = r.get(9)?;
    Ok(Promotion {
        id: r.get(0)?,
        key: r.get(1)?,
        name: r.get(2)?,
        effect,
        currency,
        conditions: PromotionConditions {
            min_subtotal: min_subtotal.map(|m| money::from_e4(m).normalize()),
            first_order_only: r.get(10)?,
            ..PromotionConditions::default()
        },
        requires_coupon: r.get(11)?,
        stacking: if r.get::<bool>(12)? {
            Stacking::Exclusive
        } else {
            Stacking::Stackable
        },
        priority: r.get(13)?,
        starts_at: r.get(14)?,
        ends_at: r.get(15)?,
        active: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
        version: r.get(19)?,
    })
}

fn coupon_row(r: &Row<'_>) -> Result<Coupon> {
    Ok(Coupon {
        id: r.get(0)?,
        code: r.get(1)?,
        promotion_id: r.get(2)?,
        usage_limit: r.get(3)?,
        per_customer_limit: r.get(4)?,
        uses: r.get(5)?,
        starts_at: r.get(6)?,
        ends_at: r.get(7)?,
        active: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        version: r.get(11)?,
    })
}

fn redemption_row(r: &Row<'_>) -> Result<Redemption> {
    let currency = Currency::from_db(&r.get::<String>(6)?)?;
    Ok(Redemption {
        id: r.get(0)?,
        promotion_id: r.get(1)?,
        promotion_key: r.get(2)?,
        coupon_id: r.get(3)?,
        coupon_code: r.get(4)?,
        order_id: r.get(5)?,
        discount: Money::from_e4(r.get(7)?, currency),
        shipping_discount: Money::from_e4(r.get(8)?, currency),
        redeemed_at: r.get(9)?,
        released_at: r.get(10)?,
    })
}

/// Adds the condition in column `at` of a row (its kind is `kind`).
fn add_condition(c: &mut PromotionConditions, kind: &str, r: &Row<'_>, at: usize) -> Result<()> {
    match kind {
        "product" => c.product_ids.push(r.get(at)?),
        "category" => c.category_ids.push(r.get(at)?),
        _ => c.customer_group_ids.push(r.get(at)?),
    }
    Ok(())
}

/// A coupon code as stored: trimmed, upper-cased, checked.
fn coupon_code(field: &str, code: &str) -> Result<String> {
    let code = code.trim().to_uppercase();
    let n = code.chars().count();
    if !(MIN_COUPON_CODE_LEN..=MAX_COUPON_CODE_LEN).contains(&n) {
        return Err(Error::invalid(
            field,
            format!("has {n} characters, must have {MIN_COUPON_CODE_LEN} to {MAX_COUPON_CODE_LEN}"),
        ));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            field,
            "may hold only ASCII letters, digits, '-' and '_'",
        ));
    }
    Ok(code)
}

/// A percentage: more than 0, at most 100, at most two decimals; as
/// hundredths.
fn percent_e2(field: &str, percent: Decimal) -> Result<i64> {
    if percent <= Decimal::ZERO || percent > Decimal::ONE_HUNDRED {
        return Err(Error::invalid(
            field,
            format!("is {percent}, must be more than 0 and at most 100"),
        ));
    }
    if percent.normalize().scale() > 2 {
        return Err(Error::invalid(
            field,
            format!("{percent} has more than two decimals"),
        ));
    }
    i64::try_from((percent * Decimal::ONE_HUNDRED).trunc())
        .map_err(|_| Error::invalid(field, "is out of range"))
}

fn limit(field: &str, value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(n) if !(1..=MAX_COUPON_USES).contains(&n) => Err(Error::invalid(
            field,
            format!("is {n}, must be between 1 and {MAX_COUPON_USES}"),
        )),
        other => Ok(other),
    }
}

/// A period's start and end, either open.
type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn period(starts_at: Option<DateTime<Utc>>, ends_at: Option<DateTime<Utc>>) -> Result<Period> {
    let starts_at = crate::time::checked_opt("starts_at", starts_at)?;
    let ends_at = crate::time::checked_opt("ends_at", ends_at)?;
    if let (Some(s), Some(e)) = (starts_at, ends_at) {
        if e <= s {
            return Err(Error::invalid("ends_at", "must be after starts_at"));
        }
    }
    Ok((starts_at, ends_at))
}

// ---------------------------------------------------------------------
// Reading.

/// Read access to promotions, coupons and redemptions.
#[derive(Debug)]
pub struct PromotionReader<'a> {
    db: Conn<'a>,
}

impl<'a> PromotionReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        PromotionReader { db }
    }

    fn with_conditions(&self, mut p: Promotion) -> Result<Promotion> {
        self.db.query_each(sql!(sql::CONDITIONS), &[&p.id], |r| {
            add_condition(&mut p.conditions, &r.get::<String>(0)?, r, 1)
        })?;
        Ok(p)
    }

    /// A promotion.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn promotion(&self, id: PromotionId) -> Result<Promotion> {
        let p = self
            .db
            .query_opt(
                sql!(concat!(select_promotion!(), "WHERE id = ?1")),
                &[&id],
                promotion_row,
            )?
            .ok_or_else(|| Error::not_found("promotion", id.to_string()))?;
        self.with_conditions(p)
    }

    /// A promotion by its key.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown key.
    pub fn promotion_by_key(&self, key: &str) -> Result<Promotion> {
        let p = self
            .db
            .query_opt(
                sql!(concat!(select_promotion!(), "WHERE key = ?1")),
                &[&key],
                promotion_row,
            )?
            .ok_or_else(|| Error::not_found("promotion", format!("with key {key:?}")))?;
        self.with_conditions(p)
    }

    /// Every promotion, by key.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn promotions(&self) -> Result<Vec<Promotion>> {
        let all = self.db.query_vec(
            sql!(concat!(select_promotion!(), "ORDER BY key")),
            &[],
            promotion_row,
        )?;
        all.into_iter().map(|p| self.with_conditions(p)).collect()
    }

    /// A coupon by its code (matched without regard to case).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `code` when it cannot be a code;
    /// [`ErrorKind::NotFound`] for an unknown one.
    pub fn coupon(&self, code: &str) -> Result<Coupon> {
        let code = coupon_code("code", code)?;
        self.db
            .query_opt(
                sql!(concat!(select_coupon!(), "WHERE code = ?1")),
                &[&code],
                coupon_row,
            )?
            .ok_or_else(|| Error::not_found("coupon", format!("with code {code:?}")))
    }

    fn coupon_by_id(&self, id: CouponId) -> Result<Coupon> {
        self.db
            .query_opt(
                sql!(concat!(select_coupon!(), "WHERE id = ?1")),
                &[&id],
                coupon_row,
            )?
            .ok_or_else(|| Error::not_found("coupon", id.to_string()))
    }

    /// The coupons of a promotion, by code.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown promotion.
    pub fn coupons_of(&self, promotion_id: PromotionId) -> Result<Vec<Coupon>> {
        self.promotion(promotion_id)?;
        self.db.query_vec(
            sql!(concat!(
                select_coupon!(),
                "WHERE promotion_id = ?1 ORDER BY code"
            )),
            &[&promotion_id],
            coupon_row,
        )
    }

    /// The promotions applied to an order, by promotion key.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub fn redemptions_of_order(&self, order_id: OrderId) -> Result<Vec<Redemption>> {
        crate::order::OrderReader::new(self.db).require(order_id)?;
        self.db.query_vec(
            sql!(concat!(
                select_redemption!(),
                "WHERE r.order_id = ?1 ORDER BY p.key"
            )),
            &[&order_id],
            redemption_row,
        )
    }

    /// Every order a promotion was applied to, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown promotion.
    pub fn redemptions_of_promotion(&self, promotion_id: PromotionId) -> Result<Vec<Redemption>> {
        self.promotion(promotion_id)?;
        self.db.query_vec(
            sql!(concat!(
                select_redemption!(),
                "WHERE r.promotion_id = ?1 ORDER BY r.redeemed_at, r.id"
            )),
            &[&promotion_id],
            redemption_row,
        )
    }
}

// ---------------------------------------------------------------------
// Writing.

/// Promotions and coupons inside a unit of work.
#[derive(Debug)]
pub struct Promotions<'t> {
    tx: &'t WriteTx<'t>,
    reader: PromotionReader<'t>,
}

impl<'t> std::ops::Deref for Promotions<'t> {
    type Target = PromotionReader<'t>;
    fn deref(&self) -> &PromotionReader<'t> {
        &self.reader
    }
}

use crate::pricing::taken;

impl<'t> Promotions<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Promotions {
            tx,
            reader: PromotionReader::new(tx.db()),
        }
    }

    /// Creates a promotion, active from its start.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `key`, `name`, `effect.percent` (not
    /// more than 0 and at most 100 with two decimals), `effect.amount`
    /// (not positive, more decimals than the currency has),
    /// `effect.buy_quantity` or `effect.get_quantity` (1 to
    /// [`MAX_BUY_GET_QUANTITY`]), `currency` (missing for an amount or a
    /// minimum subtotal), `conditions.min_subtotal`,
    /// `conditions.product_ids`, `conditions.category_ids`,
    /// `conditions.customer_group_ids` (unknown, repeated, more than
    /// [`MAX_PROMOTION_TARGETS`]), `priority`, `ends_at` (not after
    /// `starts_at`, or past), `requires_coupon` (more than
    /// [`MAX_AUTOMATIC_PROMOTIONS`] automatic ones);
    /// [`ErrorKind::AlreadyExists`] for a key in use.
    pub fn create_promotion(&self, new: NewPromotion) -> Result<Promotion> {
        self.tx.atomic(|| {
            let key = crate::pricing::key("key", &new.key, MAX_PROMOTION_KEY_LEN)?;
            let name = validate::required_text("name", &new.name, MAX_PROMOTION_NAME_LEN)?;
            let (starts_at, ends_at) = period(new.starts_at, new.ends_at)?;
            if ends_at.is_some_and(|e| e <= self.tx.now()) {
                return Err(Error::invalid("ends_at", "is in the past"));
            }
            if !(-MAX_PROMOTION_PRIORITY..=MAX_PROMOTION_PRIORITY).contains(&new.priority) {
                return Err(Error::invalid(
                    "priority",
                    format!(
                        "is {}, must be between -{MAX_PROMOTION_PRIORITY} and {MAX_PROMOTION_PRIORITY}",
                        new.priority
                    ),
                ));
            }
            let (mut percent, mut amount_e4, mut buy, mut get) = (None, None, None, None);
            match &new.effect {
                PromotionEffect::PercentOffOrder { percent: p }
                | PromotionEffect::PercentOffLines { percent: p } => {
                    percent = Some(percent_e2("effect.percent", *p)?);
                }
                PromotionEffect::AmountOffOrder { amount } => {
                    let currency = new.currency.ok_or_else(|| {
                        Error::invalid("currency", "an amount off needs the promotion's currency")
                    })?;
                    let a = currency.payable("effect.amount", *amount)?;
                    if a == 0 {
                        return Err(Error::invalid("effect.amount", "must be more than 0"));
                    }
                    if a > MAX_PROMOTION_AMOUNT * 10_000 {
                        return Err(Error::invalid(
                            "effect.amount",
                            format!("is above {MAX_PROMOTION_AMOUNT}"),
                        ));
                    }
                    amount_e4 = Some(a);
                }
                PromotionEffect::BuyXGetY {
                    buy_quantity,
                    get_quantity,
                    percent: p,
                } => {
                    for (field, q) in [
                        ("effect.buy_quantity", buy_quantity),
                        ("effect.get_quantity", get_quantity),
                    ] {
                        if !(1..=MAX_BUY_GET_QUANTITY).contains(q) {
                            return Err(Error::invalid(
                                field,
                                format!("is {q}, must be between 1 and {MAX_BUY_GET_QUANTITY}"),
                            ));
                        }
                    }
                    buy = Some(*buy_quantity);
                    get = Some(*get_quantity);
                    percent = Some(percent_e2("effect.percent", *p)?);
                }
                PromotionEffect::FreeShipping => {}
            }
            let min_subtotal_e4 = match new.conditions.min_subtotal {
                None => None,
                Some(m) => {
                    let currency = new.currency.ok_or_else(|| {
                        Error::invalid("currency", "a minimum subtotal needs the promotion's currency")
                    })?;
                    let m = currency.payable("conditions.min_subtotal", m)?;
                    if m == 0 {
                        return Err(Error::invalid(
                            "conditions.min_subtotal",
                            "must be more than 0 (leave it out for no minimum)",
                        ));
                    }
                    if m > MAX_PROMOTION_AMOUNT * 10_000 {
                        return Err(Error::invalid(
                            "conditions.min_subtotal",
                            format!("is above {MAX_PROMOTION_AMOUNT}"),
                        ));
                    }
                    Some(m)
                }
            };
            let c = &new.conditions;
            self.check_targets("conditions.product_ids", &c.product_ids, |id| {
                crate::catalog::CatalogReader::new(self.tx.db()).product(*id).map(drop)
            })?;
            if !c.category_ids.is_empty() {
                // A category cannot be deleted while a promotion is
                // created for it (deletion holds the table exclusively).
                self.tx.db().lock_for_update(
                    sql!(postgres_only: "LOCK TABLE categories IN SHARE MODE"),
                    &[],
                )?;
            }
            self.check_targets("conditions.category_ids", &c.category_ids, |id| {
                crate::catalog::CatalogReader::new(self.tx.db()).category(*id).map(drop)
            })?;
            self.check_targets("conditions.customer_group_ids", &c.customer_group_ids, |id| {
                crate::pricing::PricingReader::new(self.tx.db()).customer_group(*id).map(drop)
            })?;
            let exists: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM promotions WHERE key = ?1)"),
                &[&key],
                |r| r.get(0),
            )?;
            if exists {
                return Err(taken("promotion", "key"));
            }
            if !new.requires_coupon {
                self.require_automatic_room()?;
            }
            let id = PromotionId::new();
            let now = self.tx.now();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO promotions (id, key, name, effect, percent_e2, amount_e4, \
                         buy_quantity, get_quantity, currency, min_subtotal_e4, first_order_only, \
                         requires_coupon, exclusive, priority, starts_at, ends_at, active, \
                         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
                         ?11, ?12, ?13, ?14, ?15, ?16, 1, ?17, ?17)"
                    ),
                    &[
                        &id,
                        &key,
                        &name,
                        &new.effect.kind(),
                        &percent,
                        &amount_e4,
                        &buy,
                        &get,
                        &new.currency.map(Currency::code),
                        &min_subtotal_e4,
                        &c.first_order_only,
                        &new.requires_coupon,
                        &(new.stacking == Stacking::Exclusive),
                        &new.priority,
                        &starts_at,
                        &ends_at,
                        &now,
                    ],
                )
                .map_err(map_unique)?;
            let targets = c
                .product_ids
                .iter()
                .map(|i| ("product", *i.as_uuid()))
                .chain(c.category_ids.iter().map(|i| ("category", *i.as_uuid())))
                .chain(
                    c.customer_group_ids
                        .iter()
                        .map(|i| ("customer_group", *i.as_uuid())),
                );
            for (kind, target) in targets {
                self.tx.db().execute(
                    sql!(
                        "INSERT INTO promotion_conditions (promotion_id, kind, target_id) \
                         VALUES (?1, ?2, ?3)"
                    ),
                    &[&id, &kind, &target],
                )?;
            }
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "promotion",
                entity_id: &id.to_string(),
                changed_fields: &[
                    "key",
                    "name",
                    "effect",
                    "currency",
                    "conditions",
                    "requires_coupon",
                    "stacking",
                    "priority",
                    "starts_at",
                    "ends_at",
                ],
            })?;
            self.promotion(id)
        })
    }

    /// Refuses one more automatic promotion beyond
    /// [`MAX_AUTOMATIC_PROMOTIONS`]: every catalog order considers each of
    /// them. Counted one writer at a time (a table lock on PostgreSQL).
    fn require_automatic_room(&self) -> Result<()> {
        self.tx.db().lock_for_update(
            sql!(postgres_only: "LOCK TABLE promotions IN SHARE ROW EXCLUSIVE MODE"),
            &[],
        )?;
        let live: i64 = self.tx.db().query_row(
            sql!(
                "SELECT count(*) FROM promotions WHERE requires_coupon = 0 AND active = 1 \
                 AND (ends_at IS NULL OR ends_at > ?1)"
            ),
            &[&self.tx.now()],
            |r| r.get(0),
        )?;
        if live >= MAX_AUTOMATIC_PROMOTIONS as i64 {
            return Err(Error::invalid(
                "requires_coupon",
                format!(
                    "{MAX_AUTOMATIC_PROMOTIONS} automatic promotions are active already; end \
                     or switch off one, or make this one need a coupon"
                ),
            ));
        }
        Ok(())
    }

    fn check_targets<T: Ord + Copy + std::fmt::Display>(
        &self,
        field: &str,
        ids: &[T],
        exists: impl Fn(&T) -> Result<()>,
    ) -> Result<()> {
        if ids.len() > MAX_PROMOTION_TARGETS {
            return Err(Error::invalid(
                field,
                format!(
                    "names {} records, at most {MAX_PROMOTION_TARGETS}",
                    ids.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            if !seen.insert(*id) {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    format!("{id} is named twice"),
                ));
            }
            if let Err(e) = exists(id) {
                return Err(match e.kind() {
                    ErrorKind::NotFound { .. } => {
                        Error::invalid(format!("{field}[{i}]"), format!("nothing has id {id}"))
                    }
                    _ => e,
                });
            }
        }
        Ok(())
    }

    /// Switches a promotion on or off. Orders placed before keep their
    /// discounts.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown promotion;
    /// [`ErrorKind::Invalid`] naming `requires_coupon` when switching on
    /// one more automatic promotion than [`MAX_AUTOMATIC_PROMOTIONS`].
    pub fn set_promotion_active(&self, id: PromotionId, active: bool) -> Result<Promotion> {
        self.tx.atomic(|| {
            let p = self.promotion(id)?;
            if p.active == active {
                return Ok(p);
            }
            if active && !p.requires_coupon {
                self.require_automatic_room()?;
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE promotions SET active = ?2, updated_at = ?3, version = version + 1 \
                     WHERE id = ?1"
                ),
                &[&id, &active, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "promotion",
                entity_id: &id.to_string(),
                changed_fields: &["active"],
            })?;
            self.promotion(id)
        })
    }

    /// Creates a coupon for a promotion.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `code` (length, characters),
    /// `promotion_id` (unknown, or a promotion that needs no coupon),
    /// `usage_limit` or `per_customer_limit` (1 to [`MAX_COUPON_USES`]),
    /// `ends_at`; [`ErrorKind::AlreadyExists`] for a code in use.
    pub fn create_coupon(&self, new: NewCoupon) -> Result<Coupon> {
        self.tx.atomic(|| {
            let code = coupon_code("code", &new.code)?;
            let promotion = self
                .promotion(new.promotion_id)
                .map_err(|e| match e.kind() {
                    ErrorKind::NotFound { .. } => Error::invalid(
                        "promotion_id",
                        format!("no promotion has id {}", new.promotion_id),
                    ),
                    _ => e,
                })?;
            if !promotion.requires_coupon {
                return Err(Error::invalid(
                    "promotion_id",
                    format!(
                        "promotion {:?} applies without a coupon; create it with \
                         requires_coupon for its coupons to mean something",
                        promotion.key
                    ),
                ));
            }
            let usage_limit = limit("usage_limit", new.usage_limit)?;
            let per_customer_limit = limit("per_customer_limit", new.per_customer_limit)?;
            let (starts_at, ends_at) = period(new.starts_at, new.ends_at)?;
            let exists: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM coupons WHERE code = ?1)"),
                &[&code],
                |r| r.get(0),
            )?;
            if exists {
                return Err(taken("coupon", "code"));
            }
            let id = CouponId::new();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO coupons (id, code, promotion_id, usage_limit, \
                         per_customer_limit, starts_at, ends_at, active, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)"
                    ),
                    &[
                        &id,
                        &code,
                        &new.promotion_id,
                        &usage_limit,
                        &per_customer_limit,
                        &starts_at,
                        &ends_at,
                        &self.tx.now(),
                    ],
                )
                .map_err(map_unique)?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "coupon",
                entity_id: &id.to_string(),
                changed_fields: &[
                    "code",
                    "promotion_id",
                    "usage_limit",
                    "per_customer_limit",
                    "starts_at",
                    "ends_at",
                ],
            })?;
            self.coupon_by_id(id)
        })
    }

    /// Switches a coupon on or off.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown code.
    pub fn set_coupon_active(&self, code: &str, active: bool) -> Result<Coupon> {
        self.tx.atomic(|| {
            let c = self.coupon(code)?;
            if c.active == active {
                return Ok(c);
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE coupons SET active = ?2, updated_at = ?3, version = version + 1 \
                     WHERE id = ?1"
                ),
                &[&c.id, &active, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "coupon",
                entity_id: &c.id.to_string(),
                changed_fields: &["active"],
            })?;
            self.coupon_by_id(c.id)
        })
    }
}

/// A key or code taken by another writer between the check and the insert
/// (another server, on PostgreSQL): the check's own error.
fn map_unique(err: Error) -> Error {
    match err.violated_unique() {
        Some(what) if what.contains("promotions") => taken("promotion", "key"),
        Some(what) if what.contains("coupons") => taken("coupon", "code"),
        _ => err,
    }
}

// ---------------------------------------------------------------------
// Applying promotions to an order (the rules of docs/PRICING.md).

/// A line of an order being priced, as promotions see it.
#[derive(Debug, Clone)]
pub(crate) struct CartLine {
    pub(crate) product_id: ProductId,
    pub(crate) quantity: i64,
    pub(crate) unit_price_e4: i64,
    /// round(quantity × unit price): the line's amount before discounts,
    /// with tax when its price includes tax.
    pub(crate) amount_e4: i64,
}

/// Who is buying, for the conditions.
#[derive(Debug)]
pub(crate) struct Buyer<'b> {
    pub(crate) customer_id: Option<CustomerId>,
    pub(crate) groups: &'b BTreeSet<CustomerGroupId>,
}

/// One promotion applied: what it took off each line and the shipping.
#[derive(Debug, Clone)]
pub(crate) struct AppliedPromotion {
    pub(crate) promotion: Promotion,
    pub(crate) coupon: Option<Coupon>,
    pub(crate) line_discounts_e4: Vec<i64>,
    pub(crate) shipping_discount_e4: i64,
}

impl AppliedPromotion {
    fn total_e4(&self) -> i64 {
        self.line_discounts_e4.iter().sum::<i64>() + self.shipping_discount_e4
    }
}

/// The promotions applied to an order.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) promotions: Vec<AppliedPromotion>,
}

impl Applied {
    /// What every promotion took off line `i`.
    pub(crate) fn line_discount_e4(&self, i: usize) -> i64 {
        self.promotions.iter().map(|a| a.line_discounts_e4[i]).sum()
    }

    /// What they took off the shipping.
    pub(crate) fn shipping_discount_e4(&self) -> i64 {
        self.promotions.iter().map(|a| a.shipping_discount_e4).sum()
    }

    /// The discounts of line `i`, for its price source.
    pub(crate) fn line_discounts(&self, i: usize, currency: Currency) -> Vec<LineDiscount> {
        self.promotions
            .iter()
            .filter(|a| a.line_discounts_e4[i] > 0)
            .map(|a| LineDiscount {
                promotion_key: a.promotion.key.clone(),
                coupon_code: a.coupon.as_ref().map(|c| c.code.clone()),
                amount: currency.present(money::from_e4(a.line_discounts_e4[i]).normalize()),
            })
            .collect()
    }
}

/// A promotion that applies to an order: the lines it is for.
struct Fit {
    eligible: Vec<usize>,
}

struct Context<'c> {
    db: Conn<'c>,
    currency: Currency,
    buyer: Buyer<'c>,
    lines: &'c [CartLine],
    goods_e4: i64,
    /// Each line's product's categories with their ancestors, read when a
    /// promotion first names a category.
    categories: std::cell::OnceCell<Vec<BTreeSet<CategoryId>>>,
    first_order: std::cell::OnceCell<bool>,
}

const PRODUCT_CATEGORIES_UP: &str = "WITH RECURSIVE up(id, parent_id) AS (\
    SELECT c.id, c.parent_id FROM categories c \
    JOIN product_categories pc ON pc.category_id = c.id WHERE pc.product_id = ?1 \
    UNION SELECT c.id, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id) \
    SELECT id FROM up";

impl Context<'_> {
    fn categories(&self) -> Result<&Vec<BTreeSet<CategoryId>>> {
        if let Some(c) = self.categories.get() {
            return Ok(c);
        }
        let mut all = Vec::with_capacity(self.lines.len());
        for l in self.lines {
            let ids: Vec<CategoryId> =
                self.db
                    .query_vec(sql!(PRODUCT_CATEGORIES_UP), &[&l.product_id], |r| r.get(0))?;
            all.push(ids.into_iter().collect());
        }
        Ok(self.categories.get_or_init(|| all))
    }

    fn first_order(&self) -> Result<bool> {
        if let Some(f) = self.first_order.get() {
            return Ok(*f);
        }
        let first = match self.buyer.customer_id {
            None => false,
            Some(customer) => {
                // Two first orders of one customer placed at once on
                // PostgreSQL: the second waits here for the first, then
                // sees its order (read committed) and is not a first.
                self.db.lock_for_update(
                    sql!(postgres_only: "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE"),
                    &[&customer],
                )?;
                !self.db.query_row(
                    sql!(
                        "SELECT EXISTS (SELECT 1 FROM orders WHERE customer_id = ?1 \
                     AND status <> 'cancelled')"
                    ),
                    &[&customer],
                    |r| r.get::<bool>(0),
                )?
            }
        };
        Ok(*self.first_order.get_or_init(|| first))
    }

    /// `Ok(Err(reason))` when the promotion does not apply.
    fn fit(&self, p: &Promotion) -> Result<std::result::Result<Fit, String>> {
        if let Some(c) = p.currency {
            if c != self.currency {
                return Ok(Err(format!("it is for orders in {c}")));
            }
        }
        let c = &p.conditions;
        if let Some(min) = c.min_subtotal {
            if money::from_e4(self.goods_e4) < min {
                return Ok(Err(format!(
                    "the order's goods come to {}, less than its minimum {} {}",
                    self.currency.present(money::from_e4(self.goods_e4)),
                    self.currency.present(min),
                    self.currency
                )));
            }
        }
        if !c.customer_group_ids.is_empty()
            && !c
                .customer_group_ids
                .iter()
                .any(|g| self.buyer.groups.contains(g))
        {
            return Ok(Err(
                "it is for customer groups the customer is not in".to_owned()
            ));
        }
        if c.first_order_only && !self.first_order()? {
            return Ok(Err(match self.buyer.customer_id {
                None => "it is for a customer's first order, and a guest has no account".to_owned(),
                Some(_) => "it is for a customer's first order".to_owned(),
            }));
        }
        let eligible: Vec<usize> = if c.product_ids.is_empty() && c.category_ids.is_empty() {
            (0..self.lines.len()).collect()
        } else {
            let categories = if c.category_ids.is_empty() {
                None
            } else {
                Some(self.categories()?)
            };
            (0..self.lines.len())
                .filter(|&i| {
                    c.product_ids.contains(&self.lines[i].product_id)
                        || categories.is_some_and(|cats| {
                            c.category_ids.iter().any(|id| cats[i].contains(id))
                        })
                })
                .collect()
        };
        if eligible.is_empty() {
            return Ok(Err(
                "none of the order's lines is for a product it applies to".to_owned(),
            ));
        }
        Ok(Ok(Fit { eligible }))
    }
}

/// The smallest amount of the currency, in ten-thousandths.
fn step_e4(currency: Currency) -> i64 {
    10i64.pow(4u32.saturating_sub(currency.minor_digits()))
}

/// `amount × percent ÷ 100`, rounded to the currency (half away from zero).
fn percent_e4(currency: Currency, amount_e4: i64, percent: Decimal) -> i64 {
    let exact = money::from_e4(amount_e4) * percent / Decimal::ONE_HUNDRED;
    money::to_e4("discount", currency.round(exact)).unwrap_or(0)
}

/// Shares `total_e4` among `eligible` lines in proportion to `remaining`,
/// in whole minor units, the leftover units to the largest remainders
/// (then the first line): the shares always add up to the total.
fn allocate(currency: Currency, total_e4: i64, eligible: &[usize], remaining: &[i64]) -> Vec<i64> {
    let step = i128::from(step_e4(currency));
    let mut out = vec![0i64; remaining.len()];
    let base: i128 = eligible
        .iter()
        .map(|&i| i128::from(remaining[i]) / step)
        .sum();
    let total = i128::from(total_e4) / step;
    if base == 0 || total == 0 {
        return out;
    }
    debug_assert!(total <= base, "never more than the lines cost");
    let mut given = 0i128;
    let mut fractions: Vec<(i128, usize)> = Vec::with_capacity(eligible.len());
    for &i in eligible {
        let w = i128::from(remaining[i]) / step;
        let share = total * w / base;
        out[i] = i64::try_from(share * step).unwrap_or(0);
        given += share;
        fractions.push((total * w % base, i));
    }
    fractions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in fractions
        .into_iter()
        .take(usize::try_from(total - given).unwrap_or(0))
    {
        out[i] += i64::try_from(step).unwrap_or(0);
    }
    out
}

/// Runs one promotion's effect on what is left of the lines and shipping.
fn effect_on(
    currency: Currency,
    p: &Promotion,
    eligible: &[usize],
    lines: &[CartLine],
    remaining: &[i64],
    shipping_left_e4: i64,
) -> (Vec<i64>, i64) {
    let mut out = vec![0i64; lines.len()];
    let base: i64 = eligible.iter().map(|&i| remaining[i]).sum();
    match &p.effect {
        PromotionEffect::PercentOffOrder { percent } => {
            let total = percent_e4(currency, base, *percent).min(base);
            out = allocate(currency, total, eligible, remaining);
        }
        PromotionEffect::AmountOffOrder { amount } => {
            let amount_e4 = money::to_e4("amount", *amount).unwrap_or(0);
            out = allocate(currency, amount_e4.min(base), eligible, remaining);
        }
        PromotionEffect::PercentOffLines { percent } => {
            for &i in eligible {
                out[i] = percent_e4(currency, remaining[i], *percent).min(remaining[i]);
            }
        }
        PromotionEffect::BuyXGetY {
            buy_quantity,
            get_quantity,
            percent,
        } => {
            let units: i64 = eligible.iter().map(|&i| lines[i].quantity).sum();
            let mut free = units / (buy_quantity + get_quantity) * get_quantity;
            let mut cheapest: Vec<usize> = eligible.to_vec();
            cheapest.sort_by_key(|&i| (lines[i].unit_price_e4, i));
            for i in cheapest {
                if free == 0 {
                    break;
                }
                let take = free.min(lines[i].quantity);
                free -= take;
                let value = i128::from(take) * i128::from(lines[i].unit_price_e4);
                let value_e4 = i64::try_from(value).unwrap_or(i64::MAX);
                out[i] = percent_e4(currency, value_e4, *percent).min(remaining[i]);
            }
        }
        PromotionEffect::FreeShipping => return (out, shipping_left_e4),
    }
    (out, 0)
}

/// Runs promotions in order, each on what the ones before left.
fn run(
    currency: Currency,
    set: &[(&Promotion, Option<&Coupon>, &Fit)],
    lines: &[CartLine],
    shipping_e4: i64,
) -> Vec<AppliedPromotion> {
    let mut remaining: Vec<i64> = lines.iter().map(|l| l.amount_e4).collect();
    let mut shipping_left = shipping_e4;
    let mut out = Vec::with_capacity(set.len());
    for (p, coupon, fit) in set {
        let (discounts, shipping) =
            effect_on(currency, p, &fit.eligible, lines, &remaining, shipping_left);
        for (r, d) in remaining.iter_mut().zip(&discounts) {
            *r -= d;
        }
        shipping_left -= shipping;
        out.push(AppliedPromotion {
            promotion: (*p).clone(),
            coupon: coupon.cloned(),
            line_discounts_e4: discounts,
            shipping_discount_e4: shipping,
        });
    }
    out
}

/// The promotions an order priced by the catalog gets, by the rule of
/// docs/PRICING.md: every automatic promotion whose conditions hold and
/// the coupon's; the stackable ones together (by priority, then key; at
/// most [`MAX_PROMOTIONS_PER_ORDER`]), or the one exclusive promotion
/// that takes off more, whichever takes off more (the stackable ones on
/// a tie). A coupon named is always applied, or the order refused.
pub(crate) fn apply(
    tx: &WriteTx<'_>,
    currency: Currency,
    buyer: Buyer<'_>,
    lines: &[CartLine],
    shipping_e4: i64,
    coupon: Option<&str>,
) -> Result<Applied> {
    let now = tx.now();
    let db = tx.db();
    let mut automatic = db.query_vec(sql!(sql::AUTOMATIC), &[&now], promotion_row)?;
    let coupon = match coupon {
        None => None,
        Some(code) => Some(usable_coupon(tx, code, currency, &buyer)?),
    };
    if automatic.is_empty() && coupon.is_none() {
        return Ok(Applied::default());
    }
    let cx = Context {
        db,
        currency,
        buyer,
        lines,
        goods_e4: lines.iter().map(|l| l.amount_e4).sum(),
        categories: std::cell::OnceCell::new(),
        first_order: std::cell::OnceCell::new(),
    };
    let mut candidates: Vec<(Promotion, Option<Coupon>, Fit)> = Vec::new();
    if let Some((coupon, promotion)) = coupon {
        match cx.fit(&promotion)? {
            Ok(fit) => candidates.push((promotion, Some(coupon), fit)),
            Err(reason) => {
                return Err(Error::invalid(
                    "coupon",
                    format!("{} does not apply to this order: {reason}", coupon.code),
                ))
            }
        }
    }
    if !automatic.is_empty() {
        // Every automatic promotion's conditions in one read, not one each.
        db.query_each(sql!(sql::AUTOMATIC_CONDITIONS), &[&now], |r| {
            let id: PromotionId = r.get(0)?;
            if let Some(p) = automatic.iter_mut().find(|p| p.id == id) {
                add_condition(&mut p.conditions, &r.get::<String>(1)?, r, 2)?;
            }
            Ok(())
        })?;
    }
    for p in automatic {
        if let Ok(fit) = cx.fit(&p)? {
            candidates.push((p, None, fit));
        }
    }
    let with_coupon = candidates.first().is_some_and(|c| c.1.is_some());
    let by_priority = |a: &&(Promotion, Option<Coupon>, Fit),
                       b: &&(Promotion, Option<Coupon>, Fit)| {
        b.0.priority.cmp(&a.0.priority).then(a.0.key.cmp(&b.0.key))
    };
    // The options: the stackable set, and each exclusive promotion alone.
    let mut options: Vec<Vec<&(Promotion, Option<Coupon>, Fit)>> = Vec::new();
    let coupon_exclusive = with_coupon && candidates[0].0.stacking == Stacking::Exclusive;
    if coupon_exclusive {
        options.push(vec![&candidates[0]]);
    } else {
        let mut stackable: Vec<&(Promotion, Option<Coupon>, Fit)> = candidates
            .iter()
            .filter(|c| c.0.stacking == Stacking::Stackable)
            .collect();
        stackable.sort_by(by_priority);
        if stackable.len() > MAX_PROMOTIONS_PER_ORDER {
            // The coupon stays; the last by priority go.
            let mut kept: Vec<_> = stackable
                .iter()
                .copied()
                .filter(|c| c.1.is_some())
                .collect();
            for c in &stackable {
                if kept.len() == MAX_PROMOTIONS_PER_ORDER {
                    break;
                }
                if c.1.is_none() {
                    kept.push(c);
                }
            }
            kept.sort_by(by_priority);
            stackable = kept;
        }
        options.push(stackable);
        if !with_coupon {
            let mut exclusive: Vec<_> = candidates
                .iter()
                .filter(|c| c.0.stacking == Stacking::Exclusive)
                .collect();
            exclusive.sort_by(by_priority);
            options.extend(exclusive.into_iter().map(|c| vec![c]));
        }
    }
    let mut best: Option<(i64, Vec<AppliedPromotion>)> = None;
    for option in &options {
        let set: Vec<(&Promotion, Option<&Coupon>, &Fit)> =
            option.iter().map(|c| (&c.0, c.1.as_ref(), &c.2)).collect();
        let applied = run(currency, &set, lines, shipping_e4);
        let total: i64 = applied.iter().map(AppliedPromotion::total_e4).sum();
        if best.as_ref().is_none_or(|(t, _)| total > *t) {
            best = Some((total, applied));
        }
    }
    let mut promotions = best.map(|(_, a)| a).unwrap_or_default();
    if let Some(c) = promotions.iter().find(|a| a.coupon.is_some()) {
        if c.total_e4() == 0 {
            let code = c
                .coupon
                .as_ref()
                .map(|c| c.code.clone())
                .unwrap_or_default();
            return Err(Error::invalid(
                "coupon",
                format!("{code} takes nothing off this order"),
            ));
        }
    }
    promotions.retain(|a| a.total_e4() > 0);
    Ok(Applied { promotions })
}

/// The coupon of `code` and its promotion, when an order of `currency`
/// by `buyer` may use it now; else why not, naming `coupon`.
fn usable_coupon(
    tx: &WriteTx<'_>,
    code: &str,
    currency: Currency,
    buyer: &Buyer<'_>,
) -> Result<(Coupon, Promotion)> {
    let now = tx.now();
    let code = coupon_code("coupon", code)?;
    let reader = PromotionReader::new(tx.db());
    let coupon = match reader.coupon(&code) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound { .. }) => {
            return Err(Error::invalid(
                "coupon",
                format!("no coupon has code {code}"),
            ))
        }
        Err(e) => return Err(e),
    };
    let promotion = reader.promotion(coupon.promotion_id)?;
    let refuse = |reason: String| Err(Error::invalid("coupon", format!("{code} {reason}")));
    if !coupon.active || !promotion.active {
        return refuse("is switched off".to_owned());
    }
    for (starts_at, ends_at) in [
        (coupon.starts_at, coupon.ends_at),
        (promotion.starts_at, promotion.ends_at),
    ] {
        if let Some(s) = starts_at.filter(|s| now < *s) {
            return refuse(format!("is valid from {}", s.to_rfc3339()));
        }
        if let Some(e) = ends_at.filter(|e| now >= *e) {
            return refuse(format!("expired at {}", e.to_rfc3339()));
        }
    }
    if let Some(c) = promotion.currency.filter(|c| *c != currency) {
        return refuse(format!("is for orders in {c}"));
    }
    if coupon.per_customer_limit.is_some() && buyer.customer_id.is_none() {
        return refuse("is limited per customer; a guest order cannot use it".to_owned());
    }
    if let Some(limit) = coupon.usage_limit.filter(|l| coupon.uses >= *l) {
        return refuse(format!("has been used up ({limit} of {limit} uses)"));
    }
    if let (Some(limit), Some(customer)) = (coupon.per_customer_limit, buyer.customer_id) {
        let used = customer_uses(tx.db(), coupon.id, customer)?;
        if used >= limit {
            return refuse(format!(
                "has been used {used} times by this customer, its limit per customer"
            ));
        }
    }
    Ok((coupon, promotion))
}

fn customer_uses(db: Conn<'_>, coupon: CouponId, customer: CustomerId) -> Result<i64> {
    db.query_row(
        sql!(
            "SELECT count(*) FROM promotion_redemptions r JOIN orders o ON o.id = r.order_id \
             WHERE r.coupon_id = ?1 AND r.released_at IS NULL AND o.customer_id = ?2"
        ),
        &[&coupon, &customer],
        |r| r.get(0),
    )
}

/// Records the promotions of a placed order and takes its coupon's use,
/// after the order's stock rows are locked (every writer takes stock rows
/// before coupon rows: no deadlock with a cancellation). The coupon's row
/// is locked on PostgreSQL and its limits read again, so two orders never
/// both take a code's last use.
pub(crate) fn record(
    tx: &WriteTx<'_>,
    order_id: OrderId,
    currency: Currency,
    customer_id: Option<CustomerId>,
    applied: &Applied,
) -> Result<()> {
    let db = tx.db();
    let now = tx.now();
    for a in &applied.promotions {
        if let Some(coupon) = &a.coupon {
            db.lock_for_update(
                sql!(postgres_only: "SELECT id FROM coupons WHERE id = ?1 FOR UPDATE"),
                &[&coupon.id],
            )?;
            // Read again under the coupon's lock: switched off or ended
            // since the order was priced.
            let (promotion_active, starts_at, ends_at): (
                bool,
                Option<DateTime<Utc>>,
                Option<DateTime<Utc>>,
            ) = db.query_row(
                sql!("SELECT active, starts_at, ends_at FROM promotions WHERE id = ?1"),
                &[&a.promotion.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            if !promotion_active
                || starts_at.is_some_and(|s| now < s)
                || ends_at.is_some_and(|e| now >= e)
            {
                return Err(Error::invalid(
                    "coupon",
                    format!("{} is no longer valid: its promotion ended", coupon.code),
                ));
            }
            if let (Some(limit), Some(customer)) = (coupon.per_customer_limit, customer_id) {
                let used = customer_uses(db, coupon.id, customer)?;
                if used >= limit {
                    return Err(Error::invalid(
                        "coupon",
                        format!(
                            "{} has been used {used} times by this customer, its limit per \
                             customer",
                            coupon.code
                        ),
                    ));
                }
            }
            let taken = db.execute(
                sql!(
                    "UPDATE coupons SET uses = uses + 1, updated_at = ?2, version = version + 1 \
                     WHERE id = ?1 AND active = 1 AND (usage_limit IS NULL OR uses < usage_limit)"
                ),
                &[&coupon.id, &now],
            )?;
            if taken != 1 {
                return Err(Error::invalid(
                    "coupon",
                    format!("{} has been used up by another order", coupon.code),
                ));
            }
        }
        db.execute(
            sql!(sql::INSERT_REDEMPTION),
            &[
                &RedemptionId::new(),
                &a.promotion.id,
                &a.coupon.as_ref().map(|c| c.id),
                &order_id,
                &currency.code(),
                &a.line_discounts_e4.iter().sum::<i64>(),
                &a.shipping_discount_e4,
                &now,
            ],
        )?;
    }
    Ok(())
}

/// Gives back the coupon uses of a cancelled order (its redemptions stay,
/// marked released).
pub(crate) fn release(tx: &WriteTx<'_>, order_id: OrderId) -> Result<()> {
    let db = tx.db();
    let coupons: Vec<CouponId> = db.query_vec(
        sql!(
            "SELECT coupon_id FROM promotion_redemptions WHERE order_id = ?1 \
             AND released_at IS NULL AND coupon_id IS NOT NULL ORDER BY coupon_id"
        ),
        &[&order_id],
        |r| r.get(0),
    )?;
    db.execute(
        sql!(
            "UPDATE promotion_redemptions SET released_at = ?2 \
             WHERE order_id = ?1 AND released_at IS NULL"
        ),
        &[&order_id, &tx.now()],
    )?;
    for c in coupons {
        db.execute(
            sql!(
                "UPDATE coupons SET uses = uses - 1, updated_at = ?2, version = version + 1 \
                 WHERE id = ?1"
            ),
            &[&c, &tx.now()],
        )?;
    }
    Ok(())
}

/// Promotion invariants for `check()`: a coupon's uses are its orders
/// that were not cancelled; an order's promotions took off exactly its
/// lines' discounts; a redemption's coupon unlocks its promotion; every
/// condition names a record that exists.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT c.code, c.uses, (SELECT count(*) FROM promotion_redemptions r \
             WHERE r.coupon_id = c.id AND r.released_at IS NULL) FROM coupons c ORDER BY c.code"
        ),
        &[],
        |r| {
            let (code, uses, counted): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            if uses != counted {
                report.push(format!(
                    "coupon {code}: uses is {uses}, its orders not cancelled are {counted}"
                ));
            }
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT o.number, o.discount_e4, CAST(coalesce((SELECT sum(r.discount_e4) \
             FROM promotion_redemptions r WHERE r.order_id = o.id), 0) AS bigint) FROM orders o \
             WHERE EXISTS (SELECT 1 FROM promotion_redemptions r WHERE r.order_id = o.id) \
             OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id \
             AND l.price_source IS NOT NULL) ORDER BY o.number"
        ),
        &[],
        |r| {
            let (number, discount, promoted): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            if discount != promoted {
                report.push(format!(
                    "order {number}: its discount is {}, its promotions took off {}",
                    money::from_e4(discount),
                    money::from_e4(promoted)
                ));
            }
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT r.id FROM promotion_redemptions r JOIN coupons c ON c.id = r.coupon_id \
             WHERE c.promotion_id <> r.promotion_id ORDER BY r.id"
        ),
        &[],
        |r| {
            let id: RedemptionId = r.get(0)?;
            report.push(format!(
                "redemption {id}: its coupon unlocks another promotion"
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT p.key, pc.kind, pc.target_id FROM promotion_conditions pc \
             JOIN promotions p ON p.id = pc.promotion_id \
             WHERE (pc.kind = 'product' AND NOT EXISTS (SELECT 1 FROM products x WHERE x.id = pc.target_id)) \
             OR (pc.kind = 'category' AND NOT EXISTS (SELECT 1 FROM categories x WHERE x.id = pc.target_id)) \
             OR (pc.kind = 'customer_group' AND NOT EXISTS \
             (SELECT 1 FROM customer_groups x WHERE x.id = pc.target_id)) ORDER BY p.key"
        ),
        &[],
        |r| {
            let (key, kind): (String, String) = (r.get(0)?, r.get(1)?);
            let target: uuid::Uuid = r.get(2)?;
            report.push(format!(
                "promotion {key:?}: its condition names {kind} {target}, which does not exist"
            ));
            Ok(())
        },
    )?;
    Ok(())
}

crate::one_shot::one_shot! {
    /// Promotions and coupons for single operations, each its own unit of
    /// work: `store.promotions().create_coupon(new)`.
    StorePromotions => write promotions: Promotions, read promotions: PromotionReader;
    write {
        fn create_promotion(new: NewPromotion) -> Promotion;
        fn set_promotion_active(id: PromotionId, active: bool) -> Promotion;
        fn create_coupon(new: NewCoupon) -> Coupon;
        fn set_coupon_active(code: &str, active: bool) -> Coupon;
    }
    read {
        fn promotion(id: PromotionId) -> Promotion;
        fn promotion_by_key(key: &str) -> Promotion;
        fn promotions() -> Vec<Promotion>;
        fn coupon(code: &str) -> Coupon;
        fn coupons_of(promotion_id: PromotionId) -> Vec<Coupon>;
        fn redemptions_of_order(order_id: OrderId) -> Vec<Redemption>;
        fn redemptions_of_promotion(promotion_id: PromotionId) -> Vec<Redemption>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Promotions and coupons for one-shot calls.
    pub fn promotions(&self) -> StorePromotions<'_> {
        StorePromotions::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Promotions and coupons inside this transaction.
    pub fn promotions(&self) -> Promotions<'_> {
        Promotions::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Promotions and coupons, read-only.
    pub fn promotions(&self) -> PromotionReader<'a> {
        PromotionReader::new(self.db())
    }
}
