//! Durable writes per second from 1, 2, 4, 8 and 16 threads at Full
//! durability: customer creates and one-line orders, as one-shot calls on
//! one shared `Store`, with group commit (the default) and without, beside
//! raw rusqlite running the same statements with one commit per
//! transaction (each thread on its own connection, as hand-written code
//! would). With the `postgres` feature and a PostgreSQL server
//! (docs/SCALING.md, "Testing against PostgreSQL"), the same on
//! PostgreSQL.
//!
//! ```text
//! cargo bench --features bench-internals --bench group_commit
//! cargo bench --features bench-internals,postgres --bench group_commit
//! CUSTDB_GROUP_SECONDS=5 cargo bench --features bench-internals --bench group_commit
//! CUSTDB_GROUP_ENGINE=postgres cargo bench --features bench-internals,postgres --bench group_commit
//! ```
//!
//! docs/PERFORMANCE.md ("Group commit") records the results. Throughput
//! over a fixed time, not criterion: the figure is operations per second
//! under concurrency, which criterion's single-threaded loop does not
//! measure.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::people::{new_customer, raw_create};
use common::raw_connection_through;
use common::shop::{build_shop, raw_place, sku, VARIANTS};
use custdb::{Currency, CustomerId, Durability, NewOrder, NewOrderLine, Options, Store};
use rusqlite::TransactionBehavior;

const THREADS: [usize; 5] = [1, 2, 4, 8, 16];

#[derive(Clone, Copy, PartialEq)]
enum Operation {
    CustomerCreate,
    OrderOneLine,
}

impl Operation {
    fn label(self) -> &'static str {
        match self {
            Operation::CustomerCreate => "customer create",
            Operation::OrderOneLine => "order place, 1 line",
        }
    }
}

fn seconds() -> Duration {
    Duration::from_secs_f64(
        std::env::var("CUSTDB_GROUP_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0),
    )
}

/// Runs `work(thread, n)` on `threads` threads for the measurement time;
/// operations per second.
fn throughput(threads: usize, work: impl Fn(usize, u64) + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (stop, done, work) = (&stop, &done, &work);
            scope.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    work(t, n);
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(seconds());
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A one-line order of one unit of the thread's own variant (so that
/// threads do not queue on one stock row).
fn order(customer: CustomerId, thread: usize) -> NewOrder {
    NewOrder::for_customer(customer, Currency::GBP)
        .line(NewOrderLine::new(sku(thread % VARIANTS), 1))
}

/// The disk the SQLite sides write to: as it is, or (through the test VFS)
/// with every sync made slower.
#[derive(Clone, Copy)]
struct Disk {
    extra_sync: Duration,
}

impl Disk {
    fn vfs(self) -> Option<&'static str> {
        custdb_faultvfs::set_sync_delay(self.extra_sync);
        (!self.extra_sync.is_zero()).then(custdb_faultvfs::register)
    }
}

/// One call of `operation` by thread `t`, its `n`th, as a one-shot call.
fn one_call(store: &Store, operation: Operation, customer: CustomerId, t: usize, n: u64) {
    match operation {
        Operation::CustomerCreate => {
            store
                .customers()
                .create(new_customer(1_000_000 * (t + 1) + n as usize))
                .unwrap();
        }
        Operation::OrderOneLine => {
            store.orders().place(order(customer, t)).unwrap();
        }
    }
}

/// custdb on a new shop file; operations per second, and units per commit.
fn custdb_side(
    dir: &Path,
    disk: Disk,
    durability: Durability,
    operation: Operation,
    threads: usize,
    group: bool,
) -> (f64, f64) {
    let path = dir.join(format!("custdb-{}-{threads}-{group}.db", operation.label()));
    let _ = std::fs::remove_file(&path);
    let customer = build_shop(&path, VARIANTS, 1)[0];
    let mut options = Options::default()
        .durability(durability)
        .group_commit(group);
    if let Some(vfs) = disk.vfs() {
        options = options.vfs(vfs);
    }
    let store = Store::open_with(&path, options).unwrap();
    let before = store.write_stats();
    let rate = throughput(threads, |t, n| one_call(&store, operation, customer, t, n));
    let after = store.write_stats();
    let per_commit =
        (after.units - before.units) as f64 / (after.commits - before.commits).max(1) as f64;
    (rate, per_commit)
}

/// Raw rusqlite: a connection per thread, `BEGIN IMMEDIATE` ... `COMMIT`.
fn raw_side(dir: &Path, disk: Disk, operation: Operation, threads: usize) -> f64 {
    let path = dir.join(format!("raw-{}-{threads}.db", operation.label()));
    let _ = std::fs::remove_file(&path);
    let customer = build_shop(&path, VARIANTS, 1)[0];
    let vfs = disk.vfs();
    let connections: Vec<_> = (0..threads)
        .map(|_| std::sync::Mutex::new(raw_connection_through(&path, "FULL", vfs)))
        .collect();
    throughput(threads, |t, n| {
        let conn = connections[t].lock().unwrap();
        match operation {
            Operation::CustomerCreate => {
                let tx =
                    rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
                        .unwrap();
                raw_create(&tx, 1_000_000 * (t + 1) + n as usize);
                tx.commit().unwrap();
            }
            Operation::OrderOneLine => {
                raw_place(&conn, customer, &[(t % VARIANTS, 1)]);
            }
        }
    })
}

/// custdb on PostgreSQL, when a server is at hand: one that waits for the
/// disk at each commit (`fsync` and `synchronous_commit` on), as the
/// SQLite side does at Full durability.
#[cfg(feature = "postgres")]
fn postgres_side(operation: Operation, threads: usize) -> Option<f64> {
    postgres_side_on(custdb_pgcluster::durable_cluster()?, operation, threads)
}

/// One thread on the tests' cluster, which does not wait for the disk: what
/// a unit of work costs without its flush.
#[cfg(feature = "postgres")]
fn postgres_ceiling(operation: Operation) -> Option<f64> {
    postgres_side_on(custdb_pgcluster::cluster()?, operation, 1)
}

#[cfg(not(feature = "postgres"))]
fn postgres_ceiling(_operation: Operation) -> Option<f64> {
    None
}

#[cfg(feature = "postgres")]
fn postgres_side_on(
    cluster: &custdb_pgcluster::Cluster,
    operation: Operation,
    threads: usize,
) -> Option<f64> {
    let connection = cluster.connection(&cluster.empty_database());
    let store = Store::open_postgres(&connection).unwrap();
    let customer = common::shop::build_shop_in(&store, VARIANTS, 1)[0];
    Some(throughput(threads, |t, n| {
        one_call(&store, operation, customer, t, n)
    }))
}

#[cfg(not(feature = "postgres"))]
fn postgres_side(_operation: Operation, _threads: usize) -> Option<f64> {
    None
}

fn main() {
    // `cargo test --benches` runs this binary without `--bench`: measure
    // nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::var("CUSTDB_GROUP_ENGINE").as_deref() == Ok("postgres") {
        postgres_only();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let slow_ms: f64 = std::env::var("CUSTDB_GROUP_SLOW_SYNC_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let disks = [
        ("this machine's disk", Duration::ZERO),
        (
            "a disk whose sync takes longer",
            Duration::from_secs_f64(slow_ms / 1000.0),
        ),
    ];
    for (disk_name, extra_sync) in disks {
        let disk = Disk { extra_sync };
        for operation in [Operation::CustomerCreate, Operation::OrderOneLine] {
            let ceiling = custdb_side(dir.path(), disk, Durability::Normal, operation, 1, true).0;
            println!(
                "\n## {} per second, Full durability, {disk_name} (+{:.1} ms per sync; {:.0} s each)\n",
                operation.label(),
                extra_sync.as_secs_f64() * 1000.0,
                seconds().as_secs_f64()
            );
            println!("One thread at Normal durability (no sync at commit; what a commit costs without its sync): {ceiling:.0} per second.\n");
            println!("| Threads | custdb, group commit | units per commit | custdb, one commit per unit | raw rusqlite | custdb on PostgreSQL |");
            println!("|---:|---:|---:|---:|---:|---:|");
            let mut first = None;
            for threads in THREADS {
                let (grouped, per_commit) =
                    custdb_side(dir.path(), disk, Durability::Full, operation, threads, true);
                let (alone, _) = custdb_side(
                    dir.path(),
                    disk,
                    Durability::Full,
                    operation,
                    threads,
                    false,
                );
                let raw = raw_side(dir.path(), disk, operation, threads);
                // The server's disk is its own: measured once.
                let postgres = if extra_sync.is_zero() {
                    postgres_side(operation, threads)
                        .map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"))
                } else {
                    "-".to_owned()
                };
                let base = *first.get_or_insert(grouped);
                println!(
                    "| {threads} | {grouped:.0} ({:.1}x) | {per_commit:.1} | {alone:.0} | {raw:.0} | {postgres} |",
                    grouped / base
                );
            }
        }
    }
}

/// `CUSTDB_GROUP_ENGINE=postgres`: the PostgreSQL column alone, with each
/// rate's ratio to one thread's. With `CUSTDB_GROUP_PG_SLOW_SYNC_MS`, the
/// server's syncs take that much longer: `strace` (with a seccomp filter,
/// so that only the sync calls stop) delays each `fsync` and `fdatasync`
/// of the durable cluster's processes, as the SQLite side's test VFS
/// delays its syncs.
fn postgres_only() {
    let _slow = std::env::var("CUSTDB_GROUP_PG_SLOW_SYNC_MS")
        .ok()
        .and_then(|ms| ms.parse::<f64>().ok())
        .and_then(slow_postgres_syncs);
    for operation in [Operation::CustomerCreate, Operation::OrderOneLine] {
        println!(
            "\n## {} per second on PostgreSQL, fsync and synchronous_commit on ({:.0} s each)\n",
            operation.label(),
            seconds().as_secs_f64()
        );
        if let Some(ceiling) = postgres_ceiling(operation) {
            println!("One thread on a server that does not wait for the disk: {ceiling:.0} per second.\n");
        }
        println!("| Threads | custdb on PostgreSQL |");
        println!("|---:|---:|");
        let mut first = None;
        for threads in THREADS {
            let Some(rate) = postgres_side(operation, threads) else {
                println!("(no PostgreSQL server)");
                return;
            };
            let base = *first.get_or_insert(rate);
            println!("| {threads} | {rate:.0} ({:.1}x) |", rate / base);
        }
    }
}

/// Delays every sync of the durable cluster's server processes (the
/// postmaster and the backends it starts from now on) by `ms`, until the
/// returned guard drops.
#[cfg(feature = "postgres")]
fn slow_postgres_syncs(ms: f64) -> Option<SlowSyncs> {
    let cluster = custdb_pgcluster::durable_cluster()?;
    let pid_file = std::fs::read_to_string(cluster.dir().join("data/postmaster.pid")).ok()?;
    let postmaster = pid_file.lines().next()?.trim().to_owned();
    let delay_us = (ms * 1000.0).round() as u64;
    // Every process of the server (the WAL writer and the checkpointer
    // sync too), and -f for the backends forked later.
    let mut pids = vec![postmaster.clone()];
    let children = std::process::Command::new("pgrep")
        .args(["-P", &postmaster])
        .output()
        .ok()?;
    pids.extend(
        String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_owned),
    );
    let mut command = std::process::Command::new("strace");
    command.args(["-f", "-qq", "--seccomp-bpf", "-o", "/dev/null"]);
    command.args(["-e", "trace=fsync,fdatasync"]);
    command.args([
        "-e",
        &format!("inject=fsync,fdatasync:delay_exit={delay_us}"),
    ]);
    for pid in &pids {
        command.args(["-p", pid]);
    }
    let child = command.spawn().ok()?;
    // Let strace attach before the first connection.
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "(PostgreSQL's syncs delayed by {ms} ms: strace on {} processes)",
        pids.len()
    );
    Some(SlowSyncs(child))
}

#[cfg(not(feature = "postgres"))]
fn slow_postgres_syncs(_ms: f64) -> Option<SlowSyncs> {
    None
}

/// The strace process that slows the server's syncs; killed on drop.
struct SlowSyncs(std::process::Child);

impl Drop for SlowSyncs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
