//! Generates a large database for the scale measurements of
//! docs/PERFORMANCE.md: `customers` customers (half with an address), a
//! catalog of 1,000 products plus 20 stocked variants in two warehouses,
//! and one completed order per customer on average with 1 to 9 lines (5 on
//! average), spread over two years. Deterministic (a fixed seed).
//!
//! ```text
//! cargo run --release --example generate -- 100000 scale-100k.db
//! cargo run --release --example generate -- 10000000 scale-10m.db
//! ```
//!
//! It prints the time of each phase and the file's bytes per customer and
//! per order line; `CUSTDB_SCALE_DB=<file> cargo bench --bench scale` then
//! measures point reads, placement and history on the result.

use custdb::Currency;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use custdb::order::historical::{HistoricalLine, HistoricalOrder};
use custdb::{
    AddressKind, Decimal, NewAddress, NewCustomer, NewProduct, NewVariant, NewWarehouse, Options,
    Store, VariantId,
};
use rand::{Rng, SeedableRng};

/// Rows written per unit of work.
const BATCH: usize = 10_000;

/// The database file's size after a checkpoint (so the WAL holds nothing).
fn size(store: &Store, path: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    store.checkpoint()?;
    Ok(std::fs::metadata(path)?.len())
}

/// A line on standard error every million rows, so a long run can be
/// followed.
fn progress(what: &str, done: usize, started: Instant) {
    if done.is_multiple_of(1_000_000) {
        eprintln!(
            "{what}: {done} after {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let customers: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let path = args.next().unwrap_or_else(|| "custdb-scale.db".to_owned());
    let path = Path::new(&path);
    if path.exists() {
        return Err(format!("{} exists; generate into a new file", path.display()).into());
    }
    let store = Store::open_with(
        path,
        Options::default().durability(custdb::Durability::Normal),
    )?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261124);

    let started = Instant::now();
    let catalog: Vec<VariantId> = store.write(|tx| {
        let mut ids = Vec::new();
        for p in 0..1000 {
            let product = tx.catalog().create_product(
                NewProduct::new(format!("Product {p}")).variant(
                    NewVariant::new(
                        format!("P{p:05}"),
                        Decimal::new(100 + (p as i64 * 37) % 5000, 2),
                        Currency::GBP,
                    )
                    .track_stock(false),
                ),
            )?;
            ids.push(product.variants[0].id);
        }
        let stocked =
            tx.catalog()
                .create_product((0..20).fold(NewProduct::new("Stocked"), |p, i| {
                    p.variant(NewVariant::new(
                        format!("S{i:02}"),
                        Decimal::new(999, 2),
                        Currency::GBP,
                    ))
                }))?;
        let a = tx
            .inventory()
            .create_warehouse(NewWarehouse::new("A", "A").priority(1))?;
        let b = tx
            .inventory()
            .create_warehouse(NewWarehouse::new("B", "B").priority(2))?;
        for v in &stocked.variants {
            tx.inventory().receive(v.id, a.id, 100_000_000)?;
            tx.inventory().receive(v.id, b.id, 100_000_000)?;
        }
        Ok::<_, custdb::Error>(ids)
    })?;

    let mut ids = Vec::with_capacity(customers);
    let mut n = 0;
    while n < customers {
        let end = (n + BATCH).min(customers);
        store.write(|tx| {
            for i in n..end {
                let c = tx.customers().create(
                    NewCustomer::new(format!("Customer {i}")).email(format!("c{i}@example.com")),
                )?;
                if i % 2 == 0 {
                    tx.customers().add_address(
                        c.id,
                        NewAddress::new(
                            AddressKind::Shipping,
                            format!("{i} High St"),
                            "Bath",
                            "GB",
                        ),
                    )?;
                }
                ids.push(c.id);
            }
            Ok::<_, custdb::Error>(())
        })?;
        n = end;
        progress("customers", n, started);
    }
    let customers_done = started.elapsed();
    // Bytes per customer: measured from the catalog-only file.
    let after_customers = size(&store, path)?;
    println!(
        "{customers} customers in {:.1} s; file {} bytes ({} per customer)",
        customers_done.as_secs_f64(),
        after_customers,
        after_customers / customers.max(1) as u64
    );

    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .ok_or("a date")?;
    let mut lines_total = 0u64;
    let mut made = 0;
    while made < customers {
        let end = (made + BATCH).min(customers);
        store.write(|tx| {
            for _ in made..end {
                let customer = ids[rng.random_range(0..ids.len())];
                let count = rng.random_range(1..=9);
                let mut lines: Vec<HistoricalLine> = Vec::with_capacity(count);
                while lines.len() < count {
                    let v = catalog[rng.random_range(0..catalog.len())];
                    if lines.iter().all(|l| l.variant_id != v) {
                        lines.push(HistoricalLine {
                            variant_id: v,
                            quantity: rng.random_range(1..=12),
                            unit_price: Decimal::new(rng.random_range(50..5000), 2),
                        });
                    }
                }
                lines_total += lines.len() as u64;
                tx.orders().record_historical(&HistoricalOrder {
                    customer_id: Some(customer),
                    guest_email: None,
                    currency: Currency::GBP,
                    country: Some("GB".into()),
                    placed_at: start + Duration::minutes(rng.random_range(0..2 * 365 * 24 * 60)),
                    lines,
                    shipping: Decimal::ZERO,
                })?;
            }
            Ok::<_, custdb::Error>(())
        })?;
        made = end;
        progress("orders", made, started);
    }
    let total = size(&store, path)?;
    println!(
        "{customers} orders, {lines_total} lines in {:.1} s; {} bytes per order line",
        (started.elapsed() - customers_done).as_secs_f64(),
        (total - after_customers) / lines_total.max(1)
    );
    println!("file: {total} bytes");
    Ok(())
}
