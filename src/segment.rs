//! Segments: combinable customer filters, evaluated in SQL as one query,
//! paginated by customer id; and segments saved by name.
//!
//! Every filter that is set must hold (they combine with AND). Erased and
//! merged customers are never in a segment; archived ones only with
//! `include_archived`.
//!
//! # Example
//!
//! ```
//! use custdb::{NewCustomer, Segment, Store};
//!
//! let store = Store::open_in_memory()?;
//! store.customers().create(NewCustomer::new("Ann").tag("vip"))?;
//! store.customers().create(NewCustomer::new("Bob"))?;
//! let vips = store.read(|r| r.segments().evaluate(&Segment::default().tag("vip"), None, 50))?;
//! assert_eq!(vips.items.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::audit::Change;
use crate::db::{sql, Conn, Json, Sql, TimeBound, ToValue};
use crate::error::JsonResult;
use crate::error::{Error, Result};
use crate::id::CustomerId;
use crate::money::Currency;
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::unit::WriteTx;
use crate::validate;

/// Net spend in a period, at least `min`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct SpendFilter {
    /// The least net spend (orders minus refunds).
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub min: Decimal,
    /// In this currency (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// Orders placed at or after.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Orders placed before.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(SpendFilter);

/// RFM scores at least these (1 to 5 each; 1 lets everyone through).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct RfmFilter {
    /// Scores as of.
    pub as_of: DateTime<Utc>,
    /// Least recency score.
    #[serde(default = "one")]
    pub min_r: u8,
    /// Least frequency score.
    #[serde(default = "one")]
    pub min_f: u8,
    /// Least monetary score.
    #[serde(default = "one")]
    pub min_m: u8,
}
crate::input::strict_serde!(RfmFilter);

fn one() -> u8 {
    1
}

/// A segment: the customers every set filter lets through.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Segment {
    /// An address in, or an order to, this country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Carries this tag.
    pub tag: Option<String>,
    /// Spent at least this much.
    pub spend: Option<SpendFilter>,
    /// At least this many paid orders.
    pub min_orders: Option<u32>,
    /// At most this many paid orders.
    pub max_orders: Option<u32>,
    /// Last paid order at or after.
    pub last_order_after: Option<DateTime<Utc>>,
    /// Last paid order before (customers without orders do not match).
    pub last_order_before: Option<DateTime<Utc>>,
    /// Consents now (given, not expired) to this purpose.
    pub consents_to: Option<String>,
    /// RFM scores at least these.
    pub rfm: Option<RfmFilter>,
    /// Archived customers too.
    pub include_archived: bool,
}
crate::input::strict_serde!(Segment);

impl Segment {
    /// Customers with an address in, or an order to, the country.
    pub fn country(mut self, code: impl Into<String>) -> Self {
        self.country = Some(code.into());
        self
    }

    /// Customers with the tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Customers whose net spend passes the filter:
    /// `Segment::default().spend(SpendFilter::at_least(d, Currency::GBP).placed_from(t))`.
    pub fn spend(mut self, filter: SpendFilter) -> Self {
        self.spend = Some(filter);
        self
    }

    /// Customers with at least `n` paid orders.
    pub fn min_orders(mut self, n: u32) -> Self {
        self.min_orders = Some(n);
        self
    }

    /// Customers with at most `n` paid orders (0: customers who never
    /// ordered).
    pub fn max_orders(mut self, n: u32) -> Self {
        self.max_orders = Some(n);
        self
    }

    /// Customers whose last order is at or after `at`.
    pub fn last_order_from(mut self, at: DateTime<Utc>) -> Self {
        self.last_order_after = Some(at);
        self
    }

    /// Customers whose last order is before `at`.
    pub fn last_order_before(mut self, at: DateTime<Utc>) -> Self {
        self.last_order_before = Some(at);
        self
    }

    /// Customers who consent to the purpose now.
    pub fn consents_to(mut self, purpose: impl Into<String>) -> Self {
        self.consents_to = Some(purpose.into());
        self
    }

    /// Customers whose RFM scores pass the filter:
    /// `Segment::default().rfm(RfmFilter::as_of(t).min_recency(4))`.
    pub fn rfm(mut self, filter: RfmFilter) -> Self {
        self.rfm = Some(filter);
        self
    }
}

impl SpendFilter {
    /// A net spend (orders minus refunds) of at least `min` in `currency`,
    /// over all time unless bounded.
    pub fn at_least(min: Decimal, currency: Currency) -> Self {
        SpendFilter {
            min,
            currency,
            from: None,
            to: None,
        }
    }

    /// Counts orders placed at or after `at`.
    pub fn placed_from(mut self, at: DateTime<Utc>) -> Self {
        self.from = Some(at);
        self
    }

    /// Counts orders placed before `at`.
    pub fn placed_before(mut self, at: DateTime<Utc>) -> Self {
        self.to = Some(at);
        self
    }
}

impl RfmFilter {
    /// Scores as of `at`, every minimum 1 (everyone passes) until raised.
    pub fn as_of(at: DateTime<Utc>) -> Self {
        RfmFilter {
            as_of: at,
            min_r: 1,
            min_f: 1,
            min_m: 1,
        }
    }

    /// The least recency score (1 to 5).
    pub fn min_recency(mut self, score: u8) -> Self {
        self.min_r = score;
        self
    }

    /// The least frequency score (1 to 5).
    pub fn min_frequency(mut self, score: u8) -> Self {
        self.min_f = score;
        self
    }

    /// The least monetary score (1 to 5).
    pub fn min_monetary(mut self, score: u8) -> Self {
        self.min_m = score;
        self
    }
}

/// Longest segment name.
pub const MAX_SEGMENT_NAME_LEN: usize = 64;

/// The SQL and its parameters for a segment: the text in the engine's
/// dialect, with numbered placeholders.
struct Query {
    sql: String,
    params: Vec<Box<dyn ToValue>>,
}

impl Query {
    /// Adds a parameter; its placeholder.
    fn param(&mut self, value: impl ToValue + 'static) -> String {
        self.params.push(Box::new(value));
        format!("?{}", self.params.len())
    }
}

fn build(db: Conn<'_>, s: &Segment, after: CustomerId, limit: usize) -> Result<Query> {
    let mut q = Query {
        sql: String::new(),
        params: Vec::new(),
    };
    let paid = crate::order::counts_as_sale!();
    if let Some(rfm) = &s.rfm {
        for (field, v) in [
            ("rfm.min_r", rfm.min_r),
            ("rfm.min_f", rfm.min_f),
            ("rfm.min_m", rfm.min_m),
        ] {
            if !(1..=5).contains(&v) {
                return Err(Error::invalid(field, "must be 1 to 5"));
            }
        }
        let as_of = crate::time::checked("rfm.as_of", rfm.as_of)?;
        let at = q.param(as_of);
        // The scores' statement uses ?1 for the instant, which is also
        // the first parameter here.
        debug_assert_eq!(at, "?1");
        let scores = if db.is_postgres() {
            crate::report::rfm_sql::RFM_PG
        } else {
            crate::report::rfm_sql::RFM
        };
        q.sql.push_str(&format!("WITH rfm AS ({scores}) "));
    }
    q.sql.push_str("SELECT c.id FROM customers c ");
    if let Some(rfm) = &s.rfm {
        let (r, f, m) = (
            q.param(i64::from(rfm.min_r)),
            q.param(i64::from(rfm.min_f)),
            q.param(i64::from(rfm.min_m)),
        );
        q.sql.push_str(&format!(
            "JOIN rfm ON rfm.id = c.id AND rfm.r >= {r} AND rfm.f >= {f} AND rfm.m >= {m} "
        ));
    }
    let after = q.param(after);
    q.sql.push_str(&format!(
        "WHERE c.id > {after} AND c.erased_at IS NULL AND c.merged_into IS NULL"
    ));
    if !s.include_archived {
        q.sql.push_str(" AND c.archived_at IS NULL");
    }
    if let Some(country) = &s.country {
        let code = q.param(validate::country("country", country)?);
        q.sql.push_str(&format!(
            " AND (EXISTS (SELECT 1 FROM customer_addresses a WHERE a.customer_id = c.id \
             AND a.country = {code}) \
             OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.country = {code}))"
        ));
    }
    if let Some(tag) = &s.tag {
        let tag = q.param(validate::tag("tag", tag)?);
        q.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = {tag})"
        ));
    }
    if let Some(spend) = &s.spend {
        let currency = spend.currency;
        let min = currency.payable("spend.min", spend.min)?;
        let (cur, min, from, to) = (
            q.param(currency.code().to_owned()),
            q.param(min),
            q.param(TimeBound(spend.from.unwrap_or(DateTime::<Utc>::MIN_UTC))),
            q.param(TimeBound(spend.to.unwrap_or(DateTime::<Utc>::MAX_UTC))),
        );
        q.sql.push_str(&format!(
            " AND (SELECT CAST(coalesce(sum(o.total_e4 - o.refunded_e4), 0) AS bigint) \
             FROM orders o WHERE o.customer_id = c.id AND o.currency = {cur} AND {paid} \
             AND o.placed_at >= {from} AND o.placed_at < {to}) >= {min}"
        ));
    }
    if s.min_orders.is_some() || s.max_orders.is_some() {
        let min = s.min_orders.unwrap_or(0);
        let max = s.max_orders.unwrap_or(u32::MAX);
        if min > max {
            return Err(Error::invalid("min_orders", "is above max_orders"));
        }
        let (min, max) = (q.param(i64::from(min)), q.param(i64::from(max)));
        q.sql.push_str(&format!(
            " AND (SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND {paid}) \
             BETWEEN {min} AND {max}"
        ));
    }
    if s.last_order_after.is_some() || s.last_order_before.is_some() {
        let (after, before) = (
            q.param(TimeBound(
                s.last_order_after.unwrap_or(DateTime::<Utc>::MIN_UTC),
            )),
            q.param(TimeBound(
                s.last_order_before.unwrap_or(DateTime::<Utc>::MAX_UTC),
            )),
        );
        q.sql.push_str(&format!(
            " AND (SELECT max(o.placed_at) FROM orders o WHERE o.customer_id = c.id AND {paid}) \
             >= {after} AND (SELECT max(o.placed_at) FROM orders o WHERE o.customer_id = c.id \
             AND {paid}) < {before}"
        ));
    }
    if let Some(purpose) = &s.consents_to {
        crate::consent::ConsentReader::new(db)
            .purpose(purpose)
            .map_err(|_| {
                Error::invalid(
                    "consents_to",
                    format!("{purpose:?} is not a registered purpose"),
                )
            })?;
        let (purpose, now) = (q.param(purpose.clone()), q.param(crate::time::now()));
        q.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM consent_events e WHERE e.customer_id = c.id \
             AND e.purpose_id = {purpose} AND e.state = 'given' AND e.occurred_at <= {now} \
             AND (e.valid_until IS NULL OR e.valid_until > {now}) \
             AND e.seq = (SELECT e2.seq FROM consent_events e2 WHERE e2.customer_id = c.id \
               AND e2.purpose_id = {purpose} AND e2.occurred_at <= {now} \
               ORDER BY e2.occurred_at DESC, e2.seq DESC LIMIT 1))"
        ));
    }
    let limit = q.param((limit + 1) as i64);
    q.sql.push_str(&format!(" ORDER BY c.id LIMIT {limit}"));
    Ok(q)
}

/// Evaluating and reading saved segments.
#[derive(Debug)]
pub struct SegmentReader<'a> {
    db: Conn<'a>,
}

impl<'a> SegmentReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        SegmentReader { db }
    }

    /// The customers in the segment, by id, a page at a time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming the filter
    /// (`country`, `tag`, `spend.currency`, `spend.min`, `min_orders`,
    /// `consents_to`, `rfm.min_r`, ...), a bad cursor or limit.
    pub fn evaluate(
        &self,
        segment: &Segment,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<CustomerId>> {
        let limit = check_limit(limit)?;
        let after = match after {
            Some(c) => CustomerId::parse(c.key()?, "cursor")?,
            None => CustomerId::from_uuid(uuid::Uuid::nil()),
        };
        let q = build(self.db, segment, after, limit)?;
        let params: Vec<&dyn ToValue> = q.params.iter().map(|p| p.as_ref()).collect();
        let ids = self
            .db
            .query_vec(&Sql::dynamic(q.sql), &params, |r| r.get::<CustomerId>(0))?;
        Ok(into_page(ids, limit, |id| id.to_string()))
    }

    /// A saved segment's definition.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    pub fn saved(&self, name: &str) -> Result<Segment> {
        let json: String = self
            .db
            .query_opt(
                sql!("SELECT definition FROM saved_segments WHERE name = ?1"),
                &[&name],
                |r| r.get(0),
            )?
            .ok_or_else(|| Error::not_found("segment", name))?;
        serde_json::from_str(&json).stored()
    }

    /// The names of the saved segments.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn names(&self) -> Result<Vec<String>> {
        self.db.query_vec(
            sql!("SELECT name FROM saved_segments ORDER BY name"),
            &[],
            |r| r.get(0),
        )
    }

    /// Evaluates a saved segment.
    ///
    /// # Errors
    ///
    /// As [`saved`](SegmentReader::saved) and
    /// [`evaluate`](SegmentReader::evaluate).
    pub fn evaluate_saved(
        &self,
        name: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<CustomerId>> {
        self.evaluate(&self.saved(name)?, after, limit)
    }
}

/// Saving segments, inside a unit of work.
#[derive(Debug)]
pub struct Segments<'t> {
    tx: &'t WriteTx<'t>,
    reader: SegmentReader<'t>,
}

impl<'t> std::ops::Deref for Segments<'t> {
    type Target = SegmentReader<'t>;
    fn deref(&self) -> &SegmentReader<'t> {
        &self.reader
    }
}

impl<'t> Segments<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Segments {
            tx,
            reader: SegmentReader::new(tx.db()),
        }
    }

    /// Saves (or replaces) a segment under a name, after checking that it
    /// evaluates.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `name` or any
    /// filter.
    pub fn save(&self, name: &str, segment: &Segment) -> Result<()> {
        self.tx.atomic(|| {
            let name = validate::required_text("name", name, MAX_SEGMENT_NAME_LEN)?;
            build(
                self.tx.db(),
                segment,
                CustomerId::from_uuid(uuid::Uuid::nil()),
                1,
            )?;
            let definition = serde_json::to_string(segment).written()?;
            self.tx.db().execute(
                sql!(
                    "INSERT INTO saved_segments (name, definition, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE SET definition = ?2, \
                     updated_at = ?3"
                ),
                &[&name, &Json(&definition), &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "save",
                entity_type: "segment",
                entity_id: &name,
                changed_fields: &["definition"],
            })
        })
    }
}

crate::one_shot::one_shot! {
    /// Segments for single operations: `store.segments().evaluate(..)`.
    StoreSegments => write segments: Segments, read segments: SegmentReader;
    write {
        fn save(name: &str, segment: &Segment) -> ();
    }
    read {
        fn evaluate(segment: &Segment, after: Option<&Cursor>, limit: usize) -> Page<CustomerId>;
        fn saved(name: &str) -> Segment;
        fn names() -> Vec<String>;
        fn evaluate_saved(name: &str, after: Option<&Cursor>, limit: usize) -> Page<CustomerId>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Segments for one-shot calls.
    pub fn segments(&self) -> crate::segment::StoreSegments<'_> {
        crate::segment::StoreSegments::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Saving segments.
    pub fn segments(&self) -> crate::segment::Segments<'_> {
        crate::segment::Segments::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Segments: evaluation and saved definitions.
    pub fn segments(&self) -> crate::segment::SegmentReader<'a> {
        crate::segment::SegmentReader::new(self.db())
    }
}
