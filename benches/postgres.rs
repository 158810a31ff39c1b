//! Customer create, get and search on PostgreSQL, each beside a raw
//! `postgres`-crate baseline that runs the same statement texts (custdb's
//! own, with the same `$N` placeholders custdb derives) on the same
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
use custdb::audit::{entry_hash, sql as audit_sql, GENESIS_HASH};
use custdb::customer::sql;
use custdb::{postgres_text, CustomerId, Store};

mod common;
use common::people::{new_customer, person};
use postgres::{Client, IsolationLevel, NoTls, Statement};

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

    /// The statements custdb runs to create the customer, in one READ
    /// COMMITTED transaction: the email check, the row, the tag, then the
    /// audit entry chained under the chain's advisory lock.
    fn create(&mut self, n: usize) -> CustomerId {
        let (given, family, email) = person(n);
        let id = CustomerId::new();
        let uuid: uuid::Uuid = id.to_string().parse().unwrap();
        // Microseconds, the stored precision, as custdb's transaction time.
        let now = Utc::now().trunc_subsecs(6);
        let taken_sql = self.statement(sql::EMAIL_TAKEN);
        let insert = self.statement(sql::INSERT);
        let insert_tag = self.statement(sql::INSERT_TAG);
        let lock = self.statement(CHAIN_LOCK);
        let last = self.statement(audit_sql::LAST_ENTRY);
        let insert_audit = self.statement(audit_sql::INSERT_AUDIT);
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .unwrap();
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
        tx.query_one(&lock, &[&CHAIN_LOCK_KEY]).unwrap();
        let (seq, prev): (i64, String) = tx
            .query_opt(&last, &[])
            .unwrap()
            .map(|r| (r.get(0), r.get(1)))
            .unwrap_or((0, GENESIS_HASH.to_owned()));
        let at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let fields = r#"["display_name","given_name","family_name","email","company","tags"]"#;
        let id_text = id.to_string();
        let hash = entry_hash(
            &prev,
            seq + 1,
            &at,
            "system",
            "custdb",
            "create",
            "customer",
            &id_text,
            fields,
        );
        tx.execute(
            &insert_audit,
            &[
                &(seq + 1),
                &at,
                &"system",
                &"custdb",
                &"create",
                &"customer",
                &id_text,
                &fields,
                &prev,
                &hash,
            ],
        )
        .unwrap();
        tx.commit().unwrap();
        id
    }
}

/// custdb's advisory lock key for the audit chain ("custdb-a"), and the
/// statement that takes it (src/audit.rs, `append_chained`).
const CHAIN_LOCK_KEY: i64 = 0x6375_7374_6462_2d61;
const CHAIN_LOCK: &str = "SELECT pg_advisory_xact_lock($1)::text";

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

criterion_group! {
    name = postgres_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(postgres_benches);
