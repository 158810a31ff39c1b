//! The bodies of the fuzz targets, shared by `fuzz/fuzz_targets/*.rs`
//! (cargo fuzz, libFuzzer) and by `tests/it/fuzz_corpus.rs`, which replays the
//! committed corpus in every `cargo test`. Each feeds arbitrary bytes to one
//! of custdb's inputs on a fresh store (a copy of a template file) and requires: no panic,
//! every call returns (a value or a typed error), and `check()` is clean
//! afterwards, so that bad input is refused without half-writing anything.

#![allow(dead_code)]

use custdb::import::generic::{CustomerField, CustomerMapping};
use custdb::Currency;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use custdb::{Decimal, NewCustomer, NewOrder, NewProduct, NewVariant, NewWarehouse, Store};

/// The fixture every input starts from: a customer, three stocked
/// variants (S0..S2) and a warehouse, so that fuzzed orders can go through
/// as well as fail.
fn fixture(store: &Store) {
    store
        .write(|tx| {
            let p =
                tx.catalog()
                    .create_product((0..3).fold(NewProduct::new("Goods"), |p, i| {
                        p.variant(NewVariant::new(
                            format!("S{i}"),
                            Decimal::new(250, 2),
                            Currency::GBP,
                        ))
                    }))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("W", "Warehouse"))?;
            for v in &p.variants {
                tx.inventory().receive(v.id, w.id, 100)?;
            }
            tx.customers()
                .create(NewCustomer::new("Ann").email("ann@example.com"))?;
            Ok::<_, custdb::Error>(())
        })
        .expect("the fixture");
}

/// Where this process keeps its template database and the copies the
/// inputs run on: tmpfs when there is one, so that no input waits on a
/// disk. Migrating a new store and writing the fixture for every input
/// cost more than most inputs themselves; copying a file made once does
/// not.
fn workdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        // Directories of earlier processes that have ended are removed:
        // nothing else would (a process cannot clean up after a crash).
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("custdb-fuzz-") {
                let proc = Path::new("/proc");
                if proc.join("self").exists() && !proc.join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("custdb-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a work directory");
        let template = dir.join("template.db");
        let store = Store::open(&template).expect("the template store");
        fixture(&store);
        store.checkpoint().expect("the template's WAL copied in");
        drop(store);
        dir
    })
}

/// A store on a fresh copy of the template; the copy is removed when the
/// store is dropped.
struct Fresh {
    store: Option<Store>,
    path: PathBuf,
}

impl std::ops::Deref for Fresh {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store.as_ref().expect("open until dropped")
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        drop(self.store.take());
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn fresh() -> Fresh {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = workdir();
    let path = dir.join(format!("{}.db", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::copy(dir.join("template.db"), &path).expect("a copy of the template");
    let store = Store::open_with(&path, custdb::Options::default().reader_pool_size(1))
        .expect("the copy opens");
    Fresh {
        store: Some(store),
        path,
    }
}

fn clean(store: &Store) {
    let report = store.check().expect("check runs");
    assert!(report.is_ok(), "check found: {:?}", report.problems);
}

/// The Online Retail importer on arbitrary CSV.
pub fn retail_csv(data: &[u8]) {
    let store = fresh();
    let _ = store.import_retail(data, |_| {}, |_| {});
    clean(&store);
}

/// The generic customer importers: the first byte picks CSV or JSON Lines,
/// the rest is the file (mapped by a fixed header mapping).
pub fn customer_import(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let store = fresh();
    let mapping = CustomerMapping::new("fuzz")
        .column("id", CustomerField::Key)
        .column("name", CustomerField::DisplayName)
        .column("email", CustomerField::Email)
        .column("phone", CustomerField::Phone)
        .column("tags", CustomerField::Tags)
        .column("birth", CustomerField::BirthDate)
        .column("line1", CustomerField::AddressLine1)
        .column("city", CustomerField::City)
        .column("country", CustomerField::Country);
    if kind % 2 == 0 {
        let _ = store.import_customers_csv(body, &mapping, |_| {}, |_| {});
    } else {
        let _ = store.import_customers_jsonl(body, &mapping, |_| {}, |_| {});
    }
    clean(&store);
}

/// The product and order importers (JSON Lines); the first byte picks one.
pub fn jsonl_import(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let store = fresh();
    if kind % 2 == 0 {
        let _ = store.import_products_jsonl(body, |_| {}, |_| {});
    } else {
        let _ = store.import_orders_jsonl("fuzz", body, |_| {}, |_| {});
    }
    clean(&store);
}

/// A customer as an application would pass it (JSON into `NewCustomer`),
/// created, then patched with the same bytes read as a `CustomerPatch`.
pub fn customer_input(data: &[u8]) {
    let store = fresh();
    if let Ok(new) = serde_json::from_slice::<NewCustomer>(data) {
        if let Ok(c) = store.customers().create(new) {
            if let Ok(patch) = serde_json::from_slice::<custdb::CustomerPatch>(data) {
                let _ = store.customers().update(c.id, c.version, patch);
            }
        }
    }
    clean(&store);
}

/// An order as an application would pass it (JSON into `NewOrder`; a
/// missing customer becomes the fixture's customer), placed, then paid and
/// shipped when it went through.
pub fn order_input(data: &[u8]) {
    let store = fresh();
    let Ok(mut order) = serde_json::from_slice::<NewOrder>(data) else {
        clean(&store);
        return;
    };
    if order.customer_id.is_none() && order.guest_email.is_none() {
        order.customer_id = store
            .customers()
            .get_by_email("ann@example.com")
            .ok()
            .map(|c| c.id);
    }
    if let Ok(placed) = store.write(|tx| tx.orders().place(order)) {
        let _ = store.write(|tx| {
            tx.orders().pay(
                placed.id,
                custdb::NewPayment::new(custdb::PaymentMethod::Card, placed.total.amount),
            )
        });
        let _ = store.write(|tx| {
            tx.orders()
                .ship(placed.id, custdb::NewShipment::everything("post", "T"))
        });
    }
    clean(&store);
}
