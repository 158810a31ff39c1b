//! The TPC-C-like mix (`benches/mix.rs`) on PostgreSQL with 1, 2, 4 and 8
//! writer processes at once, each a separate OS process with its own
//! `Store` on the same database (as several application servers would
//! be), beside custdb on an SQLite file with its one writer.
//!
//! ```text
//! cargo bench --features bench-internals,postgres --bench pg_mix
//! CUSTDB_MIX_SECONDS=20 cargo bench --features bench-internals,postgres --bench pg_mix
//! ```
//!
//! The shop (10,000 customers, 1,000 variants with ample stock in two
//! warehouses) is built once on a file and copied into each run's fresh
//! PostgreSQL database (`Store::copy_into`). Each process runs its own
//! sequence of the mix (its own seed) for the same wall-clock window,
//! started together; it pays and ships its own orders. A unit of work that
//! PostgreSQL aborts for a collision (`Contention`) is run again and
//! counted. The parent prints transactions per second in all and the 50th
//! and 99th percentile latency per kind; docs/PERFORMANCE.md records them.
//! The server is the tests' throwaway cluster (`fsync` off, so the curve
//! shows locking and CPU, not the disk).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::mix::{sequence_from, CustdbSide, Queues, KINDS, VARIANTS};
use common::shop::build_shop;
use custdb::{CustomerId, Durability, Options, Store};

const ROLE: &str = "CUSTDB_MIX_ROLE";
const DB: &str = "CUSTDB_MIX_DB";
const START: &str = "CUSTDB_MIX_START_MS";
const SEED: &str = "CUSTDB_MIX_SEED";
/// A file with the customers' ids, one a line.
const CUSTOMERS_ENV: &str = "CUSTDB_MIX_CUSTOMERS";

fn seconds() -> u64 {
    std::env::var("CUSTDB_MIX_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Runs the mix on `store` from `start_ms` for the window; returns one
/// line per transaction kind (`kind <index> <latency µs>...`), then
/// `retries <n>`.
fn run_window(store: Store, customers: Vec<CustomerId>, seed: u64, start_ms: u128) -> Vec<String> {
    let txns = sequence_from(seed);
    let mut side = CustdbSide {
        store,
        customers,
        queues: Queues::default(),
        retries: 0,
    };
    let mut latencies: [Vec<u64>; 5] = Default::default();
    while now_ms() < start_ms {
        std::thread::sleep(Duration::from_millis(1));
    }
    let window = Duration::from_secs(seconds());
    let began = Instant::now();
    for txn in txns.iter().cycle() {
        if began.elapsed() >= window {
            break;
        }
        let t = Instant::now();
        side.run(txn);
        latencies[txn.kind()].push(t.elapsed().as_micros() as u64);
    }
    let report = side.store.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let mut lines: Vec<String> = latencies
        .iter()
        .enumerate()
        .map(|(kind, values)| {
            let text: Vec<String> = values.iter().map(u64::to_string).collect();
            format!("kind {kind} {}", text.join(" "))
        })
        .collect();
    lines.push(format!("retries {}", side.retries));
    lines
}

fn child() {
    let customers: Vec<CustomerId> = std::fs::read_to_string(std::env::var(CUSTOMERS_ENV).unwrap())
        .unwrap()
        .lines()
        .map(|c| c.parse().unwrap())
        .collect();
    let store = Store::open_postgres(&std::env::var(DB).unwrap()).unwrap();
    let seed: u64 = std::env::var(SEED).unwrap().parse().unwrap();
    let start: u128 = std::env::var(START).unwrap().parse().unwrap();
    for line in run_window(store, customers, seed, start) {
        println!("{line}");
    }
}

/// What one run measured: latencies per kind, retries, the window.
struct Run {
    latencies: [Vec<u64>; 5],
    retries: u64,
}

fn parse(lines: &[String], run: &mut Run) {
    for line in lines {
        let mut words = line.split(' ');
        match words.next() {
            Some("kind") => {
                let kind: usize = words.next().unwrap().parse().unwrap();
                run.latencies[kind].extend(
                    words
                        .filter(|w| !w.is_empty())
                        .map(|w| w.parse::<u64>().unwrap()),
                );
            }
            Some("retries") => run.retries += words.next().unwrap().parse::<u64>().unwrap(),
            _ => {}
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn print(name: &str, run: &mut Run) {
    let total: usize = run.latencies.iter().map(Vec::len).sum();
    println!(
        "{name}: {total} transactions in {} s, {:.0} per second, {} collisions run again",
        seconds(),
        total as f64 / seconds() as f64,
        run.retries
    );
    for (kind, values) in run.latencies.iter_mut().enumerate() {
        values.sort_unstable();
        println!(
            "  {:<12} {:>6} p50 {:>7.2} ms p99 {:>7.2} ms",
            KINDS[kind],
            values.len(),
            percentile(values, 0.50),
            percentile(values, 0.99)
        );
    }
}

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("writer") {
        child();
        return;
    }
    // libtest's arguments (--bench, a filter) are accepted and ignored.
    let Some(cluster) = custdb_pgcluster::cluster() else {
        eprintln!("PostgreSQL is not installed: nothing measured");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shop = dir.path().join("shop.db");
    let customers = build_shop(&shop, VARIANTS, 10_000);
    // The customers' ids, for the writer processes (too many for the
    // environment).
    let ids = dir.path().join("customers.txt");
    std::fs::write(
        &ids,
        customers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();

    // SQLite's one writer, the same window.
    {
        let file = dir.path().join("sqlite.db");
        std::fs::copy(&shop, &file).unwrap();
        let store =
            Store::open_with(&file, Options::default().durability(Durability::Normal)).unwrap();
        let mut run = Run {
            latencies: Default::default(),
            retries: 0,
        };
        let out = run_window(store, customers.clone(), 45_434, now_ms());
        parse(&out, &mut run);
        print("sqlite, one writer (Normal durability)", &mut run);
    }

    for writers in [1usize, 2, 4, 8] {
        let name = cluster.empty_database();
        let connection = cluster.connection(&name);
        {
            let file = Store::open(&shop).unwrap();
            let server = Store::open_postgres(&connection).unwrap();
            file.copy_into(&server, |_, _| {}).unwrap();
            cluster.psql(&name, "VACUUM ANALYZE");
        }
        let start = now_ms() + 3_000;
        let children: Vec<_> = (0..writers)
            .map(|w| {
                Command::new(std::env::current_exe().unwrap())
                    .env(ROLE, "writer")
                    .env(DB, &connection)
                    .env(SEED, (45_434 + w as u64).to_string())
                    .env(START, start.to_string())
                    .env(CUSTOMERS_ENV, &ids)
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut run = Run {
            latencies: Default::default(),
            retries: 0,
        };
        for mut c in children {
            let lines: Vec<String> = BufReader::new(c.stdout.take().unwrap())
                .lines()
                .map(Result::unwrap)
                .collect();
            assert!(c.wait().unwrap().success(), "a writer failed");
            parse(&lines, &mut run);
        }
        print(&format!("postgres, {writers} writer processes"), &mut run);
        let store = Store::open_postgres(&connection).unwrap();
        assert!(store.check().unwrap().is_ok());
        assert!(store.verify_audit().unwrap().is_ok());
    }
}
