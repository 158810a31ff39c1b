//! Customer create, get and search, and order placement (1, 5 and 15
//! lines) and payment, on PostgreSQL, each beside a raw `postgres`-crate
//! baseline that runs the same statement texts (custdb's own, with the
//! same `$N` placeholders custdb derives, and its row locks) on the same
//! server, and beside custdb on an SQLite file.
//!
//! ```text
//! cargo bench --features bench-internals,postgres --bench postgres
//! ```
//!
//! The server is the tests' throwaway cluster (`custdb-pgcluster`), local,
//! over its Unix socket. It runs with `fsync` off (a server setting that
//! only a restart changes), so a commit does not wait for the disk; the
//! SQLite store beside it runs at `Durability::Normal`, which does not
//! either. custdb and the raw baseline share the server, so their ratio
//! is unaffected. Without PostgreSQL's server binaries the benchmark says
//! so and measures nothing. docs/PERFORMANCE.md records the results and
//! the ratios.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, SubsecRound, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use custdb::audit::sql as audit_sql;
use custdb::catalog::sql as cat_sql;
use custdb::changes::sql as changes_sql;
use custdb::customer::sql;
use custdb::inventory::sql as inv_sql;
use custdb::loyalty::sql as loyalty_sql;
use custdb::order::fulfilment::sql as pay_sql;
use custdb::order::sql as order_sql;
use custdb::{postgres_text, CustomerId, Store};

mod common;
use common::people::{new_customer, person};
use common::shop::{order_of, sku};
use postgres::{Client, NoTls, Statement};

/// Customers in the database the read benchmarks query.
const POPULATION: usize = 10_000;

/// Hand-written `postgres`-crate code with its own cache of prepared
/// statements, as an application would keep them.
struct Raw {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Raw {
    fn connect(connection: &str) -> Raw {
        Raw {
            client: Client::connect(connection, NoTls).unwrap(),
            statements: HashMap::new(),
        }
    }

    fn statement(&mut self, sqlite: &'static str) -> Statement {
        if let Some(s) = self.statements.get(sqlite) {
            return s.clone();
        }
        let s = self.client.prepare(&postgres_text(sqlite)).unwrap();
        self.statements.insert(sqlite, s.clone());
        s
    }

    /// The unit of work's commit. custdb then wakes its chainer thread,
    /// which chains the entry off the caller's path; the baseline leaves
    /// its entries unchained, for the verification at the end (custdb's
    /// `verify_audit` chains them first), so that custdb's side does
    /// strictly more work than the baseline's.
    fn commit(&mut self) {
        self.client.batch_execute("COMMIT").unwrap();
    }

    /// The statements custdb runs to create the customer, in one READ
    /// COMMITTED transaction: the email check, the row, the tag, then the
    /// audit entry inserted unchained under the chain's lock taken shared;
    /// the commit.
    fn create(&mut self, n: usize) -> CustomerId {
        let (given, family, email) = person(n);
        let id = CustomerId::new();
        let uuid: uuid::Uuid = id.to_string().parse().unwrap();
        // Microseconds, the stored precision, as custdb's transaction time.
        let now = Utc::now().trunc_subsecs(6);
        let taken_sql = self.statement(sql::EMAIL_TAKEN);
        let insert = self.statement(sql::INSERT);
        let insert_tag = self.statement(sql::INSERT_TAG);
        let insert_audit = self.statement(audit_sql::INSERT_UNCHAINED);
        let insert_events = self.statement(changes_sql::INSERT_EVENTS_PG);
        // custdb's unit of work: its BEGIN, then its statements.
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .unwrap();
        let tx = &mut self.client;
        let taken: bool = tx.query_one(&taken_sql, &[&email, &uuid]).unwrap().get(0);
        assert!(!taken);
        let attributes = serde_json::json!({});
        tx.execute(
            &insert,
            &[
                &uuid,
                &format!("{given} {family}"),
                &given,
                &family,
                &email,
                &None::<String>,
                &"Example Ltd",
                &None::<String>,
                &None::<NaiveDate>,
                &None::<String>,
                &attributes,
                &None::<String>,
                &now,
            ],
        )
        .unwrap();
        tx.execute(&insert_tag, &[&uuid, &"bench"]).unwrap();
        let fields = r#"["display_name","given_name","family_name","email","company","tags"]"#;
        audit(
            tx,
            &insert_audit,
            now,
            "create",
            "customer",
            &id.to_string(),
            fields,
        );
        let facts = serde_json::json!({"v": 1, "fields": serde_json::from_str::<serde_json::Value>(fields).unwrap()});
        events(
            tx,
            &insert_events,
            now,
            &[("customer.created", id.to_string(), facts)],
        );
        self.commit();
        id
    }

    /// The statements custdb's one-shot `place` runs on PostgreSQL, in the
    /// same order: the customer check, the default addresses, each variant
    /// by SKU and its product's name, each tracked variant's stock rows
    /// locked in id order, the order row (its number from the identity), then per
    /// line the line row, the allocation read, the balance check (locking
    /// its row), the reservation movement and the reservation row; the
    /// event; the audit entry at commit; the order and its lines read back.
    fn place(&mut self, customer: uuid::Uuid, lines: usize) -> uuid::Uuid {
        let now = Utc::now().trunc_subsecs(6);
        let version_of = self.statement(sql::VERSION_OF);
        let addresses = self.statement(order_sql::DEFAULT_ADDRESSES);
        let by_sku = self.statement(cat_sql::VARIANT_BY_SKU);
        let product_name = self.statement(cat_sql::PRODUCT_NAME);
        let stock_lock = self.statement(order_sql::LOCK_STOCK_OF_VARIANT);
        let insert_order = self.statement(order_sql::INSERT_ORDER_PG);
        let insert_line = self.statement(order_sql::INSERT_LINE);
        let allocation = self.statement(inv_sql::ALLOCATION);
        let balance = self.statement(inv_sql::BALANCE_PG);
        let insert_movement = self.statement(inv_sql::INSERT_MOVEMENT_PG);
        let insert_reservation = self.statement(inv_sql::INSERT_RESERVATION);
        let insert_event = self.statement(order_sql::INSERT_EVENT);
        let order_by_id = self.statement(order_sql::ORDER_BY_ID);
        let lines_of = self.statement(order_sql::LINES_OF_ORDER);
        let insert_audit = self.statement(audit_sql::INSERT_UNCHAINED);
        let insert_events = self.statement(changes_sql::INSERT_EVENTS_PG);
        let facts_of = self.statement(order_sql::ORDER_FACTS);
        let mut feed: Vec<(&str, String, serde_json::Value)> = Vec::new();
        // custdb's unit of work: its BEGIN, then its statements.
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .unwrap();
        let tx = &mut self.client;
        let archived: bool = tx.query_one(&version_of, &[&customer]).unwrap().get(1);
        assert!(!archived);
        assert!(tx.query(&addresses, &[&customer]).unwrap().is_empty());
        let mut names: HashMap<uuid::Uuid, String> = HashMap::new();
        let mut priced = Vec::with_capacity(lines);
        for i in 0..lines {
            let row = tx.query_one(&by_sku, &[&sku(i)]).unwrap();
            let (variant, product, price): (uuid::Uuid, uuid::Uuid, i64) =
                (row.get(0), row.get(1), row.get(6));
            let name = match names.get(&product) {
                Some(name) => name.clone(),
                None => {
                    let name: String = tx.query_one(&product_name, &[&product]).unwrap().get(0);
                    names.insert(product, name.clone());
                    name
                }
            };
            // 2 units at 9.99, taxed at 20 % and rounded to the penny
            // (half up), as the pricing rule does.
            let sub = 2 * price;
            priced.push((i, variant, price, name, sub, (sub / 5 + 50) / 100 * 100));
        }
        let subtotal: i64 = priced.iter().map(|p| p.4).sum();
        let tax: i64 = priced.iter().map(|p| p.5).sum();
        let mut tracked: Vec<uuid::Uuid> = priced.iter().map(|p| p.1).collect();
        tracked.sort_unstable();
        for v in &tracked {
            tx.execute(&stock_lock, &[v]).unwrap();
        }
        let id = uuid::Uuid::now_v7();
        tx.execute(
            &insert_order,
            &[
                &id,
                &customer,
                &None::<String>,
                &"GBP",
                &"pending",
                &subtotal,
                &0i64,
                &tax,
                &0i64,
                &(subtotal + tax),
                &None::<serde_json::Value>,
                &None::<serde_json::Value>,
                &None::<String>,
                &None::<String>,
                &None::<String>,
                &None::<DateTime<Utc>>,
                &now,
                &None::<String>,
            ],
        )
        .unwrap();
        for (n, (i, variant, price, name, sub, tax)) in priced.iter().enumerate() {
            let line = uuid::Uuid::now_v7();
            tx.execute(
                &insert_line,
                &[
                    &line,
                    &id,
                    &(n as i64 + 1),
                    variant,
                    &sku(*i),
                    name,
                    &2i64,
                    price,
                    sub,
                    &0i64,
                    &200_000i64,
                    tax,
                    &(sub + tax),
                    &None::<uuid::Uuid>,
                ],
            )
            .unwrap();
            let warehouse: uuid::Uuid = tx
                .query(&allocation, &[variant, &now])
                .unwrap()
                .iter()
                .find(|r| r.get::<_, i64>(1) >= 2)
                .unwrap()
                .get(0);
            let row = tx
                .query_one(&balance, &[variant, &warehouse, &now])
                .unwrap();
            let (on_hand, reserved, expired): (i64, i64, bool) =
                (row.get(0), row.get(1), row.get(2));
            assert!(on_hand - reserved >= 2 && !expired);
            let reservation = uuid::Uuid::now_v7();
            tx.query_one(
                &insert_movement,
                &[
                    variant,
                    &warehouse,
                    &"reservation",
                    &0i64,
                    &2i64,
                    &None::<String>,
                    &reservation,
                    &id,
                    &None::<uuid::Uuid>,
                    &now,
                    &"system",
                ],
            )
            .unwrap();
            feed.push((
                "stock.changed",
                variant.to_string(),
                serde_json::json!({
                    "v": 1, "order_id": id, "warehouse_id": warehouse,
                    "movement": "reservation",
                    "on_hand": on_hand,
                    "reserved": reserved + 2, "available": on_hand - reserved - 2,
                }),
            ));
            tx.execute(
                &insert_reservation,
                &[
                    &reservation,
                    variant,
                    &warehouse,
                    &id,
                    &line,
                    &2i64,
                    &None::<DateTime<Utc>>,
                    &now,
                ],
            )
            .unwrap();
        }
        let detail = serde_json::json!({ "total": "x" });
        tx.execute(
            &insert_event,
            &[
                &id,
                &now,
                &"system",
                &"placed",
                &None::<String>,
                &"pending",
                &detail,
            ],
        )
        .unwrap();
        let fields = r#"["lines","totals","addresses","status"]"#;
        let facts = order_facts(tx, &facts_of, &id, fields);
        feed.push(("order.placed", id.to_string(), facts));
        audit(
            tx,
            &insert_audit,
            now,
            "place",
            "order",
            &id.to_string(),
            fields,
        );
        events(tx, &insert_events, now, &feed);
        let order = tx.query_one(&order_by_id, &[&id]).unwrap();
        black_box(order.get::<_, i64>(1));
        black_box(tx.query(&lines_of, &[&id]).unwrap().len());
        self.commit();
        id
    }

    /// The statements custdb's one-shot `pay` (in full) runs on
    /// PostgreSQL: the order's row lock, its state and amounts, the
    /// payment row, the paid amount, the holds kept, the loyalty rule looked
    /// up (there is none), the event and the
    /// status, the audit entry at commit, and the payment read back.
    fn pay(&mut self, order: uuid::Uuid) {
        let now = Utc::now().trunc_subsecs(6);
        let lock = self.statement(order_sql::LOCK_ORDER);
        let state = self.statement(order_sql::ORDER_STATE);
        let amounts = self.statement(pay_sql::ORDER_AMOUNTS);
        let insert = self.statement(pay_sql::INSERT_PAYMENT);
        let add_paid = self.statement(pay_sql::ADD_PAID);
        let keep = self.statement(pay_sql::KEEP_RESERVATIONS);
        let loyalty_rule = self.statement(loyalty_sql::RULE_OF_CURRENCY);
        let insert_event = self.statement(order_sql::INSERT_EVENT);
        let set_status = self.statement(order_sql::SET_STATUS);
        let by_id = self.statement(pay_sql::PAYMENT_BY_ID);
        let insert_audit = self.statement(audit_sql::INSERT_UNCHAINED);
        let insert_events = self.statement(changes_sql::INSERT_EVENTS_PG);
        let facts_of = self.statement(order_sql::ORDER_FACTS);
        // custdb's unit of work: its BEGIN, then its statements.
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .unwrap();
        let tx = &mut self.client;
        tx.execute(&lock, &[&order]).unwrap();
        let status: String = tx.query_one(&state, &[&order]).unwrap().get(0);
        assert_eq!(status, "pending");
        let row = tx.query_one(&amounts, &[&order]).unwrap();
        let (total, paid): (i64, i64) = (row.get(0), row.get(1));
        let payment = uuid::Uuid::now_v7();
        tx.execute(
            &insert,
            &[
                &payment,
                &order,
                &"card",
                &"psp",
                &"ref-1",
                &(total - paid),
                &"GBP",
                &"captured",
                &now,
            ],
        )
        .unwrap();
        let row = tx
            .query_one(&add_paid, &[&order, &(total - paid), &now])
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), row.get::<_, i64>(1));
        tx.execute(&keep, &[&order]).unwrap();
        // Paid in full: custdb looks up the currency's loyalty rule (none).
        assert!(tx.query(&loyalty_rule, &[&"GBP"]).unwrap().is_empty());
        let detail = serde_json::json!({ "payment_id": payment, "amount": "x" });
        tx.execute(
            &insert_event,
            &[
                &order,
                &now,
                &"system",
                &"payment_captured",
                &"pending",
                &"paid",
                &detail,
            ],
        )
        .unwrap();
        tx.execute(&set_status, &[&order, &"paid", &now]).unwrap();
        let fields = r#"["payments","paid","status"]"#;
        let facts = order_facts(tx, &facts_of, &order, fields);
        audit(
            tx,
            &insert_audit,
            now,
            "capture_payment",
            "order",
            &order.to_string(),
            fields,
        );
        events(
            tx,
            &insert_events,
            now,
            &[("order.paid", order.to_string(), facts)],
        );
        let status: String = tx.query_one(&by_id, &[&payment]).unwrap().get(7);
        assert_eq!(status, "captured");
        self.commit();
    }
}

/// Inserts a unit of work's change-feed events as custdb does at its
/// commit on PostgreSQL: one statement, the events as a JSON batch, under
/// the chain's lock taken shared.
fn events(
    tx: &mut Client,
    insert: &Statement,
    now: DateTime<Utc>,
    batch: &[(&str, String, serde_json::Value)],
) {
    let batch: Vec<serde_json::Value> = batch
        .iter()
        .map(|(kind, entity, facts)| serde_json::json!({"k": kind, "e": entity, "f": facts.to_string()}))
        .collect();
    let text = serde_json::Value::Array(batch).to_string();
    tx.execute(insert, &[&now, &"system", &text.as_str()])
        .unwrap();
}

/// The facts of an order's event, read as custdb reads them.
fn order_facts(
    tx: &mut Client,
    statement: &Statement,
    order: &uuid::Uuid,
    fields: &str,
) -> serde_json::Value {
    let row = tx.query_one(statement, &[order]).unwrap();
    let amount = |e4: i64| custdb::Decimal::new(e4, 4).normalize().to_string();
    serde_json::json!({
        "v": 1,
        "fields": serde_json::from_str::<serde_json::Value>(fields).unwrap(),
        "status": row.get::<_, String>(0),
        "currency": row.get::<_, String>(1),
        "total": amount(row.get(2)),
        "paid": amount(row.get(3)),
        "refunded": amount(row.get(4)),
        "customer_id": row.get::<_, Option<uuid::Uuid>>(5),
        "lines": row.get::<_, i64>(6),
    })
}

/// Inserts one audit entry as custdb does at commit on PostgreSQL: one
/// statement that takes the chain's lock shared and inserts the entry
/// unchained, its position from the identity.
fn audit(
    tx: &mut Client,
    insert: &Statement,
    now: DateTime<Utc>,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    fields: &str,
) {
    let at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seq: i64 = tx
        .query_one(
            insert,
            &[
                &at,
                &"system",
                &"custdb",
                &action,
                &entity_type,
                &entity_id,
                &fields,
            ],
        )
        .unwrap()
        .get(0);
    assert!(seq > 0);
}

/// A shop on `store`: 20 variants at 9.99 GBP in two warehouses with
/// plenty of stock, and one customer without addresses.
fn pg_shop(store: &Store) -> CustomerId {
    use custdb::{Currency, Decimal, NewCustomer, NewProduct, NewVariant, NewWarehouse};
    store
        .write(|tx| {
            let a = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("A", "A").priority(1))?;
            let b = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("B", "B").priority(2))?;
            let product = (0..20).fold(NewProduct::new("Bench"), |p, i| {
                p.variant(NewVariant::new(sku(i), Decimal::new(999, 2), Currency::GBP))
            });
            let p = tx.catalog().create_product(product)?;
            for v in &p.variants {
                for w in [a.id, b.id] {
                    tx.inventory().receive(v.id, w, 100_000_000)?;
                }
            }
            Ok::<_, custdb::Error>(
                tx.customers()
                    .create(NewCustomer::new("Buyer").email("buyer@example.com"))?
                    .id,
            )
        })
        .unwrap()
}

/// A customer row read into owned values, as hand-written code would.
#[allow(dead_code)]
struct RawRow {
    id: uuid::Uuid,
    display_name: String,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    locale: Option<String>,
    birth_date: Option<NaiveDate>,
    source: Option<String>,
    attributes: serde_json::Value,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
    archived_at: Option<DateTime<Utc>>,
    tags: Vec<String>,
}

fn raw_row(row: &postgres::Row) -> RawRow {
    RawRow {
        id: row.get(0),
        display_name: row.get(1),
        given_name: row.get(2),
        family_name: row.get(3),
        email: row.get(4),
        phone: row.get(5),
        company: row.get(6),
        locale: row.get(7),
        birth_date: row.get(8),
        source: row.get(9),
        attributes: row.get(10),
        notes: row.get(11),
        created_at: row.get(12),
        updated_at: row.get(13),
        version: row.get(14),
        archived_at: row.get(15),
        tags: serde_json::from_str(row.get::<_, &str>(16)).unwrap(),
    }
}

/// A fresh database, migrated by custdb.
fn database(cluster: &custdb_pgcluster::Cluster) -> String {
    let name = cluster.empty_database();
    drop(Store::open_postgres(&cluster.connection(&name)).unwrap());
    name
}

fn benches(c: &mut Criterion) {
    let Some(cluster) = custdb_pgcluster::cluster() else {
        eprintln!("PostgreSQL is not installed: nothing measured");
        return;
    };

    let mut group = c.benchmark_group("pg_create_one_per_transaction");
    let name = database(cluster);
    let store = Store::open_postgres(&cluster.connection(&name)).unwrap();
    let mut n = 0;
    group.bench_function("custdb_postgres", |b| {
        b.iter(|| {
            n += 1;
            black_box(store.customers().create(new_customer(n)).unwrap())
        })
    });
    let raw_name = database(cluster);
    let mut raw = Raw::connect(&cluster.connection(&raw_name));
    let mut n = 0;
    group.bench_function("raw_postgres", |b| {
        b.iter(|| {
            n += 1;
            black_box(raw.create(n))
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_with(
        dir.path().join("custdb.db"),
        custdb::Options::default().durability(custdb::Durability::Normal),
    )
    .unwrap();
    let mut n = 0;
    group.bench_function("custdb_sqlite", |b| {
        b.iter(|| {
            n += 1;
            black_box(sqlite.customers().create(new_customer(n)).unwrap())
        })
    });
    group.finish();
    assert!(store.check().unwrap().is_ok());
    assert!(Store::open_postgres(&cluster.connection(&raw_name))
        .unwrap()
        .verify_audit()
        .unwrap()
        .broken
        .is_none());

    orders(c, cluster);

    // The read benchmarks: one population, loaded by custdb.
    let name = database(cluster);
    let store = Store::open_postgres(&cluster.connection(&name)).unwrap();
    let people: Vec<(CustomerId, uuid::Uuid, String)> = store
        .write(|tx| {
            (0..POPULATION)
                .map(|n| {
                    let c = tx.customers().create(new_customer(n))?;
                    Ok((
                        c.id,
                        c.id.to_string().parse().unwrap(),
                        c.email.unwrap_or_default(),
                    ))
                })
                .collect::<custdb::Result<Vec<_>>>()
        })
        .unwrap();
    cluster.psql(&name, "VACUUM ANALYZE");
    let mut raw = Raw::connect(&cluster.connection(&name));
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path().join("read.db")).unwrap();
    let sqlite_people: Vec<(CustomerId, String)> = sqlite
        .write(|tx| {
            (0..POPULATION)
                .map(|n| {
                    let c = tx.customers().create(new_customer(n))?;
                    Ok((c.id, c.email.unwrap_or_default()))
                })
                .collect::<custdb::Result<Vec<_>>>()
        })
        .unwrap();

    let mut group = c.benchmark_group("pg_get_by_id");
    let mut i = 0;
    group.bench_function("custdb_postgres", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            black_box(store.customers().get(people[i].0).unwrap())
        })
    });
    let get = raw.statement(sql::GET_PG);
    let mut i = 0;
    group.bench_function("raw_postgres", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            let row = raw
                .client
                .query_opt(&get, &[&people[i].1])
                .unwrap()
                .unwrap();
            black_box(raw_row(&row))
        })
    });
    let mut i = 0;
    group.bench_function("custdb_sqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % sqlite_people.len();
            black_box(sqlite.customers().get(sqlite_people[i].0).unwrap())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("pg_get_by_email");
    let mut i = 0;
    group.bench_function("custdb_postgres", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            black_box(store.customers().get_by_email(&people[i].2).unwrap())
        })
    });
    let by_email = raw.statement(sql::GET_BY_EMAIL_PG);
    let mut i = 0;
    group.bench_function("raw_postgres", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            let row = raw
                .client
                .query_opt(&by_email, &[&people[i].2])
                .unwrap()
                .unwrap();
            black_box(raw_row(&row))
        })
    });
    let mut i = 0;
    group.bench_function("custdb_sqlite", |b| {
        b.iter(|| {
            i = (i + 7919) % sqlite_people.len();
            black_box(
                sqlite
                    .customers()
                    .get_by_email(&sqlite_people[i].1)
                    .unwrap(),
            )
        })
    });
    group.finish();

    // "grace hop" matches Grace Hopper, 1 in 256 of the population (39
    // rows); the best 20 by rank come back.
    let mut group = c.benchmark_group("pg_search_grace_hop_top20");
    group.bench_function("custdb_postgres", |b| {
        b.iter(|| black_box(store.customers().search("grace hop", 20).unwrap()))
    });
    let search = raw.statement(sql::SEARCH_PG);
    group.bench_function("raw_postgres", |b| {
        b.iter(|| {
            let rows = raw
                .client
                .query(&search, &[&"\"grace\"* \"hop\"*", &20i64])
                .unwrap();
            black_box(rows.iter().map(raw_row).collect::<Vec<_>>())
        })
    });
    group.bench_function("custdb_sqlite", |b| {
        b.iter(|| black_box(sqlite.customers().search("grace hop", 20).unwrap()))
    });
    group.finish();
}

/// Order placement (1, 5, 15 lines) and payment in full, custdb beside
/// the raw baseline, each on its own database with the same shop.
fn orders(c: &mut Criterion, cluster: &custdb_pgcluster::Cluster) {
    for lines in [1usize, 5, 15] {
        let mut group = c.benchmark_group(format!("pg_place_{lines}_lines"));
        let name = database(cluster);
        let store = Store::open_postgres(&cluster.connection(&name)).unwrap();
        let buyer = pg_shop(&store);
        group.bench_function("custdb_postgres", |b| {
            b.iter(|| black_box(store.orders().place(order_of(buyer, lines)).unwrap()))
        });
        let raw_name = database(cluster);
        let raw_buyer: uuid::Uuid = {
            let raw_store = Store::open_postgres(&cluster.connection(&raw_name)).unwrap();
            pg_shop(&raw_store).to_string().parse().unwrap()
        };
        let mut raw = Raw::connect(&cluster.connection(&raw_name));
        group.bench_function("raw_postgres", |b| {
            b.iter(|| black_box(raw.place(raw_buyer, lines)))
        });
        group.finish();
        assert!(store.check().unwrap().is_ok());
        let raw_store = Store::open_postgres(&cluster.connection(&raw_name)).unwrap();
        let report = raw_store.check().unwrap();
        assert!(
            report.is_ok(),
            "the baseline wrote what custdb would: {report:?}"
        );
        let v = raw_store.verify_audit().unwrap();
        assert!(v.broken.is_none() && v.pending == 0, "{v:?}");
    }

    // Payments need pending orders: each side places a stock of them
    // first (not measured), then pays one per iteration.
    const ORDERS_TO_PAY: usize = 10_000;
    let mut group = c.benchmark_group("pg_pay_in_full");
    group.measurement_time(Duration::from_secs(3));
    let name = database(cluster);
    let store = Store::open_postgres(&cluster.connection(&name)).unwrap();
    let buyer = pg_shop(&store);
    let mut pending: Vec<custdb::Order> = (0..ORDERS_TO_PAY)
        .map(|_| store.orders().place(order_of(buyer, 1)).unwrap())
        .collect();
    group.bench_function("custdb_postgres", |b| {
        b.iter(|| {
            let order = pending.pop().expect("enough pending orders");
            black_box(
                store
                    .orders()
                    .pay(
                        order.id,
                        custdb::NewPayment::new(custdb::PaymentMethod::Card, order.total.amount)
                            .provider("psp", "ref-1"),
                    )
                    .unwrap(),
            )
        })
    });
    let raw_name = database(cluster);
    let raw_buyer: uuid::Uuid = {
        let raw_store = Store::open_postgres(&cluster.connection(&raw_name)).unwrap();
        pg_shop(&raw_store).to_string().parse().unwrap()
    };
    let mut raw = Raw::connect(&cluster.connection(&raw_name));
    let mut pending: Vec<uuid::Uuid> = (0..ORDERS_TO_PAY)
        .map(|_| raw.place(raw_buyer, 1))
        .collect();
    group.bench_function("raw_postgres", |b| {
        b.iter(|| raw.pay(pending.pop().expect("enough pending orders")))
    });
    group.finish();
    assert!(store.check().unwrap().is_ok());
    let raw_store = Store::open_postgres(&cluster.connection(&raw_name)).unwrap();
    let report = raw_store.check().unwrap();
    assert!(
        report.is_ok(),
        "the baseline wrote what custdb would not: {:?}",
        report.problems.first()
    );
}

criterion_group! {
    name = postgres_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(postgres_benches);
