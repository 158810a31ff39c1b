//! What each write costs on disk, and in system calls.
//!
//! For each operation (customer create, address add, order place of 1, 5
//! and 15 lines, pay, ship, consent record) on a populated shop file at
//! Normal durability, this benchmark truncates the WAL, runs the operation
//! once as its own unit of work, and reads the frames it appended: the WAL
//! bytes, the distinct pages, and which B-tree each page belongs to (from
//! SQLite's `dbstat` table). It prints the averages as the table in
//! docs/PERFORMANCE.md ("Pages per operation").
//!
//! The minimum beside each figure is what the same rows would cost in
//! tables with only their primary keys: the pages of the tables' own
//! B-trees (a rowid table, its primary-key index, a `WITHOUT ROWID`
//! table). Secondary indexes, the full-text index and the pages SQLite
//! writes for the file itself (page 1 when the file grows) are what custdb
//! adds to that. A last column runs the operation 8 times in one
//! transaction: what each costs when group commit gives 8 of them one
//! commit, as it does under load (docs/RELIABILITY.md, "Group commit").
//!
//! With `strace` on the PATH, it then counts the system calls of each
//! operation (and of a read through the pool): it traces this binary
//! running the operation's preparation alone and preparation plus
//! operation, 200 times each, and divides the difference by 200.
//!
//! ```text
//! cargo bench --features bench-internals --bench pages
//! CUSTDB_PAGES_DETAIL=1 cargo bench --features bench-internals --bench pages   # per B-tree
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::people::new_customer;
use common::shop::{build_shop, order_of};
use custdb::{
    AddressKind, CollectionMethod, ConsentState, CustomerId, DataCategory, Durability, LawfulBasis,
    NewAddress, NewConsent, NewPayment, NewPurpose, NewShipment, Options, Order, PaymentMethod,
    Store, WriteTx,
};
use rusqlite::{Connection, OpenFlags};

/// Customers (each with an address) and orders in the shop before any
/// measurement, so that the B-trees have the depth of a real shop's.
const CUSTOMERS: usize = 5_000;
const ORDERS: usize = 2_000;
/// Times each operation is measured; the table shows the mean.
const RUNS: usize = 40;
/// Operations per traced run when counting system calls.
const TRACED: usize = 200;

/// The operations measured, by name.
const OPERATIONS: [&str; 8] = [
    "customer create",
    "address add",
    "order place, 1 line",
    "order place, 5 lines",
    "order place, 15 lines",
    "pay",
    "ship",
    "consent record",
];

/// What an operation needs made before it runs (outside the measurement).
enum Prepared {
    Nothing,
    Placed(Order),
    Paid(Order),
}

/// The shop every measurement starts from.
struct Shop {
    store: Store,
    customers: Vec<CustomerId>,
    next: usize,
}

impl Shop {
    fn customer(&mut self) -> CustomerId {
        self.next += 1;
        self.customers[self.next % self.customers.len()]
    }

    fn prepare(&mut self, operation: &str) -> Prepared {
        let customer = self.customer();
        let place = |store: &Store| {
            store
                .write(|tx| tx.orders().place(order_of(customer, 1)))
                .unwrap()
        };
        match operation {
            "pay" => Prepared::Placed(place(&self.store)),
            "ship" => {
                let order = place(&self.store);
                pay(&self.store, &order);
                Prepared::Paid(order)
            }
            _ => Prepared::Nothing,
        }
    }

    fn run(&mut self, operation: &str, prepared: Prepared) {
        if operation == "customer read" {
            let customer = self.customer();
            std::hint::black_box(self.store.read(|r| r.customers().get(customer)).unwrap());
            return;
        }
        let store = self.store.clone();
        store
            .write(|tx| self.run_in(tx, operation, prepared))
            .unwrap();
    }

    /// `operation` inside the unit of work `tx`.
    fn run_in(
        &mut self,
        tx: &WriteTx<'_>,
        operation: &str,
        prepared: Prepared,
    ) -> custdb::Result<()> {
        let n = self.next;
        let customer = self.customer();
        match (operation, prepared) {
            ("customer create", _) => {
                tx.customers().create(new_customer(CUSTOMERS + n))?;
            }
            ("address add", _) => {
                tx.customers().add_address(
                    customer,
                    NewAddress::new(
                        AddressKind::Shipping,
                        format!("{n} High Street"),
                        "Leeds",
                        "GB",
                    )
                    .postal_code("LS1 4AP"),
                )?;
            }
            ("order place, 1 line", _) => {
                tx.orders().place(order_of(customer, 1))?;
            }
            ("order place, 5 lines", _) => {
                tx.orders().place(order_of(customer, 5))?;
            }
            ("order place, 15 lines", _) => {
                tx.orders().place(order_of(customer, 15))?;
            }
            ("pay", Prepared::Placed(order)) => {
                tx.orders().pay(
                    order.id,
                    NewPayment::new(PaymentMethod::Card, order.total.amount)
                        .provider("psp", "ref-1"),
                )?;
            }
            ("ship", Prepared::Paid(order)) => {
                tx.orders()
                    .ship(order.id, NewShipment::everything("DHL", format!("T{n}")))?;
            }
            ("consent record", _) => {
                // Each run gives consent for a customer who has not given it.
                tx.consent().record(
                    NewConsent::new(
                        customer,
                        "newsletter",
                        ConsentState::Given,
                        CollectionMethod::WebForm,
                    )
                    .notice("v1", "We send a newsletter once a month.")
                    .channel("website")
                    .jurisdiction("GB"),
                )?;
            }
            (other, _) => panic!("no operation {other:?}"),
        }
        Ok(())
    }
}

fn place(store: &Store, customer: CustomerId, lines: usize) {
    store
        .write(|tx| tx.orders().place(order_of(customer, lines)))
        .unwrap();
}

fn pay(store: &Store, order: &Order) {
    store
        .write(|tx| {
            tx.orders().pay(
                order.id,
                NewPayment::new(PaymentMethod::Card, order.total.amount).provider("psp", "ref-1"),
            )
        })
        .unwrap();
}

/// Writes the populated shop to `path` (closed again when this returns).
fn build(path: &Path) {
    let buyers = build_shop(path, common::shop::VARIANTS, 1);
    let store = Store::open(path).unwrap();
    let customers: Vec<CustomerId> = store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("newsletter", "Monthly newsletter", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            (0..CUSTOMERS)
                .map(|n| {
                    let c = tx.customers().create(new_customer(n))?;
                    tx.customers().add_address(
                        c.id,
                        NewAddress::new(
                            AddressKind::Billing,
                            format!("{n} Mill Lane"),
                            "York",
                            "GB",
                        ),
                    )?;
                    Ok::<_, custdb::Error>(c.id)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    let mut shop = Shop {
        store,
        customers: [buyers, customers].concat(),
        next: 0,
    };
    for i in 0..ORDERS {
        let customer = shop.customer();
        place(&shop.store, customer, 1 + i % 5);
    }
    shop.store.checkpoint().unwrap();
}

fn open(path: &Path) -> Shop {
    let store = Store::open_with(path, Options::default().durability(Durability::Normal)).unwrap();
    let filter = custdb::CustomerFilter::default();
    let customers = custdb::Page::all(|after| store.customers().list(&filter, after, 500))
        .map(|c| c.unwrap().id)
        .collect();
    Shop {
        store,
        customers,
        next: 0,
    }
}

/// What kind of B-tree a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    /// A table's own B-tree, or its primary-key index: the minimum.
    Row,
    /// A secondary index (unique or not).
    Index,
    /// The full-text index's tables.
    FullText,
    /// Page 1 and pages outside every B-tree (the freelist).
    File,
}

/// Each B-tree's kind, from the schema.
fn kinds(conn: &Connection) -> HashMap<String, Kind> {
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema")
        .unwrap();
    let schema: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let virtual_tables: Vec<&str> = schema
        .iter()
        .filter(|(_, _, _, sql)| sql.starts_with("CREATE VIRTUAL TABLE"))
        .map(|(_, name, _, _)| name.as_str())
        .collect();
    let mut kinds = HashMap::new();
    for (kind, name, table, _) in &schema {
        let full_text = virtual_tables
            .iter()
            .any(|v| name.starts_with(&format!("{v}_")) || table == v);
        let k = if full_text {
            Kind::FullText
        } else if kind == "table" {
            Kind::Row
        } else if kind == "index" {
            let primary: bool = conn
                .prepare(&format!(
                    "SELECT origin = 'pk' FROM pragma_index_list('{table}') WHERE name = ?1"
                ))
                .unwrap()
                .query_row([name], |r| r.get(0))
                .unwrap_or(false);
            if primary {
                Kind::Row
            } else {
                Kind::Index
            }
        } else {
            continue;
        };
        kinds.insert(name.clone(), k);
    }
    kinds
}

/// The pages one operation appended to the WAL.
struct Frames {
    bytes: u64,
    frames: usize,
    pages: BTreeSet<u32>,
}

fn read_wal(wal: &Path) -> Frames {
    let bytes = std::fs::read(wal).unwrap_or_default();
    if bytes.len() < 32 {
        return Frames {
            bytes: bytes.len() as u64,
            frames: 0,
            pages: BTreeSet::new(),
        };
    }
    let page_size = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let frame = 24 + page_size;
    let mut pages = BTreeSet::new();
    let mut frames = 0;
    let mut at = 32;
    while at + frame <= bytes.len() {
        pages.insert(u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()));
        frames += 1;
        at += frame;
    }
    Frames {
        bytes: bytes.len() as u64,
        frames,
        pages,
    }
}

/// The averages of one operation.
#[derive(Default)]
struct Tally {
    bytes: u64,
    frames: usize,
    pages: usize,
    by_kind: BTreeMap<Kind, usize>,
    by_tree: BTreeMap<String, usize>,
}

/// Operations of one kind that share a commit in the batched measurement,
/// as group commit makes them under load.
const SHARED: usize = 8;

fn measure(path: &Path) -> Vec<(&'static str, Tally, usize, f64)> {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let mut shop = open(path);
    let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let kinds = kinds(&reader);
    let page_size = reader
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize;
    let mut results = Vec::new();
    for operation in OPERATIONS {
        let mut tally = Tally::default();
        for _ in 0..RUNS {
            let prepared = shop.prepare(operation);
            assert!(shop.store.checkpoint().unwrap(), "the WAL was not emptied");
            shop.run(operation, prepared);
            let frames = read_wal(&wal);
            let owner: HashMap<u32, String> = reader
                .prepare("SELECT pageno, name FROM dbstat")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            if std::env::var_os("CUSTDB_PAGES_RUNS").is_some() {
                let trees: Vec<String> = frames
                    .pages
                    .iter()
                    .map(|p| format!("{p}:{}", owner.get(p).map(String::as_str).unwrap_or("-")))
                    .collect();
                println!("{operation}: {}", trees.join(" "));
            }
            tally.bytes += frames.bytes;
            tally.frames += frames.frames;
            tally.pages += frames.pages.len();
            for page in &frames.pages {
                let (kind, tree) = match owner.get(page) {
                    Some(name) if *page != 1 => {
                        (kinds.get(name).copied().unwrap_or(Kind::File), name.clone())
                    }
                    _ => (Kind::File, format!("page {page}")),
                };
                *tally.by_kind.entry(kind).or_default() += 1;
                *tally.by_tree.entry(tree).or_default() += 1;
            }
        }
        // The same operation, SHARED of them in one transaction: what
        // each costs when group commit puts them in one commit.
        let mut batched = 0u64;
        for _ in 0..RUNS / 4 {
            let prepared: Vec<Prepared> = (0..SHARED).map(|_| shop.prepare(operation)).collect();
            assert!(shop.store.checkpoint().unwrap(), "the WAL was not emptied");
            let store = shop.store.clone();
            store
                .write(|tx| {
                    for p in prepared {
                        shop.run_in(tx, operation, p)?;
                    }
                    Ok::<_, custdb::Error>(())
                })
                .unwrap();
            batched += read_wal(&wal).bytes;
        }
        let per_unit = batched as f64 / (RUNS / 4 * SHARED) as f64;
        results.push((operation, tally, page_size, per_unit));
    }
    results
}

fn mean(total: u64) -> f64 {
    total as f64 / RUNS as f64
}

fn print_pages(results: &[(&'static str, Tally, usize, f64)]) {
    println!("\n## Pages per operation (Normal durability, mean of {RUNS})\n");
    println!("| Operation | WAL bytes | Frames | Distinct pages | Rows' own B-trees (minimum) | Minimum WAL bytes | Secondary indexes | Full-text | File | WAL bytes each, {SHARED} per commit |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (operation, tally, page_size, per_unit) in results {
        let kind = |k: Kind| mean(*tally.by_kind.get(&k).unwrap_or(&0) as u64);
        let minimum_bytes = kind(Kind::Row) * (24 + page_size) as f64 + 32.0;
        println!(
            "| {operation} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {per_unit:.0} |",
            mean(tally.bytes),
            mean(tally.frames as u64),
            mean(tally.pages as u64),
            kind(Kind::Row),
            minimum_bytes,
            kind(Kind::Index),
            kind(Kind::FullText),
            kind(Kind::File),
        );
    }
    if std::env::var_os("CUSTDB_PAGES_DETAIL").is_some() {
        for (operation, tally, _, _) in results {
            println!("\n{operation}: pages per B-tree");
            let mut trees: Vec<_> = tally.by_tree.iter().collect();
            trees.sort_by(|a, b| b.1.cmp(a.1));
            for (tree, pages) in trees {
                println!("  {:>6.2}  {tree}", mean(*pages as u64));
            }
        }
    }
}

/// System calls counted by `strace -c`, by name.
fn traced(exe: &Path, db: &Path, operation: &str, run: bool) -> Option<BTreeMap<String, u64>> {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("shop.db");
    std::fs::copy(db, &copy).unwrap();
    let report = dir.path().join("strace.txt");
    let status = Command::new("strace")
        .arg("-f")
        .arg("-c")
        .arg("-o")
        .arg(&report)
        .arg(exe)
        .env("CUSTDB_PAGES_CHILD", format!("{operation}\t{}", run as u8))
        .env("CUSTDB_PAGES_DB", &copy)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let text = std::fs::read_to_string(&report).ok()?;
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 5 && fields[0].parse::<f64>().is_ok() {
            if let (Ok(n), Some(name)) = (fields[3].parse::<u64>(), fields.last()) {
                if *name != "total" {
                    calls.insert((*name).to_owned(), n);
                }
            }
        }
    }
    Some(calls)
}

/// The child of [`traced`]: the operation's preparation, and the
/// operation itself when `run`, [`TRACED`] times.
fn child(spec: &str) {
    let (operation, run) = spec.split_once('\t').unwrap();
    let db = PathBuf::from(std::env::var_os("CUSTDB_PAGES_DB").unwrap());
    let mut shop = open(&db);
    for _ in 0..TRACED {
        let prepared = shop.prepare(operation);
        if run == "1" {
            shop.run(operation, prepared);
        }
    }
}

fn print_system_calls(db: &Path) {
    let exe = std::env::current_exe().unwrap();
    let names = [
        "pwrite64",
        "pread64",
        "fdatasync",
        "fsync",
        "getrandom",
        "futex",
    ];
    println!(
        "\n## System calls per operation (Normal durability, strace -c, {TRACED} operations)\n"
    );
    println!("| Operation | {} | all |", names.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(names.len()));
    for operation in OPERATIONS.iter().copied().chain(["customer read"]) {
        let (Some(base), Some(with)) = (
            traced(&exe, db, operation, false),
            traced(&exe, db, operation, true),
        ) else {
            println!("(strace is not available: no system call counts)");
            return;
        };
        let per = |name: &str| {
            let difference = with.get(name).copied().unwrap_or(0) as f64
                - base.get(name).copied().unwrap_or(0) as f64;
            difference / TRACED as f64
        };
        let all: f64 = with.values().sum::<u64>() as f64 - base.values().sum::<u64>() as f64;
        if std::env::var_os("CUSTDB_PAGES_DETAIL").is_some() {
            let every: Vec<String> = with
                .keys()
                .chain(base.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|n| per(n) != 0.0)
                .map(|n| format!("{n} {:.2}", per(n)))
                .collect();
            eprintln!("{operation}: {}", every.join(", "));
        }
        let cells: Vec<String> = names.iter().map(|n| format!("{:.1}", per(n))).collect();
        println!(
            "| {operation} | {} | {:.1} |",
            cells.join(" | "),
            all / TRACED as f64
        );
    }
}

fn main() {
    if let Ok(spec) = std::env::var("CUSTDB_PAGES_CHILD") {
        child(&spec);
        return;
    }
    // `cargo test --benches` runs this binary without `--bench`: build
    // nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.db");
    build(&template);
    let work = dir.path().join("shop.db");
    std::fs::copy(&template, &work).unwrap();
    print_pages(&measure(&work));
    print_system_calls(&template);
}
