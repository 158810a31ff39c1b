//! Several processes and threads on one database file, readers and writers
//! mixed: four child processes (this binary, started again with
//! `CUSTDB_PROCESS_ROLE=shopper`) and two writer threads in the parent race
//! to order a variant that cannot serve them all, while two reader threads
//! read stock levels, order history and customers throughout. Every call
//! must succeed or fail with the typed shortfall: no `SQLITE_BUSY` reaches a
//! caller within the busy timeout. At the end exactly the stock there was
//! is sold (no oversell, none lost) and `check()` is clean.
//!
//! A plain `main` (no libtest harness), because the children are this
//! binary.

use custdb::Currency;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
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

fn child(path: &Path) {
    let store = Store::open(path).unwrap();
    let who = format!("process {}", std::process::id());
    let (sold, refused) = shop(&store, &who, ATTEMPTS_PER_CHILD);
    println!("sold {sold} refused {refused}");
}

fn main() {
    if std::env::var(ROLE).is_ok() {
        child(&PathBuf::from(std::env::var(DB).unwrap()));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let store = Arc::new(Store::open(&path).unwrap());
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
                .env(ROLE, "shopper")
                .env(DB, &path)
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
    println!(
        "processes: {CHILDREN} processes and {PARENT_WRITERS} threads made {attempts} attempts on {STOCK} units: \
         {sold} sold, {refused} refused; {reads} reader loops; check clean"
    );
}
