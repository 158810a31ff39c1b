//! Loyalty points (docs/BALANCES.md): a rule per currency says how many
//! points a paid order earns per unit of money and what a point is worth
//! when spent. A customer earns when an order of theirs becomes paid,
//! loses the earned share of what is refunded, spends points as a payment
//! ([`Orders::pay_with_points`](crate::Orders::pay_with_points)) and gets
//! them back when that payment is refunded. Every grant of points is a lot
//! with its own expiry; spending takes the soonest-expiring points first,
//! and points past their date expire (on the customer's next movement, or
//! by [`Loyalty::expire_loyalty_points`]). An append-only ledger whose
//! running balance never goes below zero.
//!
//! ```
//! use custdb::{Currency, Decimal, NewCustomer, NewLoyaltyRule, NewOrder, NewOrderLine};
//! use custdb::{NewPayment, NewProduct, NewVariant, PaymentMethod, Store};
//!
//! let store = Store::open_in_memory()?;
//! let tea = NewVariant::new("TEA", Decimal::new(2000, 2), Currency::GBP).track_stock(false);
//! store.catalog().create_product(NewProduct::new("Tea").variant(tea))?;
//! // 1 point per pound paid; a point is worth 0.01 GBP; points last a year.
//! store.loyalty().set_loyalty_rule(
//!     NewLoyaltyRule::new(Currency::GBP, Decimal::ONE, Decimal::new(1, 2)).expires_after_days(365),
//! )?;
//! let ann = store.customers().create(NewCustomer::new("Ann"))?;
//! let order = store.orders().place(
//!     NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 5)),
//! )?;
//! store.orders().pay(order.id, NewPayment::new(PaymentMethod::Card, order.total.amount))?;
//! assert_eq!(store.loyalty().loyalty_account(ann.id)?.points, 100);
//! // 100 points pay 1.00 GBP of the next order.
//! let next = store.orders().place(
//!     NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 1)),
//! )?;
//! let paid = store.orders().pay_with_points(next.id, 100)?;
//! assert_eq!(paid.amount.to_string(), "1.00 GBP");
//! # Ok::<(), custdb::Error>(())
//! ```

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use crate::audit::Change;
use crate::db::{sql, Conn, Row};
use crate::error::{Error, Result};
use crate::id::{CustomerId, OrderId, PaymentId, RefundId};
use crate::money::{self, Currency, Money};
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// Most points one customer may hold.
pub const MAX_LOYALTY_POINTS: i64 = 1_000_000_000;
/// Most points a rule may give per unit of money (per 1.00 GBP, ...).
pub const MAX_POINTS_PER_UNIT: i64 = 1_000;
/// Highest value of one point, in the rule's currency.
pub const MAX_POINT_VALUE: i64 = 1_000;
/// Longest life of a point, in days (about ten years).
pub const MAX_POINTS_EXPIRY_DAYS: u32 = 3_660;
/// Longest adjustment reason, in characters.
pub const MAX_LOYALTY_REASON_LEN: usize = 200;
/// Most customers one [`Loyalty::expire_loyalty_points`] call visits.
pub const MAX_EXPIRY_BATCH: usize = 1_000;

/// A loyalty rule to set for a currency (replacing the one there).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewLoyaltyRule {
    /// The currency of the orders it applies to (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// Points earned per 1 unit of money paid (0 to
    /// [`MAX_POINTS_PER_UNIT`], at most 4 decimals; 0 earns nothing but
    /// lets points be spent). JSON: a decimal string.
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub points_per_unit: Decimal,
    /// What one point pays, in the currency (above 0, at most
    /// [`MAX_POINT_VALUE`], at most 4 decimals). JSON: a decimal string.
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub point_value: Decimal,
    /// Points earned under it expire this many days later (1 to
    /// [`MAX_POINTS_EXPIRY_DAYS`]); `None`: never.
    #[serde(default)]
    pub expires_after_days: Option<u32>,
}
crate::input::strict_serde!(NewLoyaltyRule);

impl NewLoyaltyRule {
    /// A rule for `currency`: `points_per_unit` points per unit of money
    /// paid, each worth `point_value`, never expiring.
    pub fn new(currency: Currency, points_per_unit: Decimal, point_value: Decimal) -> Self {
        NewLoyaltyRule {
            currency,
            points_per_unit,
            point_value,
            expires_after_days: None,
        }
    }

    /// Points earned under it expire `days` later.
    pub fn expires_after_days(mut self, days: u32) -> Self {
        self.expires_after_days = Some(days);
        self
    }
}

/// The loyalty rule of a currency.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LoyaltyRule {
    /// Its currency.
    pub currency: Currency,
    /// Points earned per 1 unit of money paid.
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub points_per_unit: Decimal,
    /// What one point pays.
    pub point_value: Money,
    /// Points earned under it expire this many days later.
    pub expires_after_days: Option<u32>,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// Points that will expire together.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PointsExpiry {
    /// How many.
    pub points: i64,
    /// When.
    pub expires_at: DateTime<Utc>,
}

/// A customer's loyalty points.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LoyaltyAccount {
    /// The customer.
    pub customer_id: CustomerId,
    /// The points the customer can spend now (points past their date are
    /// not counted, even before their `expire` entry is written).
    pub points: i64,
    /// The next points to expire, if any do.
    pub next_expiry: Option<PointsExpiry>,
    /// When the points last moved; `None` when they never have.
    pub updated_at: Option<DateTime<Utc>>,
    /// Raised by every movement (0 when there was none).
    pub version: i64,
}

crate::text_enum::text_enum!(
    /// What moved a customer's points.
    LoyaltyEntryKind {
        /// Earned by a paid order.
        Earn = "earn",
        /// Taken back when (part of) an order that earned was refunded.
        Reverse = "reverse",
        /// Paid (part of) an order.
        Spend = "spend",
        /// Came back when a payment with points was refunded.
        Refund = "refund",
        /// An operator's correction or gift, with a reason.
        Adjust = "adjust",
        /// Past their date.
        Expire = "expire",
        /// Moved by a customer merge.
        Transfer = "transfer",
    }
);

/// One line of a customer's points ledger.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LoyaltyEntry {
    /// The customer.
    pub customer_id: CustomerId,
    /// Its position in the customer's ledger, from 1.
    pub seq: i64,
    /// What it was.
    pub kind: LoyaltyEntryKind,
    /// The change of points (negative when spent, reversed or expired).
    pub points: i64,
    /// The points after it.
    pub balance: i64,
    /// The order that earned, lost or was paid with them.
    pub order_id: Option<OrderId>,
    /// The payment made with them (spend) or refunded (refund).
    pub payment_id: Option<PaymentId>,
    /// The refund (reverse, refund).
    pub refund_id: Option<RefundId>,
    /// The other customer of a merge (transfer).
    pub other_customer_id: Option<CustomerId>,
    /// What the points were earned on (earn).
    pub base: Option<Money>,
    /// When the points it granted expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why (adjust, transfer).
    pub reason: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What one [`Loyalty::expire_loyalty_points`] call did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct PointsExpired {
    /// Customers whose points expired.
    pub customers: usize,
    /// Points expired in all.
    pub points: i64,
    /// Whether more customers have points past their date (call again).
    pub more: bool,
}

macro_rules! select_rule {
    () => {
        "SELECT currency, points_per_unit_e4, point_value_e4, expires_after_days, created_at, \
         updated_at, version FROM loyalty_rules "
    };
}

crate::bench_sql::sql_module! {
    /// Loyalty statements, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// The loyalty rule of a currency (every order that becomes paid
    /// looks it up).
    pub const RULE_OF_CURRENCY: &str = concat!(select_rule!(), "WHERE currency = ?1");
    }
}

fn rule_row(r: &Row<'_>) -> Result<LoyaltyRule> {
    let currency = Currency::from_db(&r.get::<String>(0)?)?;
    let days: Option<i64> = r.get(3)?;
    Ok(LoyaltyRule {
        currency,
        points_per_unit: money::from_e4(r.get(1)?).normalize(),
        point_value: Money::from_e4(r.get(2)?, currency),
        expires_after_days: days.and_then(|d| u32::try_from(d).ok()),
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        version: r.get(6)?,
    })
}

/// Read access to loyalty rules and points.
#[derive(Debug)]
pub struct LoyaltyReader<'a> {
    db: Conn<'a>,
    now: DateTime<Utc>,
}

impl<'a> LoyaltyReader<'a> {
    pub(crate) fn new(db: Conn<'a>, now: DateTime<Utc>) -> Self {
        LoyaltyReader { db, now }
    }

    /// The loyalty rule of a currency, if it has one.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub fn loyalty_rule(&self, currency: Currency) -> Result<Option<LoyaltyRule>> {
        self.db
            .query_opt(sql!(sql::RULE_OF_CURRENCY), &[&currency.code()], rule_row)
    }

    /// Every loyalty rule, by currency code.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub fn loyalty_rules(&self) -> Result<Vec<LoyaltyRule>> {
        self.db.query_vec(
            sql!(concat!(select_rule!(), "ORDER BY currency")),
            &[],
            rule_row,
        )
    }

    /// A customer's points: what can be spent now and what expires next.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn loyalty_account(&self, customer_id: CustomerId) -> Result<LoyaltyAccount> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        // The account row is opened before its first entry (and stays
        // without one when that entry came to nothing): its version less
        // one is the number of entries.
        let account: Option<(i64, DateTime<Utc>, i64)> = self.db.query_opt(
            sql!("SELECT points, updated_at, version FROM loyalty_accounts WHERE customer_id = ?1"),
            &[&customer_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((points, updated_at, opened_version)) = account else {
            return Ok(LoyaltyAccount {
                customer_id,
                points: 0,
                next_expiry: None,
                updated_at: None,
                version: 0,
            });
        };
        // Points past their date are not spendable even before the entry
        // that expires them is written.
        let due: i64 = self.db.query_row(
            sql!(
                "SELECT CAST(coalesce(sum(points_left), 0) AS bigint) FROM loyalty_lots \
                 WHERE customer_id = ?1 AND points_left > 0 AND expires_at <= ?2"
            ),
            &[&customer_id, &self.now],
            |r| r.get(0),
        )?;
        let next_expiry = self.db.query_opt(
            sql!(
                "SELECT expires_at, CAST(sum(points_left) AS bigint) FROM loyalty_lots \
                 WHERE customer_id = ?1 AND points_left > 0 AND expires_at > ?2 \
                 GROUP BY expires_at ORDER BY expires_at LIMIT 1"
            ),
            &[&customer_id, &self.now],
            |r| {
                Ok(PointsExpiry {
                    expires_at: r.get(0)?,
                    points: r.get(1)?,
                })
            },
        )?;
        let version = opened_version - 1;
        Ok(LoyaltyAccount {
            customer_id,
            points: points - due,
            next_expiry,
            updated_at: (version > 0).then_some(updated_at),
            version,
        })
    }

    /// A customer's points ledger, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn loyalty_entries(&self, customer_id: CustomerId) -> Result<Vec<LoyaltyEntry>> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        self.db.query_vec(
            sql!(
                "SELECT customer_id, seq, kind, points, balance, order_id, payment_id, refund_id, \
                 other_customer_id, currency, base_e4, expires_at, reason, created_at \
                 FROM loyalty_entries WHERE customer_id = ?1 ORDER BY seq"
            ),
            &[&customer_id],
            |r| {
                let currency: Option<String> = r.get(9)?;
                let base_e4: Option<i64> = r.get(10)?;
                let base = match (currency, base_e4) {
                    (Some(c), Some(b)) => Some(Money::from_e4(b, Currency::from_db(&c)?)),
                    _ => None,
                };
                Ok(LoyaltyEntry {
                    customer_id: r.get(0)?,
                    seq: r.get(1)?,
                    kind: r.get(2)?,
                    points: r.get(3)?,
                    balance: r.get(4)?,
                    order_id: r.get(5)?,
                    payment_id: r.get(6)?,
                    refund_id: r.get(7)?,
                    other_customer_id: r.get(8)?,
                    base,
                    expires_at: r.get(11)?,
                    reason: r.get(12)?,
                    created_at: r.get(13)?,
                })
            },
        )
    }
}

/// Loyalty inside a unit of work.
#[derive(Debug)]
pub struct Loyalty<'t> {
    tx: &'t WriteTx<'t>,
    reader: LoyaltyReader<'t>,
}

impl<'t> std::ops::Deref for Loyalty<'t> {
    type Target = LoyaltyReader<'t>;
    fn deref(&self) -> &LoyaltyReader<'t> {
        &self.reader
    }
}

/// What an entry points at, for [`credit`] and [`debit`].
#[derive(Default)]
pub(crate) struct Links<'p> {
    pub(crate) order_id: Option<OrderId>,
    pub(crate) payment_id: Option<PaymentId>,
    pub(crate) refund_id: Option<RefundId>,
    pub(crate) other_customer_id: Option<CustomerId>,
    pub(crate) base: Option<(Currency, i64)>,
    pub(crate) reason: Option<&'p str>,
}

/// Opens the customer's account if it has none, locks its row (on
/// PostgreSQL) and expires the lots past their date (with a
/// `customer.loyalty_points_expired` event when any did); returns the
/// points left after that and the points expired.
fn open(tx: &WriteTx<'_>, customer_id: CustomerId) -> Result<(i64, i64)> {
    let db = tx.db();
    let now = tx.now();
    db.execute(
        sql!(
            "INSERT INTO loyalty_accounts (customer_id, points, created_at, updated_at) \
             VALUES (?1, 0, ?2, ?2) ON CONFLICT (customer_id) DO NOTHING"
        ),
        &[&customer_id, &now],
    )?;
    db.lock_for_update(
        sql!(
            postgres_only: "SELECT customer_id FROM loyalty_accounts WHERE customer_id = ?1 FOR UPDATE"
        ),
        &[&customer_id],
    )?;
    let due: Vec<(i64, i64)> = db.query_vec(
        sql!(
            "SELECT seq, points_left FROM loyalty_lots WHERE customer_id = ?1 \
             AND points_left > 0 AND expires_at <= ?2 ORDER BY expires_at, seq"
        ),
        &[&customer_id, &now],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut expired = 0;
    for (seq, left) in due {
        db.execute(
            sql!("UPDATE loyalty_lots SET points_left = 0 WHERE customer_id = ?1 AND seq = ?2"),
            &[&customer_id, &seq],
        )?;
        append(
            tx,
            customer_id,
            LoyaltyEntryKind::Expire,
            -left,
            &Links::default(),
            None,
        )?;
        expired += left;
    }
    if expired > 0 {
        // Whatever movement found them, the expiry is an event of its own
        // (a shop's reminder e-mails follow it).
        let mut facts = crate::changes::ChangeFacts::current();
        facts.points = Some(-expired);
        tx.audit_change_with(
            Change {
                action: "expire_loyalty_points",
                entity_type: "customer",
                entity_id: &customer_id.to_string(),
                changed_fields: &["loyalty_points"],
            },
            facts,
        )?;
    }
    let balance = db.query_row(
        sql!("SELECT points FROM loyalty_accounts WHERE customer_id = ?1"),
        &[&customer_id],
        |r| r.get(0),
    )?;
    Ok((balance, expired))
}

/// Writes one entry and the account's new balance; returns the entry's
/// position. The caller has opened the account and moved its lots.
fn append(
    tx: &WriteTx<'_>,
    customer_id: CustomerId,
    kind: LoyaltyEntryKind,
    points: i64,
    links: &Links<'_>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<i64> {
    let db = tx.db();
    let now = tx.now();
    let (currency, base_e4) = match links.base {
        Some((c, b)) => (Some(c.code()), Some(b)),
        None => (None, None),
    };
    let (seq, balance): (i64, i64) = db.query_row(
        sql!(
            "UPDATE loyalty_accounts SET points = points + ?2, updated_at = ?3, \
             version = version + 1 WHERE customer_id = ?1 RETURNING version, points"
        ),
        &[&customer_id, &points, &now],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // The account's version counts its entries: it is 1 when opened and
    // raised once per entry, so the entry's position is version - 1.
    let seq = seq - 1;
    db.execute(
        sql!(
            "INSERT INTO loyalty_entries (customer_id, seq, kind, points, balance, order_id, \
             payment_id, refund_id, other_customer_id, currency, base_e4, expires_at, reason, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        &[
            &customer_id,
            &seq,
            &kind,
            &points,
            &balance,
            &links.order_id,
            &links.payment_id,
            &links.refund_id,
            &links.other_customer_id,
            &currency,
            &base_e4,
            &expires_at,
            &links.reason,
            &now,
        ],
    )?;
    Ok(seq)
}

/// Grants `points` (above 0) as a new lot expiring at `expires_at`.
/// `clamp`: grant only what fits under [`MAX_LOYALTY_POINTS`] (earning
/// never refuses a payment) instead of refusing naming `field`. Returns
/// the points granted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn credit(
    tx: &WriteTx<'_>,
    customer_id: CustomerId,
    kind: LoyaltyEntryKind,
    points: i64,
    field: &str,
    links: &Links<'_>,
    expires_at: Option<DateTime<Utc>>,
    clamp: bool,
) -> Result<i64> {
    debug_assert!(points > 0);
    let (balance, _) = open(tx, customer_id)?;
    let room = MAX_LOYALTY_POINTS - balance;
    let points = if points > room {
        if !clamp {
            return Err(Error::invalid(
                field,
                format!("would take the customer's points above {MAX_LOYALTY_POINTS}"),
            ));
        }
        room
    } else {
        points
    };
    if points <= 0 {
        return Ok(0);
    }
    let seq = append(tx, customer_id, kind, points, links, expires_at)?;
    tx.db().execute(
        sql!(
            "INSERT INTO loyalty_lots (customer_id, seq, points_left, expires_at) \
             VALUES (?1, ?2, ?3, ?4)"
        ),
        &[&customer_id, &seq, &points, &expires_at],
    )?;
    Ok(points)
}

/// Takes `points` (above 0) from the customer's lots, those of
/// `prefer_lot` first, then the soonest-expiring (never-expiring last).
/// `clamp`: take only what there is instead of refusing naming `field`.
/// Returns the points taken.
#[allow(clippy::too_many_arguments)]
pub(crate) fn debit(
    tx: &WriteTx<'_>,
    customer_id: CustomerId,
    kind: LoyaltyEntryKind,
    points: i64,
    field: &str,
    links: &Links<'_>,
    prefer_lot: Option<i64>,
    clamp: bool,
) -> Result<i64> {
    debug_assert!(points > 0);
    let (balance, _) = open(tx, customer_id)?;
    let points = if points > balance {
        if !clamp {
            return Err(Error::invalid(
                field,
                format!("{points} points are more than the customer's {balance}"),
            ));
        }
        balance
    } else {
        points
    };
    if points == 0 {
        return Ok(0);
    }
    let db = tx.db();
    let lots: Vec<(i64, i64)> = db.query_vec(
        sql!(
            "SELECT seq, points_left FROM loyalty_lots WHERE customer_id = ?1 \
             AND points_left > 0 ORDER BY CASE WHEN seq = ?2 THEN 0 ELSE 1 END, \
             CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, seq"
        ),
        &[&customer_id, &prefer_lot.unwrap_or(0)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut left = points;
    for (seq, available) in lots {
        if left == 0 {
            break;
        }
        let take = available.min(left);
        db.execute(
            sql!(
                "UPDATE loyalty_lots SET points_left = points_left - ?3 \
                 WHERE customer_id = ?1 AND seq = ?2"
            ),
            &[&customer_id, &seq, &take],
        )?;
        left -= take;
    }
    if left != 0 {
        return Err(Error::corrupt(format!(
            "customer {customer_id}: loyalty lots hold less than the account's points"
        )));
    }
    append(tx, customer_id, kind, -points, links, None)?;
    Ok(points)
}

/// When points granted now under the rule of `currency` expire.
fn expiry_of(tx: &WriteTx<'_>, currency: Currency) -> Result<Option<DateTime<Utc>>> {
    let rule = LoyaltyReader::new(tx.db(), tx.now()).loyalty_rule(currency)?;
    Ok(rule
        .and_then(|r| r.expires_after_days)
        .map(|d| tx.now() + Duration::days(i64::from(d))))
}

/// Earns the points of an order that has just become paid: the rule of
/// its currency applied to its total less what points paid of it. A
/// guest's order, a currency without a rule, or an order that earned
/// already earns nothing.
pub(crate) fn earn_for_order(
    tx: &WriteTx<'_>,
    order_id: OrderId,
    currency: Currency,
) -> Result<()> {
    let db = tx.db();
    // The rule first: a shop without loyalty pays one lookup per paid order.
    let Some(rule) = LoyaltyReader::new(db, tx.now()).loyalty_rule(currency)? else {
        return Ok(());
    };
    let (customer, total_e4): (Option<CustomerId>, i64) = db.query_row(
        sql!("SELECT customer_id, total_e4 FROM orders WHERE id = ?1"),
        &[&order_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some(customer) = customer else {
        return Ok(());
    };
    let (earned, by_points_e4): (bool, i64) = db.query_row(
        sql!(
            "SELECT EXISTS (SELECT 1 FROM loyalty_entries WHERE order_id = ?1 AND kind = 'earn'), \
             CAST(coalesce((SELECT sum(amount_e4) FROM payments WHERE order_id = ?1 \
             AND method = 'loyalty_points' AND status IN ('captured', 'refunded')), 0) AS bigint)"
        ),
        &[&order_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let base_e4 = total_e4 - by_points_e4;
    if earned || base_e4 <= 0 {
        return Ok(());
    }
    let per_unit_e4 = money::to_e4("points_per_unit", rule.points_per_unit)?;
    // Whole points only, rounded down.
    let points = i64::try_from(i128::from(base_e4) * i128::from(per_unit_e4) / 100_000_000)
        .unwrap_or(MAX_LOYALTY_POINTS);
    if points <= 0 {
        return Ok(());
    }
    let links = Links {
        order_id: Some(order_id),
        base: Some((currency, base_e4)),
        ..Links::default()
    };
    let expires_at = expiry_of(tx, currency)?;
    credit(
        tx,
        customer,
        LoyaltyEntryKind::Earn,
        points,
        "points",
        &links,
        expires_at,
        true,
    )?;
    Ok(())
}

/// After a refund of an order: takes back the earned share of what was
/// refunded (of payments other than points; at most what the customer
/// still has, the rest again at the next refund) and gives back the
/// points of refunded points payments. `points_refunds` are this refund's
/// rows that return a points payment; `last_refund` its last row.
pub(crate) fn after_refund(
    tx: &WriteTx<'_>,
    order_id: OrderId,
    currency: Currency,
    points_refunds: &[(RefundId, PaymentId)],
    last_refund: Option<RefundId>,
) -> Result<()> {
    let db = tx.db();
    let customer: Option<CustomerId> = db.query_row(
        sql!("SELECT customer_id FROM orders WHERE id = ?1"),
        &[&order_id],
        |r| r.get(0),
    )?;
    let Some(customer) = customer else {
        return Ok(());
    };
    // Points payments refunded: their points come back, in proportion,
    // the last refund of a payment giving back all that is left.
    for (refund_id, payment_id) in points_refunds {
        let spent: Option<(i64, i64, i64)> = db.query_opt(
            sql!(
                "SELECT -e.points, p.amount_e4, p.refunded_e4 FROM loyalty_entries e \
                 JOIN payments p ON p.id = e.payment_id \
                 WHERE e.payment_id = ?1 AND e.kind = 'spend'"
            ),
            &[payment_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((spent, amount_e4, refunded_e4)) = spent else {
            continue;
        };
        let back: i64 = db.query_row(
            sql!(
                "SELECT CAST(coalesce(sum(points), 0) AS bigint) FROM loyalty_entries \
                 WHERE payment_id = ?1 AND kind = 'refund'"
            ),
            &[payment_id],
            |r| r.get(0),
        )?;
        let target = if refunded_e4 >= amount_e4 {
            spent
        } else {
            i64::try_from(i128::from(spent) * i128::from(refunded_e4) / i128::from(amount_e4))
                .unwrap_or(spent)
        };
        let due = target - back;
        if due > 0 {
            let links = Links {
                order_id: Some(order_id),
                payment_id: Some(*payment_id),
                refund_id: Some(*refund_id),
                ..Links::default()
            };
            let expires_at = expiry_of(tx, currency)?;
            // Refused rather than cut short: the points are the customer's.
            credit(
                tx,
                customer,
                LoyaltyEntryKind::Refund,
                due,
                "amount",
                &links,
                expires_at,
                false,
            )?;
        }
    }
    // The earned share of what was refunded of other payments.
    let earned: Option<(i64, i64, CustomerId, i64)> = db.query_opt(
        sql!(
            "SELECT points, base_e4, customer_id, seq FROM loyalty_entries \
             WHERE order_id = ?1 AND kind = 'earn'"
        ),
        &[&order_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let Some((earned, base_e4, earner, earn_seq)) = earned else {
        return Ok(());
    };
    let (refunded_e4, reversed): (i64, i64) = db.query_row(
        sql!(
            "SELECT CAST(coalesce((SELECT sum(f.amount_e4) FROM refunds f \
             JOIN payments p ON p.id = f.payment_id WHERE f.order_id = ?1 \
             AND p.method <> 'loyalty_points'), 0) AS bigint), \
             CAST(coalesce((SELECT -sum(points) FROM loyalty_entries WHERE order_id = ?1 \
             AND kind = 'reverse'), 0) AS bigint)"
        ),
        &[&order_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let target = if refunded_e4 >= base_e4 {
        earned
    } else {
        i64::try_from(i128::from(earned) * i128::from(refunded_e4) / i128::from(base_e4))
            .unwrap_or(earned)
    };
    let due = target - reversed;
    if due > 0 {
        if let Some(refund_id) = last_refund {
            let links = Links {
                order_id: Some(order_id),
                refund_id: Some(refund_id),
                ..Links::default()
            };
            // The order's own lot first, when it is still this customer's.
            let prefer = (earner == customer).then_some(earn_seq);
            debit(
                tx,
                customer,
                LoyaltyEntryKind::Reverse,
                due,
                "amount",
                &links,
                prefer,
                true,
            )?;
        }
    }
    Ok(())
}

/// Moves every point of `merged` to `survivor` (a customer merge), lot by
/// lot with their expiry: a `transfer` entry out and one in per lot;
/// accounts locked in customer id order.
pub(crate) fn transfer_on_merge(
    tx: &WriteTx<'_>,
    survivor: CustomerId,
    merged: CustomerId,
) -> Result<()> {
    let has: bool = tx.db().query_row(
        sql!("SELECT EXISTS (SELECT 1 FROM loyalty_accounts WHERE customer_id = ?1)"),
        &[&merged],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(());
    }
    let (first, second) = if merged < survivor {
        (merged, survivor)
    } else {
        (survivor, merged)
    };
    open(tx, first)?;
    open(tx, second)?;
    let lots: Vec<(i64, i64, Option<DateTime<Utc>>)> = tx.db().query_vec(
        sql!(
            "SELECT seq, points_left, expires_at FROM loyalty_lots WHERE customer_id = ?1 \
             AND points_left > 0 ORDER BY seq"
        ),
        &[&merged],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let reason = "customer merge";
    for (seq, left, expires_at) in lots {
        let out = Links {
            other_customer_id: Some(survivor),
            reason: Some(reason),
            ..Links::default()
        };
        debit(
            tx,
            merged,
            LoyaltyEntryKind::Transfer,
            left,
            "loyalty_points",
            &out,
            Some(seq),
            false,
        )?;
        let into = Links {
            other_customer_id: Some(merged),
            reason: Some(reason),
            ..Links::default()
        };
        credit(
            tx,
            survivor,
            LoyaltyEntryKind::Transfer,
            left,
            "loyalty_points",
            &into,
            expires_at,
            false,
        )?;
    }
    Ok(())
}

/// The points a payment of `points` would spend in `currency` now, as
/// money in units of 1/10,000; refused naming `points`.
pub(crate) fn points_value(tx: &WriteTx<'_>, currency: Currency, points: i64) -> Result<i64> {
    if points <= 0 || points > MAX_LOYALTY_POINTS {
        return Err(Error::invalid(
            "points",
            format!("must be 1 to {MAX_LOYALTY_POINTS}"),
        ));
    }
    let rule = LoyaltyReader::new(tx.db(), tx.now())
        .loyalty_rule(currency)?
        .ok_or_else(|| {
            Error::invalid(
                "points",
                format!("cannot be spent in {currency}: it has no loyalty rule"),
            )
        })?;
    let value_e4 = money::to_e4("point_value", rule.point_value.amount)?;
    let amount_e4 = i64::try_from(i128::from(points) * i128::from(value_e4))
        .map_err(|_| Error::invalid("points", "are worth more than can be paid"))?;
    let unit_e4 = 10_i64.pow(4 - currency.minor_digits().min(4));
    if amount_e4 % unit_e4 != 0 {
        return Err(Error::invalid(
            "points",
            format!(
                "{points} points are worth {}, not a whole number of {currency}'s smallest unit",
                money::from_e4(amount_e4).normalize()
            ),
        ));
    }
    Ok(amount_e4)
}

impl<'t> Loyalty<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Loyalty {
            tx,
            reader: LoyaltyReader::new(tx.db(), tx.now()),
        }
    }

    /// Sets the loyalty rule of a currency, replacing the one there. Points
    /// already earned keep their expiry; the new rule applies to orders
    /// paid and points spent from now on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming
    /// `points_per_unit` (negative, above [`MAX_POINTS_PER_UNIT`], more
    /// than 4 decimals), `point_value` (not above 0, above
    /// [`MAX_POINT_VALUE`], more than 4 decimals) or `expires_after_days`
    /// (0 or above [`MAX_POINTS_EXPIRY_DAYS`]).
    pub fn set_loyalty_rule(&self, new: NewLoyaltyRule) -> Result<LoyaltyRule> {
        self.tx.atomic(|| {
            let per_unit = new.points_per_unit;
            if per_unit.is_sign_negative()
                || per_unit > Decimal::from(MAX_POINTS_PER_UNIT)
                || per_unit.normalize().scale() > 4
            {
                return Err(Error::invalid(
                    "points_per_unit",
                    format!("must be 0 to {MAX_POINTS_PER_UNIT}, with at most 4 decimals"),
                ));
            }
            let per_unit_e4 = money::to_e4("points_per_unit", per_unit)?;
            let value = new.point_value;
            if value <= Decimal::ZERO
                || value > Decimal::from(MAX_POINT_VALUE)
                || value.normalize().scale() > 4
            {
                return Err(Error::invalid(
                    "point_value",
                    format!(
                        "must be above 0 and at most {MAX_POINT_VALUE}, with at most 4 decimals"
                    ),
                ));
            }
            let value_e4 = money::to_e4("point_value", value)?;
            if let Some(days) = new.expires_after_days {
                if !(1..=MAX_POINTS_EXPIRY_DAYS).contains(&days) {
                    return Err(Error::invalid(
                        "expires_after_days",
                        format!("must be 1 to {MAX_POINTS_EXPIRY_DAYS}"),
                    ));
                }
            }
            let days = new.expires_after_days.map(i64::from);
            self.tx.db().execute(
                sql!(
                    "INSERT INTO loyalty_rules (currency, points_per_unit_e4, point_value_e4, \
                     expires_after_days, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
                     ON CONFLICT (currency) DO UPDATE SET \
                     points_per_unit_e4 = excluded.points_per_unit_e4, \
                     point_value_e4 = excluded.point_value_e4, \
                     expires_after_days = excluded.expires_after_days, \
                     updated_at = excluded.updated_at, version = loyalty_rules.version + 1"
                ),
                &[
                    &new.currency.code(),
                    &per_unit_e4,
                    &value_e4,
                    &days,
                    &self.tx.now(),
                ],
            )?;
            self.tx.audit_change(Change {
                action: "set",
                entity_type: "loyalty_rule",
                entity_id: new.currency.code(),
                changed_fields: &["points_per_unit", "point_value", "expires_after_days"],
            })?;
            self.loyalty_rule(new.currency)?
                .ok_or_else(|| Error::corrupt("a loyalty rule vanished in its own write"))
        })
    }

    /// Removes the loyalty rule of a currency: its orders earn nothing
    /// more and points cannot be spent in it; points already earned stay.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the
    /// currency has no rule.
    pub fn remove_loyalty_rule(&self, currency: Currency) -> Result<()> {
        self.tx.atomic(|| {
            let removed = self.tx.db().execute(
                sql!("DELETE FROM loyalty_rules WHERE currency = ?1"),
                &[&currency.code()],
            )?;
            if removed == 0 {
                return Err(Error::not_found("loyalty rule", currency.code()));
            }
            self.tx.audit_change(Change {
                action: "remove",
                entity_type: "loyalty_rule",
                entity_id: currency.code(),
                changed_fields: &[],
            })
        })
    }

    /// Gives points (positive, a new lot expiring as the rule of
    /// `expiry_currency` says, or never without one) or takes them
    /// (negative, soonest-expiring first), with a reason.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer; [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)
    /// for an archived or erased one when `points` is positive;
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming `points`
    /// (0, more than the customer has off, above [`MAX_LOYALTY_POINTS`] in
    /// all) or `reason`.
    pub fn adjust_loyalty_points(
        &self,
        customer_id: CustomerId,
        points: i64,
        reason: &str,
        expiry_currency: Option<Currency>,
    ) -> Result<LoyaltyAccount> {
        self.tx.atomic(|| {
            let customers = crate::customer::CustomerReader::new(self.tx.db());
            if points > 0 {
                customers.require_active(customer_id)?;
            } else {
                customers.require(customer_id)?;
            }
            let reason = validate::required_text("reason", reason, MAX_LOYALTY_REASON_LEN)?;
            if points == 0 || points.unsigned_abs() > MAX_LOYALTY_POINTS.unsigned_abs() {
                return Err(Error::invalid(
                    "points",
                    format!("must not be 0, and at most {MAX_LOYALTY_POINTS} either way"),
                ));
            }
            let links = Links {
                reason: Some(&reason),
                ..Links::default()
            };
            if points > 0 {
                let expires_at = match expiry_currency {
                    Some(c) => expiry_of(self.tx, c)?,
                    None => None,
                };
                credit(
                    self.tx,
                    customer_id,
                    LoyaltyEntryKind::Adjust,
                    points,
                    "points",
                    &links,
                    expires_at,
                    false,
                )?;
            } else {
                debit(
                    self.tx,
                    customer_id,
                    LoyaltyEntryKind::Adjust,
                    -points,
                    "points",
                    &links,
                    None,
                    false,
                )?;
            }
            let mut facts = crate::changes::ChangeFacts::current();
            facts.points = Some(points);
            self.tx.audit_change_with(
                Change {
                    action: "adjust_loyalty_points",
                    entity_type: "customer",
                    entity_id: &customer_id.to_string(),
                    changed_fields: &["loyalty_points"],
                },
                facts,
            )?;
            self.loyalty_account(customer_id)
        })
    }

    /// Writes the `expire` entries of points past their date, for at most
    /// [`MAX_EXPIRY_BATCH`] customers (call again while `more`). Points
    /// past their date are never spendable; this puts their expiry in the
    /// ledger (and the change feed) without waiting for the customer's
    /// next movement. Run it daily.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub fn expire_loyalty_points(&self) -> Result<PointsExpired> {
        self.tx.atomic(|| {
            let db = self.tx.db();
            let due: Vec<CustomerId> = db.query_vec(
                sql!(
                    "SELECT DISTINCT customer_id FROM loyalty_lots WHERE points_left > 0 \
                     AND expires_at <= ?1 ORDER BY customer_id LIMIT ?2"
                ),
                &[&self.tx.now(), &((MAX_EXPIRY_BATCH + 1) as i64)],
                |r| r.get(0),
            )?;
            let more = due.len() > MAX_EXPIRY_BATCH;
            let mut done = PointsExpired {
                customers: 0,
                points: 0,
                more,
            };
            for customer in due.into_iter().take(MAX_EXPIRY_BATCH) {
                // The account is locked and its due lots expired (with the
                // event) under the lock; what expired is counted there.
                let (_, expired) = open(self.tx, customer)?;
                if expired > 0 {
                    done.customers += 1;
                    done.points += expired;
                }
            }
            Ok(done)
        })
    }
}

/// Loyalty invariants for `check()`: each account's points are the sum of
/// its ledger, its last entry's balance and what its lots hold; no lot
/// holds more than its entry granted; every spend is a points payment and
/// every points payment has its spend; every refund entry is a refund to
/// points of the same payment; an order earns at most once and loses at
/// most what it earned; transfers sum to zero.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT a.customer_id, a.points, \
             CAST(coalesce((SELECT sum(e.points) FROM loyalty_entries e \
             WHERE e.customer_id = a.customer_id), 0) AS bigint), \
             (SELECT e.balance FROM loyalty_entries e WHERE e.customer_id = a.customer_id \
             ORDER BY e.seq DESC LIMIT 1), \
             CAST(coalesce((SELECT sum(l.points_left) FROM loyalty_lots l \
             WHERE l.customer_id = a.customer_id), 0) AS bigint), \
             a.version - 1 - coalesce((SELECT max(e.seq) FROM loyalty_entries e \
             WHERE e.customer_id = a.customer_id), 0) \
             FROM loyalty_accounts a ORDER BY a.customer_id"
        ),
        &[],
        |r| {
            let customer: CustomerId = r.get(0)?;
            let (points, sum, lots): (i64, i64, i64) = (r.get(1)?, r.get(2)?, r.get(4)?);
            let last: Option<i64> = r.get(3)?;
            let version_gap: i64 = r.get(5)?;
            if version_gap != 0 {
                report.push(format!(
                    "loyalty points of customer {customer}: its version does not count its \
                     entries (off by {version_gap})"
                ));
            }
            if points != sum || last.unwrap_or(0) != points || lots != points {
                report.push(format!(
                    "loyalty points of customer {customer}: {points} but its ledger sums to \
                     {sum} (last entry {last:?}) and its lots hold {lots}"
                ));
            }
            Ok(())
        },
    )?;
    let mut broken = |sql: &'static crate::db::Sql, what: &'static str| {
        conn.query_each(sql, &[], |r| {
            let (id, seq): (String, Option<i64>) = (r.get(0)?, r.get(1)?);
            report.push(match seq {
                Some(seq) => format!("loyalty points of customer {id} entry {seq}: {what}"),
                None => format!("{id}: {what}"),
            });
            Ok(())
        })
    };
    broken(
        sql!(
            "SELECT CAST(l.customer_id AS text), l.seq FROM loyalty_lots l \
             LEFT JOIN loyalty_entries e ON e.customer_id = l.customer_id AND e.seq = l.seq \
             WHERE e.seq IS NULL OR e.points <= 0 OR l.points_left > e.points \
             ORDER BY l.customer_id, l.seq"
        ),
        "a lot holding more than its entry granted",
    )?;
    broken(
        sql!(
            "SELECT CAST(e.customer_id AS text), e.seq FROM loyalty_entries e \
             LEFT JOIN payments p ON p.id = e.payment_id \
             WHERE e.kind = 'spend' AND (p.id IS NULL OR p.method <> 'loyalty_points' \
             OR p.order_id IS DISTINCT FROM e.order_id) ORDER BY e.customer_id, e.seq"
        ),
        "a spend without its points payment",
    )?;
    broken(
        sql!(
            "SELECT 'payment ' || CAST(p.id AS text), CAST(NULL AS bigint) FROM payments p \
             WHERE p.method = 'loyalty_points' AND NOT EXISTS (SELECT 1 FROM loyalty_entries e \
             WHERE e.payment_id = p.id AND e.kind = 'spend') ORDER BY p.id"
        ),
        "a points payment without its spend",
    )?;
    broken(
        sql!(
            "SELECT CAST(e.customer_id AS text), e.seq FROM loyalty_entries e \
             LEFT JOIN refunds f ON f.id = e.refund_id \
             WHERE e.kind = 'refund' AND (f.id IS NULL OR f.payment_id IS DISTINCT FROM \
             e.payment_id OR f.destination <> 'loyalty_points') ORDER BY e.customer_id, e.seq"
        ),
        "a refund entry without its refund to points",
    )?;
    broken(
        sql!(
            "SELECT 'order ' || CAST(order_id AS text), CAST(NULL AS bigint) FROM loyalty_entries \
             WHERE kind IN ('earn', 'reverse') GROUP BY order_id \
             HAVING sum(CASE WHEN kind = 'earn' THEN 1 ELSE 0 END) <> 1 \
             OR -sum(CASE WHEN kind = 'reverse' THEN points ELSE 0 END) \
             > sum(CASE WHEN kind = 'earn' THEN points ELSE 0 END) ORDER BY order_id"
        ),
        "loyalty points earned other than once, or more taken back than earned",
    )?;
    broken(
        sql!(
            "SELECT 'transfers', CAST(NULL AS bigint) FROM (SELECT count(*) AS n, \
             coalesce(sum(points), 0) AS total FROM loyalty_entries WHERE kind = 'transfer') t \
             WHERE t.n > 0 AND t.total <> 0"
        ),
        "loyalty points moved by merges do not sum to zero",
    )?;
    Ok(())
}

crate::one_shot::one_shot! {
    /// Loyalty rules and points for single operations, each its own unit
    /// of work: `store.loyalty().loyalty_account(customer)`.
    StoreLoyalty => write loyalty: Loyalty, read loyalty: LoyaltyReader;
    write {
        fn set_loyalty_rule(new: NewLoyaltyRule) -> LoyaltyRule;
        fn remove_loyalty_rule(currency: Currency) -> ();
        fn adjust_loyalty_points(customer_id: CustomerId, points: i64, reason: &str, expiry_currency: Option<Currency>) -> LoyaltyAccount;
        fn expire_loyalty_points() -> PointsExpired;
    }
    read {
        fn loyalty_rule(currency: Currency) -> Option<LoyaltyRule>;
        fn loyalty_rules() -> Vec<LoyaltyRule>;
        fn loyalty_account(customer_id: CustomerId) -> LoyaltyAccount;
        fn loyalty_entries(customer_id: CustomerId) -> Vec<LoyaltyEntry>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Loyalty rules and points for one-shot calls.
    pub fn loyalty(&self) -> StoreLoyalty<'_> {
        StoreLoyalty::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Loyalty rules and points inside this transaction.
    pub fn loyalty(&self) -> Loyalty<'_> {
        Loyalty::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Loyalty rules and points, read-only.
    pub fn loyalty(&self) -> LoyaltyReader<'a> {
        LoyaltyReader::new(self.db(), crate::time::now())
    }
}
