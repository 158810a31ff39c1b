//! Crash tests. A child process (this same test binary, started again with
//! `CUSTDB_CRASH_ROLE` set) performs writes and prints a line for each
//! commit custdb has acknowledged; the parent kills it with SIGKILL at a
//! random point (after a random number of acknowledgements, then a random
//! delay, so most kills land inside a transaction), reopens the file and
//! checks: `store.check()` clean (which includes SQLite's
//! `integrity_check`), every acknowledged commit present under Full
//! durability, and under Normal at most a missing tail. The database
//! carries over from one kill to the next, so recovery runs on top of
//! recovery. Four threads whose one-shot calls share commits (group
//! commit) are killed too: every acknowledged call there, no failed one,
//! nothing but a call in flight besides. Kills also land inside a migration (a version 1 file being
//! upgraded) and inside a backup. With the `postgres` feature, a writer on
//! a PostgreSQL database is killed too: no half-written order, no stuck
//! reservation (`check()`), every acknowledged commit there.
//!
//! ```text
//! cargo test --test crash                          # 240 kill points
//! CUSTDB_CRASH_KILLS=2000 cargo test --release --test crash
//! ```
//!
//! A plain `main` (no libtest harness), because the child is this binary.

use custdb::Currency;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use custdb::{
    CollectionMethod, ConsentState, CustomerId, DataCategory, Decimal, Durability, LawfulBasis,
    NewConsent, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewPurpose, NewVariant,
    NewWarehouse, Options, OrderId, Store,
};
use rand::{Rng, SeedableRng};

const ROLE: &str = "CUSTDB_CRASH_ROLE";
const DB: &str = "CUSTDB_CRASH_DB";
const DURABILITY: &str = "CUSTDB_CRASH_DURABILITY";
const START: &str = "CUSTDB_CRASH_START";
/// Threads of the group-commit writer.
const GROUP_THREADS: u64 = 4;
/// Units of stock the writer starts with (never runs out in a test).
const INITIAL_STOCK: i64 = 1_000_000;
/// Units each adjustment adds.
const ADJUST_UNITS: i64 = 5;

fn durability_of(name: &str) -> Durability {
    match name {
        "normal" => Durability::Normal,
        _ => Durability::Full,
    }
}

// ---------------------------------------------------------------- children

/// The writer: one write per step, rotating through the four kinds, and an
/// acknowledgement line after each commit returns.
fn writer(store: Store, start: u64) {
    let (variant, warehouse) = store
        .write(|tx| {
            if let Ok(v) = tx.catalog().variant_by_sku("CRASH") {
                let w = tx.inventory().warehouse_by_code("W")?;
                return Ok::<_, custdb::Error>((v.id, w.id));
            }
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            let p = tx
                .catalog()
                .create_product(NewProduct::new("Crash").variant(NewVariant::new(
                    "CRASH",
                    Decimal::new(100, 2),
                    Currency::GBP,
                )))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("W", "Warehouse"))?;
            tx.inventory()
                .receive(p.variants[0].id, w.id, INITIAL_STOCK)?;
            Ok((p.variants[0].id, w.id))
        })
        .unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut last_customer: Option<CustomerId> = None;
    for i in start.. {
        let line = match i % 4 {
            0 => {
                let c = store
                    .customers()
                    .create(
                        NewCustomer::new(format!("Crash {i}")).email(format!("c{i}@example.com")),
                    )
                    .unwrap();
                last_customer = Some(c.id);
                format!("customer {i} {}", c.id)
            }
            1 => {
                store
                    .write(|tx| {
                        tx.inventory().adjust(
                            variant,
                            warehouse,
                            ADJUST_UNITS,
                            &format!("crash {i}"),
                        )
                    })
                    .unwrap();
                format!("adjust {i}")
            }
            2 => {
                let order = match last_customer {
                    Some(c) => NewOrder::for_customer(c, Currency::GBP),
                    None => NewOrder::for_guest(format!("g{i}@example.com"), Currency::GBP),
                }
                .line(NewOrderLine::new("CRASH", 1));
                let o = store.write(|tx| tx.orders().place(order)).unwrap();
                format!("order {i} {}", o.id)
            }
            _ => match last_customer {
                Some(c) => {
                    store
                        .write(|tx| {
                            tx.consent().record(
                                NewConsent::new(
                                    c,
                                    "marketing",
                                    ConsentState::Given,
                                    CollectionMethod::WebForm,
                                )
                                .notice("v1", "Offers by email"),
                            )
                        })
                        .unwrap();
                    format!("consent {i} {c}")
                }
                None => format!("skip {i}"),
            },
        };
        // Printed only after the commit returned: an acknowledged write.
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    }
}

/// Four threads of one-shot calls sharing commits (group commit): each
/// creates customers named `g<run>-<thread>-<i>`, and every fifth call
/// repeats the thread's previous email, which fails and must leave
/// nothing. A line per call once it returned: `ack <name>` or
/// `fail <name>`.
fn group_writer(store: Store, run: u64) {
    println!("ready");
    std::io::stdout().flush().unwrap();
    let threads: Vec<_> = (0..GROUP_THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let name = format!("g{run}-{t}-{i}");
                    let email = if i % 5 == 4 {
                        format!("g{run}-{t}-{}@example.com", i - 1)
                    } else {
                        format!("{name}@example.com")
                    };
                    let line = match store
                        .customers()
                        .create(NewCustomer::new(name.clone()).email(email))
                    {
                        Ok(_) => format!("ack {name}"),
                        Err(e) if e.is_already_exists() => format!("fail {name}"),
                        Err(e) => panic!("{name}: {e:?}"),
                    };
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{line}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Opens (and so migrates) the file, then says so.
fn migrator(path: &Path) {
    let store = Store::open(path).unwrap();
    drop(store);
    println!("migrated");
}

/// Backs the file up again and again to numbered files.
fn backer(path: &Path) {
    let store = Store::open(path).unwrap();
    let dir = path.parent().unwrap();
    for n in 0.. {
        let dest = dir.join(format!("backup-{n}.db"));
        store.backup_to(&dest, |_| {}).unwrap();
        println!("backup {}", dest.display());
        std::io::stdout().flush().unwrap();
    }
}

// ---------------------------------------------------------------- parent

fn spawn(role: &str, path: impl AsRef<std::ffi::OsStr>, durability: &str, start: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env(DB, path)
        .env(DURABILITY, durability)
        .env(START, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// What the writer acknowledged, across every child so far.
#[derive(Default)]
struct Acked {
    /// Step numbers, in order.
    steps: Vec<u64>,
    customers: Vec<(u64, CustomerId)>,
    adjustments: Vec<u64>,
    orders: Vec<(u64, OrderId)>,
    consents: Vec<(u64, CustomerId)>,
}

impl Acked {
    fn record(&mut self, line: &str) {
        let parts: Vec<&str> = line.split(' ').collect();
        let step: u64 = parts[1].parse().unwrap();
        self.steps.push(step);
        match parts[0] {
            "customer" => self
                .customers
                .push((step, CustomerId::parse(parts[2], "id").unwrap())),
            "adjust" => self.adjustments.push(step),
            "order" => self
                .orders
                .push((step, OrderId::parse(parts[2], "id").unwrap())),
            "consent" => self
                .consents
                .push((step, CustomerId::parse(parts[2], "id").unwrap())),
            "skip" => {}
            other => panic!("unexpected line {other:?}"),
        }
    }
}

fn check_clean(store: &Store, what: &str) {
    let report = store.check().unwrap();
    assert!(report.is_ok(), "{what}: {:?}", report.problems);
}

/// The change feed after a kill: no change without its event and no event
/// without its change (these stores had the feed from their start, and
/// nothing is pruned). The customers and orders are exactly those the
/// feed announced, each once; every stock movement of the variant has its
/// `stock.changed` event, and the last one gives the level.
fn feed_matches(store: &Store, what: &str) {
    // On PostgreSQL, events are visible up to the chain step's watermark.
    store.verify_audit().unwrap();
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.changes().after(after, 1000).unwrap();
        let Some(last) = batch.last() else { break };
        after = last.position;
        events.extend(batch);
    }
    let of_kind = |kind: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.kind.as_str() == kind)
            .map(|e| e.entity_id.clone())
            .collect()
    };
    let announced = |kind: &str| -> BTreeSet<String> {
        let ids = of_kind(kind);
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(set.len(), ids.len(), "{what}: a {kind} event twice");
        set
    };
    let customers: BTreeSet<String> = store
        .read(|r| {
            custdb::Page::all(|c| {
                r.customers().list(
                    &custdb::CustomerFilter::default().archived(custdb::ArchiveState::All),
                    c,
                    500,
                )
            })
            .map(|c| c.map(|c| c.id.to_string()))
            .collect::<custdb::Result<_>>()
        })
        .unwrap();
    assert_eq!(
        announced("customer.created"),
        customers,
        "{what}: customers"
    );
    let mut orders = BTreeSet::new();
    store
        .read(|r| {
            r.orders().each_order(|o| {
                orders.insert(o.id.to_string());
                Ok(())
            })
        })
        .unwrap();
    assert_eq!(announced("order.placed"), orders, "{what}: orders");
    let Ok(variant) = store.read(|r| r.catalog().variant_by_sku("CRASH")) else {
        return;
    };
    let movements = store
        .read(|r| {
            custdb::Page::all(|c| r.inventory().movements(variant.id, c, 1000))
                .collect::<custdb::Result<Vec<_>>>()
        })
        .unwrap();
    let stock: Vec<&custdb::ChangeEvent> = events
        .iter()
        .filter(|e| e.kind.as_str() == "stock.changed" && e.entity_id == variant.id.to_string())
        .collect();
    assert_eq!(stock.len(), movements.len(), "{what}: stock events");
    let level = store
        .read(|r| r.inventory().levels(variant.id))
        .unwrap()
        .into_iter()
        .next()
        .map(|l| (l.on_hand, l.reserved));
    let last = stock
        .last()
        .map(|e| (e.facts.on_hand.unwrap(), e.facts.reserved.unwrap()));
    assert_eq!(last, level, "{what}: the last stock event gives the level");
}

/// The steps of `acked` that the reopened store no longer has.
fn missing_steps(store: &Store, acked: &Acked) -> BTreeSet<u64> {
    let mut missing = BTreeSet::new();
    for (step, id) in &acked.customers {
        if store.customers().get(*id).is_err() {
            missing.insert(*step);
        }
    }
    for (step, id) in &acked.orders {
        if store.read(|r| r.orders().get(*id)).is_err() {
            missing.insert(*step);
        }
    }
    for (step, id) in &acked.consents {
        let state = store
            .read(|r| r.consent().state_at(*id, "marketing", chrono::Utc::now()))
            .ok()
            .flatten();
        if state.is_none_or(|s| s.state != ConsentState::Given) {
            missing.insert(*step);
        }
    }
    // Adjustments are found by their reason, "crash <step>".
    let present: BTreeSet<u64> = store
        .read(|r| {
            let v = r.catalog().variant_by_sku("CRASH")?;
            let mut found = BTreeSet::new();
            let mut cursor = None;
            loop {
                let page = r.inventory().movements(v.id, cursor.as_ref(), 1000)?;
                found.extend(page.items.iter().filter_map(|m| {
                    m.reason
                        .as_deref()?
                        .strip_prefix("crash ")?
                        .parse::<u64>()
                        .ok()
                }));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return Ok::<_, custdb::Error>(found),
                }
            }
        })
        .unwrap();
    for step in &acked.adjustments {
        if !present.contains(step) {
            missing.insert(*step);
        }
    }
    missing
}

/// Kill points against a writer at one durability level.
fn writer_kills(dir: &Path, durability: &str, kills: usize, rng: &mut impl Rng) -> usize {
    let path = dir.join(format!("writer-{durability}.db"));
    let open = || {
        Store::open_with(
            &path,
            Options::default().durability(durability_of(durability)),
        )
        .unwrap()
    };
    let (lost, acked) = kill_writers(
        "writer",
        path.as_os_str(),
        durability,
        durability == "full",
        &open,
        kills,
        rng,
    );
    println!("crash/{durability}: {kills} kills, {acked} commits acknowledged, {lost} lost");
    kills
}

/// Kill points against a writer on PostgreSQL: the server rolls back
/// whatever the killed client had not committed, and every acknowledged
/// commit is there (its durability is the server's).
#[cfg(feature = "postgres")]
fn postgres_writer_kills(kills: usize, rng: &mut impl Rng) -> usize {
    let Some(cluster) = custdb_pgcluster::cluster() else {
        return 0;
    };
    let connection = cluster.connection(&cluster.empty_database());
    let open = || Store::open_postgres(&connection).unwrap();
    let (_, acked) = kill_writers(
        "pg-writer",
        std::ffi::OsStr::new(&connection),
        "full",
        true,
        &open,
        kills,
        rng,
    );
    println!("crash/postgres: {kills} kills, {acked} commits acknowledged, none lost");
    kills
}

/// Starts the writer `role` again and again on `db`, killing it each
/// time; after each kill, `open` reopens the store, which must be clean
/// and hold every acknowledged commit (`every_ack`) or lose at most a
/// tail. Returns (commits lost, commits acknowledged).
fn kill_writers(
    role: &str,
    db: &std::ffi::OsStr,
    durability: &str,
    every_ack: bool,
    open: &dyn Fn() -> Store,
    kills: usize,
    rng: &mut impl Rng,
) -> (usize, usize) {
    let mut acked = Acked::default();
    let mut next_step = 0u64;
    let mut lost_total = 0;
    for kill in 0..kills {
        let mut child = spawn(role, db, durability, next_step);
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let wait_acks = rng.random_range(0..12);
        for _ in 0..wait_acks {
            let line = lines.next().unwrap().unwrap();
            acked.record(&line);
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Acknowledgements printed before the kill are still in the pipe.
        for line in lines {
            acked.record(&line.unwrap());
        }
        next_step = acked
            .steps
            .last()
            .map_or(next_step, |s| s + 1)
            .max(next_step);
        // The step in flight at the kill is skipped by the next child, so
        // an unacknowledged commit of it cannot collide with a new one.
        next_step += 1;

        let store = open();
        check_clean(&store, &format!("{role} {durability} kill {kill}"));
        feed_matches(&store, &format!("{role} {durability} kill {kill}"));
        let missing = missing_steps(&store, &acked);
        if every_ack {
            assert!(
                missing.is_empty(),
                "kill {kill}: acknowledged commits lost at Full durability: {missing:?}"
            );
        } else if let Some(first) = missing.first() {
            // Normal: only a tail may be missing.
            let tail: BTreeSet<u64> = acked.steps.iter().copied().filter(|s| s >= first).collect();
            assert!(
                missing.is_subset(&tail) && tail.iter().all(|s| missing.contains(s)),
                "kill {kill}: a hole, not a tail, is missing: {missing:?}"
            );
            lost_total += missing.len();
            // What is lost is gone: forget it so later checks are exact.
            acked.steps.retain(|s| s < first);
            acked.customers.retain(|(s, _)| s < first);
            acked.adjustments.retain(|s| s < first);
            acked.orders.retain(|(s, _)| s < first);
            acked.consents.retain(|(s, _)| s < first);
        }
    }
    (lost_total, acked.steps.len())
}

/// Kill points inside the migration of a version 1 file.
fn migration_kills(dir: &Path, kills: usize, rng: &mut impl Rng) -> usize {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.db");
    let customers_in_fixture = {
        let work = dir.join("measure.db");
        std::fs::copy(&fixture, &work).unwrap();
        let started = Instant::now();
        let mut child = spawn("migrate", &work, "full", 0);
        child.wait().unwrap();
        let took = started.elapsed();
        let store = Store::open(&work).unwrap();
        check_clean(&store, "migration measured");
        let count = store
            .customers()
            .list(&custdb::CustomerFilter::default(), None, 1000)
            .unwrap()
            .items
            .len();
        println!("crash/migration: a full migration run takes {took:?}");
        (count, took)
    };
    let (count, took) = customers_in_fixture;
    // The schema version each kill left the file at (before reopening).
    let mut left_at = std::collections::BTreeMap::<i64, usize>::new();
    for kill in 0..kills {
        let work = dir.join(format!("migrate-{kill}.db"));
        std::fs::copy(&fixture, &work).unwrap();
        let mut child = spawn("migrate", &work, "full", 0);
        let delay = rng.random_range(0..took.as_micros().max(1) as u64);
        std::thread::sleep(Duration::from_micros(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        let version: i64 = rusqlite::Connection::open(&work)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        *left_at.entry(version).or_default() += 1;
        // Reopening finishes (or redoes) the migration; nothing is lost.
        let store = Store::open(&work).unwrap();
        check_clean(&store, &format!("migration kill {kill}"));
        let now = store
            .customers()
            .list(&custdb::CustomerFilter::default(), None, 1000)
            .unwrap()
            .items
            .len();
        assert_eq!(now, count, "migration kill {kill}: customers lost");
        drop(store);
        let _ = std::fs::remove_file(&work);
    }
    println!("crash/migration: {kills} kills; schema version each left: {left_at:?}");
    kills
}

/// Kill points inside backups: the source stays whole; a backup that was
/// reported done restores; a cut one is refused by `restore` or, if SQLite
/// finds it whole, passes the same checks.
fn backup_kills(dir: &Path, kills: usize, rng: &mut impl Rng) -> usize {
    let source = dir.join("backup-source.db");
    {
        let store = Store::open(&source).unwrap();
        store
            .write(|tx| {
                for n in 0..3_000 {
                    tx.customers().create(
                        NewCustomer::new(format!("Backed {n}")).email(format!("b{n}@example.com")),
                    )?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
    }
    let mut refused = 0;
    for kill in 0..kills {
        let run = dir.join(format!("backup-run-{kill}"));
        std::fs::create_dir_all(&run).unwrap();
        let src = run.join("source.db");
        std::fs::copy(&source, &src).unwrap();
        let mut child = spawn("backup", &src, "full", 0);
        let stdout = child.stdout.take().unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(0..60_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        let done: Vec<PathBuf> = BufReader::new(stdout)
            .lines()
            .map(|l| PathBuf::from(l.unwrap().trim_start_matches("backup ").to_owned()))
            .collect();
        let store = Store::open(&src).unwrap();
        check_clean(&store, &format!("backup kill {kill}: source"));
        drop(store);
        for entry in std::fs::read_dir(&run).unwrap() {
            let file = entry.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("backup-") || !name.ends_with(".db") {
                continue;
            }
            let target = run.join(format!("restored-{name}"));
            match Store::restore(&file, &target, Options::default()) {
                Ok(restored) => {
                    check_clean(&restored, &format!("backup kill {kill}: {name}"));
                }
                Err(e) => {
                    assert!(
                        !done.contains(&file),
                        "backup kill {kill}: a completed backup {name} does not restore: {e}"
                    );
                    refused += 1;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&run);
    }
    println!("crash/backup: {kills} kills, {refused} cut backups refused by restore");
    kills
}

/// Kill points against four threads whose one-shot calls share commits
/// at Full durability: after each kill, every acknowledged call is there,
/// no failed one is, and nothing else is but the one call each thread had
/// in flight (committed, not yet acknowledged).
fn group_kills(dir: &Path, kills: usize, rng: &mut impl Rng) -> usize {
    let path = dir.join("group.db");
    let mut acked = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let mut in_flight = BTreeSet::new();
    for run in 0..kills as u64 {
        let mut child = spawn("group-writer", &path, "full", run);
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let mut last = vec![None::<u64>; GROUP_THREADS as usize];
        let mut record = |line: &str, last: &mut Vec<Option<u64>>| {
            let (verdict, name) = line.split_once(' ').unwrap();
            let parts: Vec<u64> = name[1..].split('-').map(|p| p.parse().unwrap()).collect();
            last[parts[1] as usize] = Some(parts[2]);
            match verdict {
                "ack" => acked.insert(name.to_owned()),
                "fail" => failed.insert(name.to_owned()),
                other => panic!("unexpected line {other:?}"),
            };
        };
        for _ in 0..rng.random_range(0..40) {
            record(&lines.next().unwrap().unwrap(), &mut last);
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        for line in lines {
            record(&line.unwrap(), &mut last);
        }
        for (t, i) in last.iter().enumerate() {
            in_flight.insert(format!("g{run}-{t}-{}", i.map_or(0, |i| i + 1)));
        }
        let store = Store::open(&path).unwrap();
        check_clean(&store, &format!("group kill {run}"));
        feed_matches(&store, &format!("group kill {run}"));
        assert!(
            store.verify_audit().unwrap().is_ok(),
            "group kill {run}: audit chain"
        );
        let filter = custdb::CustomerFilter::default();
        let present: BTreeSet<String> =
            custdb::Page::all(|after| store.customers().list(&filter, after, 1000))
                .map(|c| c.unwrap().display_name)
                .collect();
        let lost: Vec<_> = acked.difference(&present).collect();
        assert!(
            lost.is_empty(),
            "group kill {run}: acknowledged calls lost: {lost:?}"
        );
        let kept: Vec<_> = failed.intersection(&present).collect();
        assert!(
            kept.is_empty(),
            "group kill {run}: failed calls kept: {kept:?}"
        );
        let unknown: Vec<_> = present
            .iter()
            .filter(|n| !acked.contains(*n) && !in_flight.contains(*n))
            .collect();
        assert!(
            unknown.is_empty(),
            "group kill {run}: calls never made or acknowledged: {unknown:?}"
        );
    }
    println!(
        "crash/group: {kills} kills, {} calls acknowledged, {} failed",
        acked.len(),
        failed.len()
    );
    kills
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let path = PathBuf::from(std::env::var(DB).unwrap());
        let durability = durability_of(&std::env::var(DURABILITY).unwrap_or_default());
        let start = std::env::var(START).map_or(0, |s| s.parse().unwrap());
        match role.as_str() {
            "writer" => writer(
                Store::open_with(&path, Options::default().durability(durability)).unwrap(),
                start,
            ),
            #[cfg(feature = "postgres")]
            "pg-writer" => writer(
                Store::open_postgres(&std::env::var(DB).unwrap()).unwrap(),
                start,
            ),
            "group-writer" => group_writer(
                Store::open_with(&path, Options::default().durability(Durability::Full)).unwrap(),
                start,
            ),
            "migrate" => migrator(&path),
            "backup" => backer(&path),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    // libtest's arguments (a filter, --nocapture...) are accepted and
    // ignored: this binary is one test.
    let kills: usize = std::env::var("CUSTDB_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(240);
    let seed: u64 = std::env::var("CUSTDB_CRASH_SEED")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    println!("crash: seed {seed} (CUSTDB_CRASH_SEED={seed} repeats this run)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let groups = (kills / 12).max(1);
    let kills = kills.saturating_sub(groups).max(4);
    let writers = kills * 5 / 12;
    let mut total = 0;
    total += group_kills(dir.path(), groups, &mut rng);
    total += writer_kills(dir.path(), "full", writers, &mut rng);
    total += writer_kills(dir.path(), "normal", writers, &mut rng);
    total += migration_kills(dir.path(), (kills - 2 * writers) / 2, &mut rng);
    total += backup_kills(
        dir.path(),
        kills - 2 * writers - (kills - 2 * writers) / 2,
        &mut rng,
    );
    #[cfg(feature = "postgres")]
    {
        total += postgres_writer_kills((kills / 6).max(1), &mut rng);
    }
    println!(
        "crash: {total} kill points in {:.1} s, all checks passed",
        started.elapsed().as_secs_f64()
    );
}
