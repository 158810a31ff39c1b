//! Every statement custdb runs in a broad workload (captured with the
//! statement log) is planned by SQLite without a full scan of a large
//! table, except the statements that read a whole table by design
//! (reports, exports, verification, duplicate scans), listed below with
//! their reason.

use custdb::ArchiveState;
use custdb::Currency;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use custdb::report::Period;
use custdb::*;

/// Tables that grow with the business: a scan of one is a bug unless the
/// statement is on the allowlist.
const LARGE: &[&str] = &[
    "customers",
    "customer_addresses",
    "customer_tags",
    "customer_interactions",
    "orders",
    "order_lines",
    "order_events",
    "payments",
    "shipments",
    "shipment_lines",
    "refunds",
    "returns",
    "return_lines",
    "stock_movements",
    "stock_reservations",
    "audit_log",
    "consent_events",
    "credit_notes",
    "import_keys",
    "customer_merges",
    "privacy_erasures",
];

/// Statements that read whole tables by design, recognized by a fragment
/// of their text, with the reason.
const BY_DESIGN: &[(&str, &str)] = &[
    (
        "strftime(",
        "revenue by period: a report over every order in the range",
    ),
    (
        "AS k, o.currency",
        "revenue reports group every order in the range",
    ),
    (
        "FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.status NOT IN",
        "product sales report",
    ),
    (
        "count(*), coalesce(sum(o.status = 'cancelled')",
        "cancellation report",
    ),
    (
        "GROUP BY o.customer_id",
        "repeat-purchase report and RFM rank every customer",
    ),
    ("WITH c AS (", "RFM ranks every customer"),
    ("ORDER BY placed_at, id", "order export streams every order"),
    (
        "ORDER BY o.placed_at, o.id, l.line_no",
        "order export streams every line",
    ),
    (
        "FROM audit_log AS chain ORDER BY seq",
        "audit verification walks the whole chain",
    ),
    (
        "WITH e AS (SELECT id, substr(email",
        "duplicate scan by email",
    ),
    ("SELECT phone, id, ''", "duplicate scan by phone"),
    ("upper(replace(a.postal_code", "duplicate scan by postcode"),
    (
        "SELECT o.currency, count(*), sum(o.total_e4)",
        "average order value",
    ),
    (
        "sum(l.quantity) units FROM order_lines",
        "stock-out risk: sales in the window",
    ),
    (
        "FROM customers c WHERE c.id > :after",
        "segment evaluation walks customers in id order (by index)",
    ),
    (
        "SELECT count(*) FROM credit_notes WHERE issued_at",
        "cancellation report",
    ),
    (
        "(SELECT count(*) FROM customers), (SELECT count(*) FROM orders)",
        "counts",
    ),
    ("SELECT count(*) FROM audit_log", "audit count"),
    (
        "FROM audit_log ORDER BY seq DESC LIMIT 1",
        "the last row of the rowid b-tree: one step",
    ),
    (
        "WHERE erased_at IS NULL AND max(updated_at",
        "retention: inactive customers",
    ),
    (
        "SELECT id FROM customers WHERE erased_at IS NULL AND",
        "retention: inactive customers",
    ),
    (
        "INSERT INTO payments_v16",
        "migration 16 copies every payment into the rebuilt table, once",
    ),
];

fn workload(store: &Store) {
    let now = Utc::now();
    let (ann, order) = store
        .write(|tx| {
            let c = tx.customers().create(
                NewCustomer::new("Ann Lee")
                    .email("ann@example.com")
                    .phone("+44 20 7946 0958")
                    .tag("vip"),
            )?;
            tx.customers().add_address(
                c.id,
                NewAddress::new(AddressKind::Shipping, "1 High St", "Bath", "GB")
                    .postal_code("BA1 1AA"),
            )?;
            tx.customers().add_interaction(
                c.id,
                NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Note)
                    .subject("Hi"),
            )?;
            let p =
                tx.catalog()
                    .create_product(NewProduct::new("Tea").variant(NewVariant::new(
                        "TEA",
                        Decimal::new(450, 2),
                        Currency::GBP,
                    )))?;
            let a = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("A", "A").priority(1))?;
            let b = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("B", "B").priority(2))?;
            tx.inventory().receive(p.variants[0].id, a.id, 100)?;
            tx.inventory().transfer(p.variants[0].id, a.id, b.id, 10)?;
            tx.inventory()
                .reserve(p.variants[0].id, a.id, 1, Some(now + Duration::hours(1)))?;
            let o = tx.orders().place(
                NewOrder::for_customer(c.id, Currency::GBP)
                    .line(NewOrderLine::new("TEA", 2))
                    .idempotency_key("k1"),
            )?;
            tx.orders()
                .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
            tx.orders()
                .ship(o.id, NewShipment::everything("DHL", "T1"))?;
            tx.orders().return_items(
                o.id,
                NewReturn::new("damaged").line(custdb::NewReturnLine::restocked("TEA", 1)),
            )?;
            tx.orders()
                .refund(o.id, NewRefund::new(Decimal::new(450, 2), "damaged"))?;
            let o2 = tx.orders().place(
                NewOrder::for_customer(c.id, Currency::GBP).line(NewOrderLine::new("TEA", 1)),
            )?;
            tx.orders().cancel(o2.id, "changed mind")?;
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            tx.consent().record(
                NewConsent::new(
                    c.id,
                    "marketing",
                    ConsentState::Given,
                    CollectionMethod::WebForm,
                )
                .notice("v1", "Offers"),
            )?;
            tx.access().grant("clerk", "sales")?;
            tx.inventory().release_expired(now + Duration::hours(2))?;
            Ok::<_, custdb::Error>((c.id, o.id))
        })
        .unwrap();
    store.customers().get(ann).unwrap();
    store.customers().get_by_email("ann@example.com").unwrap();
    store.customers().search("ann", 10).unwrap();
    store
        .customers()
        .list(
            &CustomerFilter::default().tag("vip").country("GB"),
            None,
            10,
        )
        .unwrap();
    store.customers().addresses(ann).unwrap();
    store.customers().interactions(ann, None, 10).unwrap();
    let c = store.customers().get(ann).unwrap();
    store
        .customers()
        .update(ann, c.version, CustomerPatch::default().company("Lee Ltd"))
        .unwrap();
    store
        .read(|r| {
            r.orders().get(order)?;
            r.catalog().products(ArchiveState::All, None, 10)?;
            r.orders().history(ann, None, 10)?;
            r.orders().by_status(OrderStatus::Refunded, None, 10)?;
            r.orders().lifetime_value(ann)?;
            r.orders()
                .sales_by_variant(now - Duration::days(1), now + Duration::days(1))?;
            r.orders().events(order)?;
            r.consent().can_process(ann, "marketing", now)?;
            r.consent().consenting("marketing", now, None, 10)?;
            r.consent().history(ann, None)?;
            r.privacy().export(ann)?;
            r.audit()
                .query(&AuditFilter::default().actor("system"), None, 10)?;
            r.audit().query(
                &AuditFilter::default().entity("customer", ann.to_string()),
                None,
                10,
            )?;
            r.audit().verify()?;
            r.inventory().replenishment_suggestions()?;
            r.inventory().low_stock()?;
            r.segments().evaluate(
                &Segment::default()
                    .country("GB")
                    .tag("vip")
                    .consents_to("marketing")
                    .min_orders(1),
                None,
                10,
            )?;
            r.reports()
                .revenue_by_period(Period::Month, custdb::TimeRange::all())?;
            r.reports().top_customers(custdb::TimeRange::all(), 10)?;
            r.reports().rfm(now)?;
            r.duplicates().candidates(10)?;
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    store
        .as_actor(&Actor::new("clerk", "Clerk").unwrap())
        .unwrap()
        .customers()
        .get(ann)
        .unwrap();
    // A consent-scoped actor's page: the scope is checked for the whole
    // page in one statement.
    store
        .write(|tx| tx.access().grant("mkt", "marketing").map(drop))
        .unwrap();
    store
        .as_actor(&Actor::new("mkt", "Marketer").unwrap())
        .unwrap()
        .customers()
        .list(&CustomerFilter::default(), None, 50)
        .unwrap();
    crate::common::import_retail_head(store);
    store.export_orders_jsonl(std::io::sink()).unwrap();
    let other = store.customers().create(NewCustomer::new("Gone")).unwrap();
    store.erase_customer(other.id).unwrap();
    store
        .write(|tx| {
            tx.privacy()
                .set_retention_rule(RetentionCategory::Interactions, 30)?;
            tx.privacy().plan_retention(now)
        })
        .unwrap();
}

fn is_query(sql: &str) -> bool {
    let head = sql.trim_start().to_ascii_uppercase();
    ["SELECT", "WITH", "UPDATE", "DELETE", "INSERT"]
        .iter()
        .any(|k| head.starts_with(k))
}

#[test]
fn no_statement_scans_a_large_table() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(BTreeSet::new()));
    let store = Store::open_with(
        dir.path().join("plans.db"),
        Options::default().statement_log(log.clone()),
    )
    .unwrap();
    workload(&store);
    let statements: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| is_query(s))
        .cloned()
        .collect();
    assert!(
        statements.len() > 100,
        "the workload ran {} statements",
        statements.len()
    );
    eprintln!(
        "broad workload: {} distinct statements",
        log.lock().unwrap().len()
    );
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("plans.db")).unwrap();
    // First without ANALYZE: without statistics SQLite plans as if every
    // table were large.
    let mut problems = plan_problems(&conn, &statements);
    // Then with the statistics of a realistic database (a generated one at
    // 100,000 customers): with them the planner weighs indexes by their
    // real selectivity, and can choose differently. A customer page once
    // planned well on this small file and sorted every customer at 10
    // million; these statistics make this test see that plan.
    conn.execute_batch("ANALYZE; DELETE FROM sqlite_stat1;")
        .unwrap();
    let stats = include_str!("../fixtures/stat1-100k.txt");
    for line in stats.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.splitn(3, '|').collect();
        let [table, index, stat] = fields[..] else {
            panic!("a stat1 line: {line}");
        };
        conn.execute(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, nullif(?2, ''), ?3)",
            [table, index, stat],
        )
        .unwrap();
    }
    conn.execute_batch("ANALYZE sqlite_schema").unwrap();
    for problem in plan_problems(&conn, &statements) {
        problems.push(format!("with realistic statistics: {problem}"));
    }
    assert!(
        problems.is_empty(),
        "full scans of large tables:\n{}",
        problems.join("\n")
    );
}

/// Pages that are sorted by design, recognized by a fragment of their
/// text, with the reason.
const SORTED_BY_DESIGN: &[(&str, &str)] = &[(
    "ORDER BY bm25(",
    "full-text search ranks its matches by relevance: the sort is over the \
     matches of the terms, found through the full-text index, not over the table",
)];

/// The aliases a statement gives its tables (`FROM orders o`, `JOIN
/// order_lines AS l`), alias to table.
fn aliases(sql: &str) -> std::collections::HashMap<String, String> {
    const NOT_ALIASES: &[&str] = &[
        "WHERE", "JOIN", "LEFT", "INNER", "CROSS", "ON", "USING", "ORDER", "GROUP", "LIMIT", "SET",
        "WINDOW", "UNION", "HAVING", "INDEXED", "NOT", "VALUES",
    ];
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = std::collections::HashMap::new();
    for (i, w) in words.iter().enumerate() {
        if !(w.eq_ignore_ascii_case("FROM") || w.eq_ignore_ascii_case("JOIN")) {
            continue;
        }
        let Some(table) = words.get(i + 1) else {
            continue;
        };
        let mut next = i + 2;
        if words
            .get(next)
            .is_some_and(|w| w.eq_ignore_ascii_case("AS"))
        {
            next += 1;
        }
        if let Some(alias) = words.get(next) {
            let upper = alias.to_ascii_uppercase();
            if !NOT_ALIASES.contains(&upper.as_str())
                && alias.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                out.insert((*alias).to_owned(), (*table).to_owned());
            }
        }
    }
    out
}

/// Full scans of large tables, and pages sorted in a temporary B-tree, in
/// the plans of `statements`.
fn plan_problems(conn: &rusqlite::Connection, statements: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for sql in statements {
        if BY_DESIGN.iter().any(|(fragment, _)| sql.contains(fragment)) {
            continue;
        }
        let aliases = aliases(sql);
        // A plan names a table by its alias when it has one.
        let large = |name: &str| {
            let table = aliases.get(name).map_or(name, String::as_str);
            LARGE.contains(&table)
        };
        let mut stmt = match conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) {
            Ok(s) => s,
            Err(e) => panic!("cannot plan {sql}: {e}"),
        };
        let mut rows = stmt.raw_query();
        let mut reads_large = false;
        let mut sorts = false;
        while let Some(row) = rows.next().unwrap() {
            let detail: String = row.get(3).unwrap();
            if detail.starts_with("USE TEMP B-TREE FOR ORDER BY") {
                sorts = true;
            }
            if let Some(rest) = detail
                .strip_prefix("SEARCH ")
                .or_else(|| detail.strip_prefix("SCAN "))
            {
                if large(rest.split_whitespace().next().unwrap_or("")) {
                    reads_large = true;
                }
            }
            let scanned = detail
                .strip_prefix("SCAN ")
                .map(|rest| rest.split_whitespace().next().unwrap_or(""));
            if let Some(table) = scanned {
                let uses_index = detail.contains("USING INDEX")
                    || detail.contains("USING COVERING INDEX")
                    || detail.contains("USING INTEGER PRIMARY KEY");
                if large(table) && !uses_index {
                    problems.push(format!("{detail}\n    in: {sql}"));
                }
            }
        }
        // A page (an outer LIMIT) of a large table sorted in a temporary
        // B-tree reads every matching row to return a few: the order must
        // come from an index. (A LIMIT inside a subquery is not a page.)
        let paged = sql
            .rsplit_once("LIMIT")
            .is_some_and(|(_, tail)| !tail.contains(')'));
        let sorted_by_design = SORTED_BY_DESIGN.iter().any(|(f, _)| sql.contains(f));
        if sorts && reads_large && paged && !sorted_by_design {
            problems.push(format!(
                "a page sorted in a temporary B-tree\n    in: {sql}"
            ));
        }
    }
    problems
}

/// The statements of the day-to-day paths fit the per-connection statement
/// cache with room to spare, so reports and imports passing through do not
/// push them out and make every order parse its SQL again.
#[test]
fn hot_paths_fit_the_statement_cache() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(BTreeSet::new()));
    let store = Store::open_with(
        dir.path().join("hot.db"),
        Options::default().statement_log(log.clone()),
    )
    .unwrap();
    let now = Utc::now();
    let customer = store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            crate::common::stock_tea(tx, "A", 100)?;
            Ok::<_, custdb::Error>(
                tx.customers()
                    .create(NewCustomer::new("Ann Lee").email("ann@example.com"))?
                    .id,
            )
        })
        .unwrap();
    log.lock().unwrap().clear();
    // The day-to-day paths, twice (the second time from the cache).
    for _ in 0..2 {
        store.customers().get(customer).unwrap();
        store.customers().get_by_email("ann@example.com").unwrap();
        store.customers().search("ann", 10).unwrap();
        let c = store
            .customers()
            .create(NewCustomer::new("Bo").tag("new"))
            .unwrap();
        store
            .customers()
            .update(c.id, c.version, CustomerPatch::default().company("Bo Ltd"))
            .unwrap();
        store
            .write(|tx| {
                let o = tx.orders().place(
                    NewOrder::for_customer(customer, Currency::GBP)
                        .line(NewOrderLine::new("TEA", 1)),
                )?;
                tx.orders()
                    .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
                tx.orders()
                    .ship(o.id, NewShipment::everything("DHL", "T1"))?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        store
            .read(|r| {
                r.orders().history(customer, None, 20)?;
                r.consent().can_process(customer, "marketing", now)?;
                r.inventory().low_stock()
            })
            .unwrap();
    }
    let hot = log.lock().unwrap().len();
    assert!(
        hot * 2 <= STATEMENT_CACHE_CAPACITY,
        "the day-to-day paths use {hot} distinct statements; the cache holds {STATEMENT_CACHE_CAPACITY}"
    );
    eprintln!("day-to-day paths: {hot} distinct statements");
}
