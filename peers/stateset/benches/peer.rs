//! stateset-embedded doing what custdb's benchmarks measure, with the same
//! sizes: create one customer per transaction on a file database; get by
//! id and by email among 10,000 customers; place an order of 1, 5 and 15
//! lines (2 units each) of 20 stocked variants, with the stock reserved.
//! Each at stateset's two durability levels (`STATESET_SQLITE_SYNCHRONOUS`
//! = FULL or NORMAL, read when a database is opened).
//!
//! ```text
//! cd peers/stateset && cargo bench
//! ```
//!
//! docs/PERFORMANCE.md puts the figures next to custdb's.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal::Decimal;
use stateset_embedded::{
    Commerce, CreateCustomer, CreateInventoryItem, CreateOrder, CreateOrderItem, CreateProduct,
    CreateProductVariant, CustomerId, StockPolicy,
};

const VARIANTS: usize = 20;
const CUSTOMERS: usize = 10_000;

fn open(dir: &tempfile::TempDir, synchronous: &str) -> Commerce {
    // stateset reads its durability from the environment when a database
    // is opened; the benchmark is single-threaded when it sets it.
    std::env::set_var("STATESET_SQLITE_SYNCHRONOUS", synchronous);
    let path = dir.path().join("peer.db");
    Commerce::new(path.to_str().unwrap()).unwrap()
}

fn customer(n: usize) -> CreateCustomer {
    CreateCustomer {
        email: format!("person{n}@example.com"),
        first_name: format!("Given{n}"),
        last_name: format!("Family{n}"),
        ..Default::default()
    }
}

fn create(c: &mut Criterion) {
    for (synchronous, level) in [("FULL", "full"), ("NORMAL", "normal")] {
        let mut group = c.benchmark_group(format!("create_customer_{level}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(4));
        let dir = tempfile::tempdir().unwrap();
        let commerce = open(&dir, synchronous);
        let mut n = 0;
        group.bench_function("stateset", |b| {
            b.iter(|| {
                n += 1;
                black_box(commerce.customers().create(customer(n)).unwrap())
            })
        });
        group.finish();
    }
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let commerce = open(&dir, "NORMAL");
    let people: Vec<(CustomerId, String)> = (0..CUSTOMERS)
        .map(|n| {
            let c = commerce.customers().create(customer(n)).unwrap();
            (c.id, c.email)
        })
        .collect();
    let mut group = c.benchmark_group("reads");
    let mut i = 0;
    group.bench_function("get_by_id/stateset", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            black_box(commerce.customers().get(people[i].0).unwrap().unwrap())
        })
    });
    group.bench_function("get_by_email/stateset", |b| {
        b.iter(|| {
            i = (i + 7919) % people.len();
            black_box(
                commerce
                    .customers()
                    .get_by_email(&people[i].1)
                    .unwrap()
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn place(c: &mut Criterion) {
    for (synchronous, level) in [("FULL", "full"), ("NORMAL", "normal")] {
        let dir = tempfile::tempdir().unwrap();
        let commerce = open(&dir, synchronous);
        let buyer = commerce.customers().create(customer(0)).unwrap();
        let product = commerce
            .products()
            .create(CreateProduct {
                name: "Bench".into(),
                variants: Some(
                    (0..VARIANTS)
                        .map(|i| CreateProductVariant {
                            sku: format!("SKU-{i:03}"),
                            price: Decimal::new(999, 2),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            })
            .unwrap();
        commerce.products().activate(product.id).unwrap();
        for i in 0..VARIANTS {
            commerce
                .inventory()
                .create_item(CreateInventoryItem {
                    sku: format!("SKU-{i:03}"),
                    name: "Bench".into(),
                    initial_quantity: Some(Decimal::new(100_000_000, 0)),
                    ..Default::default()
                })
                .unwrap();
        }
        for lines in [1usize, 5, 15] {
            let mut group = c.benchmark_group(format!("place_order_{lines}_lines_{level}"));
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(4));
            group.bench_function("stateset", |b| {
                b.iter(|| {
                    let order = commerce
                        .orders()
                        .create(CreateOrder {
                            customer_id: buyer.id,
                            items: (0..lines)
                                .map(|i| CreateOrderItem {
                                    product_id: product.id,
                                    sku: format!("SKU-{i:03}"),
                                    name: "Bench".into(),
                                    quantity: 2,
                                    unit_price: Decimal::new(999, 2),
                                    ..Default::default()
                                })
                                .collect(),
                            // Like custdb: refuse rather than backorder.
                            stock_policy: StockPolicy::RejectIfInsufficient,
                            ..Default::default()
                        })
                        .unwrap();
                    black_box(order)
                })
            });
            group.finish();
        }
        // The reservations are there: one per line of every order.
        let stock = commerce.inventory().get_stock("SKU-000").unwrap().unwrap();
        assert!(stock.total_allocated > Decimal::ZERO, "{stock:?}");
    }
}

criterion_group!(benches, create, reads, place);
criterion_main!(benches);
