//! Reports: revenue by period, country and product; top customers; average
//! order value; repeat-purchase rate; cancellation and return rates;
//! stock-out risk; RFM scores. All computed in SQL over exact integer
//! amounts (`*_e4`), per currency, and returned as exact decimals.
//!
//! Revenue counts orders that were paid (every status but `pending` and
//! `cancelled`), at their total (lines, shipping and tax). Refunds count
//! against their order, in the order's period; credit notes in the period
//! they were issued. Net = gross - refunds - credit notes.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::db::{sql, Conn, Sql, TimeBound};
use crate::error::{Error, Result};
use crate::id::{CustomerId, VariantId};
use crate::money::{self, Currency, Money};
use crate::time::TimeRange;

/// The RFM scores' statement in one dialect: per customer with a paid
/// order placed before ?1, the id, the recency in whole days, the
/// frequency, the net spend (e4), and the three quintiles. Only the day
/// count differs between the engines.
macro_rules! rfm {
    (sqlite) => {
        rfm!("CAST(julianday(?1) - julianday(max(o.placed_at)) AS INTEGER)")
    };
    (postgres) => {
        rfm!("CAST(floor(extract(epoch FROM (CAST(?1 AS timestamptz) - max(o.placed_at))) / 86400) AS bigint)")
    };
    ($recency:literal) => {
        concat!(
            "WITH c AS ( \
            SELECT o.customer_id AS id, ",
            $recency,
            " AS recency, \
              count(*) AS frequency, \
              CAST(sum(o.total_e4 - o.refunded_e4) - coalesce((SELECT sum(n.amount_e4) \
                FROM credit_notes n WHERE n.customer_id = o.customer_id AND n.issued_at < ?1), 0) \
                AS bigint) AS monetary \
            FROM orders o WHERE o.customer_id IS NOT NULL AND ",
            crate::order::counts_as_sale!(),
            " AND o.placed_at < ?1 \
            GROUP BY o.customer_id) \
          SELECT id, recency, frequency, monetary, \
            NTILE(5) OVER (ORDER BY recency DESC, id) AS r, \
            NTILE(5) OVER (ORDER BY frequency, id) AS f, \
            NTILE(5) OVER (ORDER BY monetary, id) AS m \
          FROM c"
        )
    };
}

/// The longest list a report returns.
pub const MAX_REPORT_ROWS: usize = 10_000;

/// How revenue is grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Period {
    /// `2011-03-14`.
    Day,
    /// `2011-W10`: weeks start on Monday; days before a year's first
    /// Monday are week 00 (SQLite's `%W`).
    Week,
    /// `2011-03`.
    Month,
}

impl Period {
    /// Parses `"day"`, `"week"` or `"month"`, naming `field` in the error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `field` for any
    /// other text.
    pub fn parse(text: &str, field: &str) -> Result<Period> {
        match text {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(crate::Error::invalid(
                field,
                "must be one of day, week, month",
            )),
        }
    }

    /// The SQL expression of the period's label of the timestamp column
    /// `column`, in each engine's dialect (PostgreSQL has no `%W`: the
    /// week is computed as SQLite's strftime does, from the day of the
    /// year and the weekday).
    fn label(self, column: &str, postgres: bool) -> String {
        match (self, postgres) {
            (Period::Day, false) => format!("strftime('%Y-%m-%d', {column})"),
            (Period::Week, false) => format!("strftime('%Y-W%W', {column})"),
            (Period::Month, false) => format!("strftime('%Y-%m', {column})"),
            (Period::Day, true) => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
            (Period::Month, true) => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"),
            (Period::Week, true) => format!(
                "to_char({column} AT TIME ZONE 'UTC', 'YYYY') || '-W' || lpad(CAST(CAST(floor( \
                 (extract(doy FROM {column} AT TIME ZONE 'UTC') + 7 \
                 - extract(isodow FROM {column} AT TIME ZONE 'UTC')) / 7) AS integer) AS text), \
                 2, '0')"
            ),
        }
    }
}

/// What a [`Revenue`] row is the revenue of, typed by report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevenueKey {
    /// A period's label ([`Period`]: `2026-03-14`, `2026-W11`, `2026-03`).
    Period(String),
    /// A destination country (ISO 3166-1 alpha-2), `None` when unknown.
    Country(Option<String>),
    /// A customer.
    Customer(CustomerId),
}

impl std::fmt::Display for RevenueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevenueKey::Period(label) => f.write_str(label),
            RevenueKey::Country(Some(code)) => f.write_str(code),
            RevenueKey::Country(None) => f.write_str("unknown"),
            RevenueKey::Customer(id) => write!(f, "{id}"),
        }
    }
}

/// Revenue of one group (a period, a country, a customer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Revenue {
    /// The group, typed by report: a period, a country, a customer.
    pub key: RevenueKey,
    /// Currency.
    pub currency: Currency,
    /// Paid orders in the group.
    pub orders: u64,
    /// Their totals.
    pub gross: Money,
    /// Refunded from them.
    pub refunds: Money,
    /// Credit notes issued in the group.
    pub credit_notes: Money,
    /// gross - refunds - credit notes.
    pub net: Money,
}

/// Sales of one product variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ProductSales {
    /// The variant.
    pub variant_id: VariantId,
    /// Its SKU.
    pub sku: String,
    /// Currency.
    pub currency: Currency,
    /// Units sold.
    pub units_sold: i64,
    /// Units returned.
    pub units_returned: i64,
    /// The lines' totals.
    pub gross: Money,
}

/// Average order value in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct AverageOrderValue {
    /// Currency.
    pub currency: Currency,
    /// Paid orders.
    pub orders: u64,
    /// Their totals.
    pub gross: Money,
    /// gross / orders, rounded to the currency's minor unit (half away from
    /// zero): the one rounded figure of the reports.
    pub average: Money,
}

/// Repeat purchases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RepeatPurchase {
    /// Customers with at least one paid order in the period.
    pub customers: u64,
    /// Of them, customers with two or more.
    pub repeat_customers: u64,
    /// repeat / customers, to four decimals (0 when there are none).
    pub rate: Decimal,
}

/// Cancellations and returns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct CancellationsAndReturns {
    /// Orders placed in the period.
    pub orders: u64,
    /// Of them, cancelled.
    pub cancelled: u64,
    /// Of them, with at least one unit returned.
    pub with_returns: u64,
    /// Units sold (ordered) in paid orders.
    pub units_sold: i64,
    /// Of them, returned.
    pub units_returned: i64,
    /// Credit notes issued in the period.
    pub credit_notes: u64,
    /// cancelled / orders, four decimals.
    pub cancellation_rate: Decimal,
    /// units returned / units sold, four decimals.
    pub return_rate: Decimal,
}

/// A variant at risk of running out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct StockOutRisk {
    /// The variant.
    pub variant_id: VariantId,
    /// Its SKU.
    pub sku: String,
    /// Available now, all warehouses.
    pub available: i64,
    /// Units sold in the window.
    pub units_sold: i64,
    /// Days the available stock lasts at the window's rate of sale, two
    /// decimals (`available × window_days / units_sold`).
    pub days_of_cover: Decimal,
}

/// One customer's RFM scores (1 to 5 each; 5 is best).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct RfmScore {
    /// The customer.
    pub customer_id: CustomerId,
    /// Days since the last paid order, as of the report's instant.
    pub recency_days: i64,
    /// Paid orders.
    pub frequency: i64,
    /// Net spend (orders - refunds - credit notes) with every currency's
    /// units added together: a ranking figure, not an amount of money (RFM
    /// ranks, it does not account), hence a plain decimal and not a
    /// [`Money`].
    pub monetary: Decimal,
    /// Recency quintile (5 = most recent).
    pub r: u8,
    /// Frequency quintile.
    pub f: u8,
    /// Monetary quintile.
    pub m: u8,
}

impl RfmScore {
    /// The named segment of the scores (docs/REPORTS.md lists them): `champions`,
    /// `loyal`, `new`, `promising`, `at_risk`, `hibernating` or
    /// `needs_attention`.
    pub fn segment(&self) -> &'static str {
        rfm_segment(self.r, self.f)
    }
}

/// The named RFM segment for recency and frequency scores.
pub fn rfm_segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (4..=5, 4..=5) => "champions",
        (3..=5, 3..=5) => "loyal",
        (4..=5, 1) => "new",
        (4..=5, _) => "promising",
        (1..=2, 3..=5) => "at_risk",
        (1..=2, 1..=2) => "hibernating",
        _ => "needs_attention",
    }
}

fn bounds(range: TimeRange) -> Result<(TimeBound, TimeBound)> {
    // A bound outside the stored range means no bound on that side.
    let from = range.from.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let to = range.before.unwrap_or(DateTime::<Utc>::MAX_UTC);
    if from > to {
        return Err(Error::invalid("range", "starts after it ends"));
    }
    Ok((TimeBound(from), TimeBound(to)))
}

fn limit(n: usize) -> Result<i64> {
    if n == 0 || n > MAX_REPORT_ROWS {
        return Err(Error::invalid(
            "limit",
            format!("is {n}, must be 1 to {MAX_REPORT_ROWS}"),
        ));
    }
    Ok(n as i64)
}

fn dec(currency: Currency, e4: i64) -> Money {
    Money::from_e4(e4, currency)
}

fn ratio(a: u64, b: u64) -> Decimal {
    if b == 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(a) / Decimal::from(b))
        .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// How many of each record the database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Counts {
    /// Customers (erased and merged ones included).
    pub customers: u64,
    /// Orders.
    pub orders: u64,
    /// Credit notes.
    pub credit_notes: u64,
    /// Products.
    pub products: u64,
}

/// Reports, read-only.
#[derive(Debug)]
pub struct Reports<'a> {
    db: Conn<'a>,
}

/// Orders that count as sales (`order::counts_as_sale!`).
const PAID: &str = crate::order::counts_as_sale!();

impl<'a> Reports<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        Reports { db }
    }

    /// Revenue grouped by a key expression (text); `key_of` types each
    /// group's key (`None` leaves the group out).
    fn revenue(
        &self,
        group_orders: &str,
        group_credits: &str,
        (from, to): (TimeBound, TimeBound),
        limit: i64,
        key_of: impl Fn(Option<String>) -> Result<Option<RevenueKey>>,
    ) -> Result<Vec<Revenue>> {
        // Both group expressions come from this module (the period labels,
        // the country and customer columns), never from a caller.
        let sql = Sql::dynamic(format!(
            "SELECT k, currency, CAST(sum(n) AS bigint), CAST(sum(g) AS bigint), \
               CAST(sum(r) AS bigint), CAST(sum(c) AS bigint) FROM ( \
               SELECT {group_orders} AS k, o.currency, count(*) n, sum(o.total_e4) g, \
                      sum(o.refunded_e4) r, 0 c FROM orders o \
               WHERE {PAID} AND o.placed_at >= ?1 AND o.placed_at < ?2 GROUP BY 1, 2 \
               UNION ALL \
               SELECT {group_credits} AS k, n.currency, 0, 0, 0, sum(n.amount_e4) \
               FROM credit_notes n \
               WHERE n.issued_at >= ?1 AND n.issued_at < ?2 GROUP BY 1, 2) AS groups \
             GROUP BY 1, 2 ORDER BY sum(g) - sum(r) - sum(c) DESC, 1 LIMIT ?3"
        ));
        let mut out = Vec::new();
        self.db.query_each(&sql, &[&from, &to, &limit], |r| {
            let Some(key) = key_of(r.get(0)?)? else {
                return Ok(());
            };
            let currency = Currency::from_db(&r.get::<String>(1)?)?;
            let (orders, g, rf, c): (i64, i64, i64, i64) =
                (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
            out.push(Revenue {
                key,
                currency,
                orders: orders as u64,
                gross: dec(currency, g),
                refunds: dec(currency, rf),
                credit_notes: dec(currency, c),
                net: dec(currency, g - rf - c),
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// How many customers, orders, credit notes and products there are.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn counts(&self) -> Result<Counts> {
        self.db.query_row(
            sql!(
                "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), \
                 (SELECT count(*) FROM credit_notes), (SELECT count(*) FROM products)"
            ),
            &[],
            |r| {
                Ok(Counts {
                    customers: r.get::<i64>(0)? as u64,
                    orders: r.get::<i64>(1)? as u64,
                    credit_notes: r.get::<i64>(2)? as u64,
                    products: r.get::<i64>(3)? as u64,
                })
            },
        )
    }

    /// Revenue per period within `range` ([`TimeRange`]), oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `range` when it starts after it ends.
    pub fn revenue_by_period(&self, period: Period, range: TimeRange) -> Result<Vec<Revenue>> {
        let postgres = self.db.is_postgres();
        let mut rows = self.revenue(
            &period.label("o.placed_at", postgres),
            &period.label("n.issued_at", postgres),
            bounds(range)?,
            MAX_REPORT_ROWS as i64,
            |key| Ok(Some(RevenueKey::Period(key.unwrap_or_default()))),
        )?;
        rows.sort_by(|a, b| {
            (a.key.to_string(), a.currency.code()).cmp(&(b.key.to_string(), b.currency.code()))
        });
        Ok(rows)
    }

    /// Revenue per destination country ([`RevenueKey::Country`], `None`
    /// when unknown), largest net first.
    ///
    /// # Errors
    ///
    /// As [`revenue_by_period`](Reports::revenue_by_period); `limit` 1 to
    /// [`MAX_REPORT_ROWS`].
    pub fn revenue_by_country(&self, range: TimeRange, limit_rows: usize) -> Result<Vec<Revenue>> {
        self.revenue(
            "o.country",
            "n.country",
            bounds(range)?,
            limit(limit_rows)?,
            |key| Ok(Some(RevenueKey::Country(key.filter(|k| !k.is_empty())))),
        )
    }

    /// The customers with the largest net revenue
    /// ([`RevenueKey::Customer`]); guest orders are left out.
    ///
    /// # Errors
    ///
    /// As [`revenue_by_country`](Reports::revenue_by_country).
    pub fn top_customers(&self, range: TimeRange, limit_rows: usize) -> Result<Vec<Revenue>> {
        let mut rows = self.revenue(
            "CAST(o.customer_id AS text)",
            "CAST(n.customer_id AS text)",
            bounds(range)?,
            limit(limit_rows)? + 1,
            // Guests have no customer: their group is left out.
            |key| {
                key.filter(|k| !k.is_empty())
                    .map(|k| {
                        CustomerId::parse(&k, "customer_id")
                            .map(RevenueKey::Customer)
                            .map_err(|_| {
                                Error::corrupt(format!("order customer id {k:?} is not a UUID"))
                            })
                    })
                    .transpose()
            },
        )?;
        rows.truncate(limit_rows);
        Ok(rows)
    }

    /// Sales per variant, best-selling (by gross) first.
    ///
    /// # Errors
    ///
    /// As [`revenue_by_country`](Reports::revenue_by_country).
    pub fn revenue_by_product(
        &self,
        range: TimeRange,
        limit_rows: usize,
    ) -> Result<Vec<ProductSales>> {
        let (from, to) = bounds(range)?;
        self.db.query_vec(
            sql!(concat!(
                "SELECT l.variant_id, min(l.sku), o.currency, CAST(sum(l.quantity) AS bigint), \
                 CAST(sum(l.quantity_returned) AS bigint), CAST(sum(l.total_e4) AS bigint) \
                 FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE ",
                crate::order::counts_as_sale!(),
                " AND o.placed_at >= ?1 AND o.placed_at < ?2 \
                 GROUP BY l.variant_id, o.currency ORDER BY 6 DESC, 2 LIMIT ?3"
            )),
            &[&from, &to, &limit(limit_rows)?],
            |r| {
                let currency = Currency::from_db(&r.get::<String>(2)?)?;
                Ok(ProductSales {
                    variant_id: r.get(0)?,
                    sku: r.get(1)?,
                    currency,
                    units_sold: r.get(3)?,
                    units_returned: r.get(4)?,
                    gross: dec(currency, r.get(5)?),
                })
            },
        )
    }

    /// Average order value per currency.
    ///
    /// # Errors
    ///
    /// As [`revenue_by_period`](Reports::revenue_by_period).
    pub fn average_order_value(&self, range: TimeRange) -> Result<Vec<AverageOrderValue>> {
        let (from, to) = bounds(range)?;
        self.db.query_vec(
            sql!(concat!(
                "SELECT o.currency, count(*), CAST(sum(o.total_e4) AS bigint) FROM orders o WHERE ",
                crate::order::counts_as_sale!(),
                " AND o.placed_at >= ?1 AND o.placed_at < ?2 GROUP BY 1 ORDER BY 1"
            )),
            &[&from, &to],
            |r| {
                let currency = Currency::from_db(&r.get::<String>(0)?)?;
                let n: i64 = r.get(1)?;
                let gross = money::from_e4(r.get(2)?);
                Ok(AverageOrderValue {
                    currency,
                    orders: n as u64,
                    gross: Money::new(gross, currency),
                    average: Money::new(currency.round(gross / Decimal::from(n.max(1))), currency),
                })
            },
        )
    }

    /// Customers who bought more than once.
    ///
    /// # Errors
    ///
    /// As [`revenue_by_period`](Reports::revenue_by_period).
    pub fn repeat_purchase_rate(&self, range: TimeRange) -> Result<RepeatPurchase> {
        let (from, to) = bounds(range)?;
        let (customers, repeat): (i64, i64) = self.db.query_row(
            sql!(concat!(
                "SELECT count(*), CAST(coalesce(sum(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0) \
                 AS bigint) FROM (SELECT count(*) n FROM orders o WHERE ",
                crate::order::counts_as_sale!(),
                " AND o.customer_id IS NOT NULL AND o.placed_at >= ?1 AND o.placed_at < ?2 \
                 GROUP BY o.customer_id) AS buyers"
            )),
            &[&from, &to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(RepeatPurchase {
            customers: customers as u64,
            repeat_customers: repeat as u64,
            rate: ratio(repeat as u64, customers as u64),
        })
    }

    /// Cancellation and return rates.
    ///
    /// # Errors
    ///
    /// As [`revenue_by_period`](Reports::revenue_by_period).
    pub fn cancellations_and_returns(&self, range: TimeRange) -> Result<CancellationsAndReturns> {
        let (from, to) = bounds(range)?;
        let (orders, cancelled, with_returns, sold, returned): (i64, i64, i64, i64, i64) =
            self.db.query_row(
                sql!(concat!(
                    "SELECT count(*), \
                     CAST(coalesce(sum(CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END), 0) \
                       AS bigint), \
                     CAST(coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM order_lines l \
                       WHERE l.order_id = o.id AND l.quantity_returned > 0) THEN 1 ELSE 0 END), 0) \
                       AS bigint), \
                     CAST(coalesce(sum(CASE WHEN ",
                    crate::order::counts_as_sale!(),
                    " THEN (SELECT sum(quantity) FROM order_lines l WHERE l.order_id = o.id) END), \
                       0) AS bigint), \
                     CAST(coalesce(sum((SELECT sum(quantity_returned) FROM order_lines l \
                       WHERE l.order_id = o.id)), 0) AS bigint) \
                     FROM orders o WHERE o.placed_at >= ?1 AND o.placed_at < ?2",
                )),
                &[&from, &to],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
        let credit_notes: i64 = self.db.query_row(
            sql!("SELECT count(*) FROM credit_notes WHERE issued_at >= ?1 AND issued_at < ?2"),
            &[&from, &to],
            |r| r.get(0),
        )?;
        Ok(CancellationsAndReturns {
            orders: orders as u64,
            cancelled: cancelled as u64,
            with_returns: with_returns as u64,
            units_sold: sold,
            units_returned: returned,
            credit_notes: credit_notes as u64,
            cancellation_rate: ratio(cancelled as u64, orders as u64),
            return_rate: ratio(returned.max(0) as u64, sold.max(0) as u64),
        })
    }

    /// Tracked variants whose available stock covers fewer than
    /// `horizon_days` of sales at the rate of the `window_days` before
    /// `as_of`, fewest days first. Variants that sold nothing in the window
    /// are not at risk.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `window_days` or
    /// `horizon_days` outside 1 to 3660, or `as_of` outside the range of
    /// [`crate::time`].
    pub fn stock_out_risk(
        &self,
        as_of: DateTime<Utc>,
        window_days: i64,
        horizon_days: i64,
    ) -> Result<Vec<StockOutRisk>> {
        for (field, v) in [("window_days", window_days), ("horizon_days", horizon_days)] {
            if !(1..=3660).contains(&v) {
                return Err(Error::invalid(field, "must be 1 to 3660 days"));
            }
        }
        let as_of = crate::time::checked("as_of", as_of)?;
        let start = TimeBound(
            as_of
                .checked_sub_signed(chrono::Duration::days(window_days))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        );
        self.db.query_vec(
            sql!(concat!(
                "SELECT id, sku, available, units FROM (SELECT v.id, v.sku, \
                   CAST(coalesce((SELECT sum(on_hand - reserved) FROM stock_levels s \
                     WHERE s.variant_id = v.id), 0) AS bigint) AS available, \
                   CAST(sold.units AS bigint) AS units FROM product_variants v \
                 JOIN (SELECT l.variant_id, sum(l.quantity) units FROM order_lines l \
                       JOIN orders o ON o.id = l.order_id WHERE ",
                crate::order::counts_as_sale!(),
                " AND o.placed_at >= ?1 AND o.placed_at < ?2 \
                       GROUP BY l.variant_id) sold ON sold.variant_id = v.id \
                 WHERE v.track_stock = 1) AS risk \
                 WHERE available * ?3 < units * ?4 \
                 ORDER BY available * 1.0 / units, sku"
            )),
            &[&start, &as_of, &window_days, &horizon_days],
            |r| {
                let (available, sold): (i64, i64) = (r.get(2)?, r.get(3)?);
                let cover = (Decimal::from(available.max(0)) * Decimal::from(window_days)
                    / Decimal::from(sold))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
                Ok(StockOutRisk {
                    variant_id: r.get(0)?,
                    sku: r.get(1)?,
                    available,
                    units_sold: sold,
                    days_of_cover: cover,
                })
            },
        )
    }

    /// RFM scores of every customer with a paid order, as of `as_of`:
    /// quintiles (SQL `NTILE(5)`) of recency, frequency and net spend.
    /// Memory grows with the number of customers returned; use
    /// [`rfm_segments`](Reports::rfm_segments) for the counts only.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `as_of` outside
    /// the range of [`crate::time`]; a database error.
    pub fn rfm(&self, as_of: DateTime<Utc>) -> Result<Vec<RfmScore>> {
        let as_of = crate::time::checked("as_of", as_of)?;
        self.db.query_vec(
            sql!(sqlite: rfm_sql::RFM, postgres: rfm_sql::RFM_PG),
            &[&as_of],
            |r| {
                Ok(RfmScore {
                    customer_id: r.get(0)?,
                    recency_days: r.get(1)?,
                    frequency: r.get(2)?,
                    monetary: money::from_e4(r.get(3)?),
                    r: r.get(4)?,
                    f: r.get(5)?,
                    m: r.get(6)?,
                })
            },
        )
    }

    /// How many customers fall in each named RFM segment, largest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `as_of` outside
    /// the range of [`crate::time`]; a database error.
    pub fn rfm_segments(&self, as_of: DateTime<Utc>) -> Result<Vec<(String, u64)>> {
        let as_of = crate::time::checked("as_of", as_of)?;
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        self.db.query_each(
            sql!(
                sqlite: concat!("SELECT r, f, count(*) FROM (", rfm!(sqlite), ") AS scores GROUP BY 1, 2"),
                postgres: concat!("SELECT r, f, count(*) FROM (", rfm!(postgres), ") AS scores GROUP BY 1, 2"),
            ),
            &[&as_of],
            |row| {
                let (r, f, n): (u8, u8, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
                *counts.entry(rfm_segment(r, f)).or_default() += n as u64;
                Ok(())
            },
        )?;
        let mut out: Vec<(String, u64)> =
            counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }
}

pub(crate) mod rfm_sql {
    /// The RFM scores on SQLite ([`rfm!`]).
    pub(crate) const RFM: &str = rfm!(sqlite);
    /// The RFM scores on PostgreSQL.
    pub(crate) const RFM_PG: &str = rfm!(postgres);
}

crate::one_shot::one_shot! {
    /// Reports, each in its own read transaction: `store.reports().counts()`.
    StoreReports => write reports: Reports, read reports: Reports;
    write {}
    read {
        fn counts() -> Counts;
        fn revenue_by_period(period: Period, range: TimeRange) -> Vec<Revenue>;
        fn revenue_by_country(range: TimeRange, limit_rows: usize) -> Vec<Revenue>;
        fn top_customers(range: TimeRange, limit_rows: usize) -> Vec<Revenue>;
        fn revenue_by_product(range: TimeRange, limit_rows: usize) -> Vec<ProductSales>;
        fn average_order_value(range: TimeRange) -> Vec<AverageOrderValue>;
        fn repeat_purchase_rate(range: TimeRange) -> RepeatPurchase;
        fn cancellations_and_returns(range: TimeRange) -> CancellationsAndReturns;
        fn stock_out_risk(as_of: DateTime<Utc>, window_days: i64, horizon_days: i64) -> Vec<StockOutRisk>;
        fn rfm(as_of: DateTime<Utc>) -> Vec<RfmScore>;
        fn rfm_segments(as_of: DateTime<Utc>) -> Vec<(String, u64)>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Reports, each in its own read transaction.
    pub fn reports(&self) -> crate::report::StoreReports<'_> {
        crate::report::StoreReports::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Reports, on this unit of work's view.
    pub fn reports(&self) -> crate::report::Reports<'_> {
        crate::report::Reports::new(self.db())
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Reports.
    pub fn reports(&self) -> crate::report::Reports<'a> {
        crate::report::Reports::new(self.db())
    }
}
