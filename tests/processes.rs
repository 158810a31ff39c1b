//! Several processes and threads on one database file, readers and writers
//! mixed: four child processes (this binary, started again with
//! `CUSTDB_PROCESS_ROLE=shopper`) and two writer threads in the parent race
//! to order a variant that cannot serve them all, while two reader threads
//! read stock levels, order history and customers throughout. Every call
//! must succeed or fail with the typed shortfall: no `SQLITE_BUSY` reaches a
//! caller within the busy timeout. At the end exactly the stock there was
//! is sold (no oversell, none lost) and `check()` is clean.
//!
//! Then the same stock race on PostgreSQL (when its server binaries are
//! installed; the harness of `custdb-pgcluster` says loudly when they are
//! not): four server processes with a `Store` each on one database, two
//! writer and two reader threads in the parent; the same outcome, and the
//! audit chain verifies. And four processes race for one email
//! address (exactly one wins), for one customer version (exactly one
//! update wins), and increment a counter on one customer by optimistic
//! concurrency, re-reading after each conflict (no increment is lost).
//!
//! A plain `main` (no libtest harness), because the children are this
//! binary.

use custdb::Currency;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use custdb::{
    CustomerId, Decimal, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewVariant, NewWarehouse,
    Store,
};

const ROLE: &str = "CUSTDB_PROCESS_ROLE";
const DB: &str = "CUSTDB_PROCESS_DB";
const STOCK: i64 = 400;
const CHILDREN: usize = 4;
const ATTEMPTS_PER_CHILD: usize = 150;
const PARENT_WRITERS: usize = 2;
const ATTEMPTS_PER_THREAD: usize = 100;

/// Tries `attempts` orders of one unit; returns (sold, refused). Any error
/// other than the shortfall fails the test.
fn shop(store: &Store, who: &str, attempts: usize) -> (usize, usize) {
    let customer = store
        .customers()
        .create(NewCustomer::new(who.to_owned()))
        .unwrap()
        .id;
    let (mut sold, mut refused) = (0, 0);
    for n in 0..attempts {
        let result = store.write(|tx| {
            tx.orders().place(
                NewOrder::for_customer(customer, Currency::GBP).line(NewOrderLine::new("HOT", 1)),
            )
        });
        match result {
            Ok(_) => sold += 1,
            Err(e) if matches!(e.kind(), custdb::ErrorKind::Shortfall { .. }) => refused += 1,
            Err(e) => panic!("{who} attempt {n}: {e}"),
        }
        // A read between writes, as a shop's request would do.
        store
            .read(|r| r.orders().history(customer, None, 5))
            .unwrap();
    }
    (sold, refused)
}

fn child(store: Store) {
    let who = format!("process {}", std::process::id());
    let (sold, refused) = shop(&store, &who, ATTEMPTS_PER_CHILD);
    println!("sold {sold} refused {refused}");
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("shopper") => {
            return child(Store::open(PathBuf::from(std::env::var(DB).unwrap())).unwrap())
        }
        #[cfg(feature = "postgres")]
        Ok("pg-shopper") => {
            return child(Store::open_postgres(&std::env::var(DB).unwrap()).unwrap())
        }
        #[cfg(feature = "postgres")]
        Ok("pg-customers") => return postgres::child(&std::env::var(DB).unwrap()),
        _ => {}
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    stock_race(
        "SQLite",
        Arc::new(Store::open(&path).unwrap()),
        "shopper",
        path.to_str().unwrap(),
    );
    #[cfg(feature = "postgres")]
    if let Some(cluster) = custdb_pgcluster::cluster() {
        let connection = cluster.connection(&cluster.empty_database());
        let store = Arc::new(Store::open_postgres(&connection).unwrap());
        stock_race("PostgreSQL", store, "pg-shopper", &connection);
    }
    #[cfg(feature = "postgres")]
    postgres::processes();
}

/// The stock race on `store`; the children open the same database from
/// `db` as `role` says.
fn stock_race(engine: &str, store: Arc<Store>, role: &str, db: &str) {
    let (variant, warehouse) = store
        .write(|tx| {
            let p =
                tx.catalog()
                    .create_product(NewProduct::new("Hot").variant(NewVariant::new(
                        "HOT",
                        Decimal::new(999, 2),
                        Currency::GBP,
                    )))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("W", "Warehouse"))?;
            tx.inventory().receive(p.variants[0].id, w.id, STOCK)?;
            Ok::<_, custdb::Error>((p.variants[0].id, w.id))
        })
        .unwrap();
    let reader_customer: CustomerId = store
        .customers()
        .create(NewCustomer::new("Reader"))
        .unwrap()
        .id;

    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .env(ROLE, role)
                .env(DB, db)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, stop) = (store.clone(), stop.clone());
            thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let level = store
                        .read(|r| r.inventory().level(variant, warehouse))
                        .unwrap();
                    assert!(level.available >= 0, "oversold: {level:?}");
                    assert!(level.reserved <= STOCK, "oversold: {level:?}");
                    store
                        .read(|r| r.orders().history(reader_customer, None, 10))
                        .unwrap();
                    store.customers().get(reader_customer).unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..PARENT_WRITERS)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || shop(&store, &format!("thread {t}"), ATTEMPTS_PER_THREAD))
        })
        .collect();

    let (mut sold, mut refused) = (0usize, 0usize);
    for w in writers {
        let (s, r) = w.join().unwrap();
        sold += s;
        refused += r;
    }
    for mut c in children {
        let out = BufReader::new(c.stdout.take().unwrap())
            .lines()
            .map(|l| l.unwrap())
            .collect::<Vec<_>>();
        let status = c.wait().unwrap();
        assert!(status.success(), "a child process failed: {out:?}");
        let parts: Vec<&str> = out.last().unwrap().split(' ').collect();
        sold += parts[1].parse::<usize>().unwrap();
        refused += parts[3].parse::<usize>().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();

    let attempts = CHILDREN * ATTEMPTS_PER_CHILD + PARENT_WRITERS * ATTEMPTS_PER_THREAD;
    assert_eq!(sold + refused, attempts);
    assert_eq!(sold as i64, STOCK, "exactly the stock there was is sold");
    let level = store
        .read(|r| r.inventory().level(variant, warehouse))
        .unwrap();
    assert_eq!((level.on_hand, level.reserved), (STOCK, STOCK));
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let audit = store.verify_audit().unwrap();
    assert!(audit.broken.is_none(), "{audit:?}");
    println!(
        "processes ({engine}): {CHILDREN} processes and {PARENT_WRITERS} threads made {attempts} attempts on {STOCK} units: \
         {sold} sold, {refused} refused; {reads} reader loops; check clean"
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use custdb::{CustomerPatch, ErrorKind};

    const INCREMENTS_PER_CHILD: usize = 25;

    /// One server: claims the email, updates the contested version once,
    /// then increments the counter (the `company` field) until it has
    /// added its share, retrying on every conflict.
    pub(super) fn child(connection: &str) {
        let store = Store::open_postgres(connection).unwrap();
        let me = std::process::id();
        let ids: Vec<String> = std::env::var("CUSTDB_PROCESS_IDS")
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let contested: CustomerId = ids[0].parse().unwrap();
        let counter: CustomerId = ids[1].parse().unwrap();
        for i in 0..10 {
            store
                .customers()
                .create(NewCustomer::new(format!("Server {me} #{i}")))
                .unwrap();
        }
        let email = match store
            .customers()
            .create(NewCustomer::new(format!("Claimant {me}")).email("shared@example.com"))
        {
            Ok(_) => "won",
            Err(e) if e.is_already_exists() => "lost",
            Err(e) => panic!("email: {e}"),
        };
        let update = match store.customers().update(
            contested,
            1,
            CustomerPatch::default().company(format!("Server {me}")),
        ) {
            Ok(_) => "won",
            Err(e) if e.is_conflict() => "lost",
            Err(e) => panic!("update: {e}"),
        };
        let mut conflicts = 0;
        for _ in 0..INCREMENTS_PER_CHILD {
            loop {
                let current = store.customers().get(counter).unwrap();
                let n: usize = current.company.as_deref().unwrap_or("0").parse().unwrap();
                match store.customers().update(
                    counter,
                    current.version,
                    CustomerPatch::default().company((n + 1).to_string()),
                ) {
                    Ok(_) => break,
                    Err(e) if e.is_conflict() => conflicts += 1,
                    Err(e) => panic!("increment: {e}"),
                }
            }
        }
        println!("email {email} update {update} conflicts {conflicts}");
    }

    pub(super) fn processes() {
        let Some(cluster) = custdb_pgcluster::cluster() else {
            return;
        };
        let database = cluster.empty_database();
        let connection = cluster.connection(&database);
        let store = Store::open_postgres(&connection).unwrap();
        let contested = store
            .customers()
            .create(NewCustomer::new("Contested"))
            .unwrap();
        assert_eq!(contested.version, 1);
        let counter = store
            .customers()
            .create(NewCustomer::new("Counter"))
            .unwrap();
        let children: Vec<_> = (0..CHILDREN)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .env(ROLE, "pg-customers")
                    .env(DB, &connection)
                    .env(
                        "CUSTDB_PROCESS_IDS",
                        format!("{},{}", contested.id, counter.id),
                    )
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let (mut emails, mut updates, mut conflicts) = (0, 0, 0usize);
        for mut c in children {
            let out = BufReader::new(c.stdout.take().unwrap())
                .lines()
                .map(|l| l.unwrap())
                .collect::<Vec<_>>();
            let status = c.wait().unwrap();
            assert!(status.success(), "a server process failed: {out:?}");
            let parts: Vec<&str> = out.last().unwrap().split(' ').collect();
            emails += usize::from(parts[1] == "won");
            updates += usize::from(parts[3] == "won");
            conflicts += parts[5].parse::<usize>().unwrap();
        }
        assert_eq!(emails, 1, "exactly one process got the email");
        assert_eq!(updates, 1, "exactly one process updated version 1");
        let counted = store.customers().get(counter.id).unwrap();
        assert_eq!(
            counted.company.as_deref(),
            Some((CHILDREN * INCREMENTS_PER_CHILD).to_string().as_str()),
            "no increment lost"
        );
        assert_eq!(
            counted.version,
            1 + (CHILDREN * INCREMENTS_PER_CHILD) as i64
        );
        let found = store
            .customers()
            .get_by_email("shared@example.com")
            .unwrap();
        assert!(found.display_name.starts_with("Claimant"));
        let err = store
            .customers()
            .update(contested.id, 1, CustomerPatch::default().company("late"))
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Conflict { .. }), "{err}");
        let report = store.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        let audit = store.verify_audit().unwrap();
        assert!(audit.broken.is_none(), "{audit:?}");
        println!(
            "processes (PostgreSQL): {CHILDREN} servers, one email and one version won once each, \
             {} increments with {conflicts} conflicts retried, none lost; check and audit chain clean",
            CHILDREN * INCREMENTS_PER_CHILD
        );
    }
}
