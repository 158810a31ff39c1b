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

use crate::id::RowIds;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use rust_decimal::Decimal;

use crate::audit::Change;
use crate::error::DbResult;
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

/// The SQL and its parameters for a segment.
struct Query {
    sql: String,
    params: Vec<(&'static str, Box<dyn ToSql>)>,
}

fn build(conn: &Connection, s: &Segment, after: &str, limit: usize) -> Result<Query> {
    let mut sql = String::new();
    let mut params: Vec<(&'static str, Box<dyn ToSql>)> = vec![
        (":after", Box::new(after.to_owned())),
        (":limit", Box::new((limit + 1) as i64)),
    ];
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
        sql.push_str(&format!(
            "WITH rfm AS ({}) ",
            crate::report::sql::RFM.replace("?1", ":rfm_at")
        ));
        let as_of = crate::time::checked("rfm.as_of", rfm.as_of)?;
        params.push((":rfm_at", Box::new(crate::time::to_db(&as_of))));
    }
    sql.push_str("SELECT c.id FROM customers c ");
    if let Some(rfm) = &s.rfm {
        sql.push_str(
            "JOIN rfm ON rfm.id = c.id AND rfm.r >= :rmin AND rfm.f >= :fmin AND rfm.m >= :mmin ",
        );
        params.push((":rmin", Box::new(rfm.min_r)));
        params.push((":fmin", Box::new(rfm.min_f)));
        params.push((":mmin", Box::new(rfm.min_m)));
    }
    sql.push_str("WHERE c.id > :after AND c.erased_at IS NULL AND c.merged_into IS NULL");
    if !s.include_archived {
        sql.push_str(" AND c.archived_at IS NULL");
    }
    if let Some(country) = &s.country {
        let code = validate::country("country", country)?;
        sql.push_str(
            " AND (EXISTS (SELECT 1 FROM customer_addresses a WHERE a.customer_id = c.id AND a.country = :country) \
             OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.country = :country))",
        );
        params.push((":country", Box::new(code)));
    }
    if let Some(tag) = &s.tag {
        let tag = validate::tag("tag", tag)?;
        sql.push_str(" AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = :tag)");
        params.push((":tag", Box::new(tag)));
    }
    if let Some(spend) = &s.spend {
        let currency = spend.currency;
        let min = currency.payable("spend.min", spend.min)?;
        sql.push_str(&format!(
            " AND (SELECT coalesce(sum(o.total_e4 - o.refunded_e4), 0) FROM orders o \
             WHERE o.customer_id = c.id AND o.currency = :scur AND {paid} \
             AND o.placed_at >= :sfrom AND o.placed_at < :sto) >= :smin"
        ));
        params.push((":scur", Box::new(currency.code())));
        params.push((":smin", Box::new(min)));
        params.push((
            ":sfrom",
            Box::new(spend.from.map_or_else(String::new, crate::time::bound)),
        ));
        params.push((
            ":sto",
            Box::new(spend.to.map_or_else(|| "~".to_owned(), crate::time::bound)),
        ));
    }
    if s.min_orders.is_some() || s.max_orders.is_some() {
        let min = s.min_orders.unwrap_or(0);
        let max = s.max_orders.unwrap_or(u32::MAX);
        if min > max {
            return Err(Error::invalid("min_orders", "is above max_orders"));
        }
        sql.push_str(&format!(
            " AND (SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND {paid}) BETWEEN :omin AND :omax"
        ));
        params.push((":omin", Box::new(min)));
        params.push((":omax", Box::new(max)));
    }
    if s.last_order_after.is_some() || s.last_order_before.is_some() {
        sql.push_str(&format!(
            " AND (SELECT max(o.placed_at) FROM orders o WHERE o.customer_id = c.id AND {paid}) \
             >= :lafter AND (SELECT max(o.placed_at) FROM orders o WHERE o.customer_id = c.id AND {paid}) < :lbefore"
        ));
        params.push((
            ":lafter",
            Box::new(
                s.last_order_after
                    .map_or_else(String::new, crate::time::bound),
            ),
        ));
        params.push((
            ":lbefore",
            Box::new(
                s.last_order_before
                    .map_or_else(|| "~".to_owned(), crate::time::bound),
            ),
        ));
    }
    if let Some(purpose) = &s.consents_to {
        crate::consent::ConsentReader::new(crate::db::Conn::sqlite(conn))
            .purpose(purpose)
            .map_err(|_| {
                Error::invalid(
                    "consents_to",
                    format!("{purpose:?} is not a registered purpose"),
                )
            })?;
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM consent_events e WHERE e.customer_id = c.id \
             AND e.purpose_id = :purpose AND e.state = 'given' AND e.occurred_at <= :now \
             AND (e.valid_until IS NULL OR e.valid_until > :now) \
             AND e.seq = (SELECT e2.seq FROM consent_events e2 WHERE e2.customer_id = c.id \
               AND e2.purpose_id = :purpose AND e2.occurred_at <= :now \
               ORDER BY e2.occurred_at DESC, e2.seq DESC LIMIT 1))",
        );
        params.push((":purpose", Box::new(purpose.clone())));
        params.push((":now", Box::new(crate::time::to_db(&crate::time::now()))));
    }
    sql.push_str(" ORDER BY c.id LIMIT :limit");
    Ok(Query { sql, params })
}

/// Evaluating and reading saved segments.
#[derive(Debug)]
pub struct SegmentReader<'a> {
    db: crate::db::Conn<'a>,
}

impl<'a> SegmentReader<'a> {
    pub(crate) fn new(db: crate::db::Conn<'a>) -> Self {
        SegmentReader { db }
    }

    /// The SQLite connection, until this domain is written against the
    /// engine seam.
    #[allow(dead_code)]
    fn conn(&self) -> Result<&'a Connection> {
        self.db.as_sqlite("this operation")
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
            Some(c) => c.key()?.to_owned(),
            None => String::new(),
        };
        let q = build(self.conn()?, segment, &after, limit)?;
        let mut stmt = self.conn()?.prepare_cached(&q.sql).db()?;
        let named: Vec<(&str, &dyn ToSql)> =
            q.params.iter().map(|(n, v)| (*n, v.as_ref())).collect();
        let ids = stmt
            .query_map(named.as_slice(), |r| r.get_id::<CustomerId>(0))
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(into_page(ids, limit, |id| id.to_string()))
    }

    /// A saved segment's definition.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    pub fn saved(&self, name: &str) -> Result<Segment> {
        let json: String = self
            .conn()?
            .prepare_cached("SELECT definition FROM saved_segments WHERE name = ?1")
            .db()?
            .query_row([name], |r| r.get(0))
            .optional()
            .db()?
            .ok_or_else(|| Error::not_found("segment", name))?;
        serde_json::from_str(&json).stored()
    }

    /// The names of the saved segments.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn names(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()?
            .prepare_cached("SELECT name FROM saved_segments ORDER BY name")
            .db()?;
        let rows = stmt.query_map([], |r| r.get(0)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()
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
            build(self.tx.conn()?, segment, "", 1)?;
            let now = crate::time::to_db(&self.tx.now());
            self.tx
                .conn()?
                .prepare_cached(
                    "INSERT INTO saved_segments (name, definition, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE SET definition = ?2, updated_at = ?3",
                ).db()?
                .execute(params![name, serde_json::to_string(segment).written()?, now]).db()?;
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
