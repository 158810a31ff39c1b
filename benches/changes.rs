//! What the change feed costs and how fast a consumer reads it
//! (docs/CHANGES.md, docs/PERFORMANCE.md "The change feed"):
//!
//! - customer create and order placement (1, 5 and 15 lines) on one store
//!   with the feed writing its events and with it switched off
//!   (`custdb::changes::bench_write_events`, feature `bench-internals`),
//!   interleaved: each timed run of one is followed by an untimed run of
//!   the other, so both see the same growing tables; the ratio is the
//!   outbox's cost;
//! - a consumer reading 20,000 events from the start and acknowledging
//!   each batch of 1,000 (events per second).
//!
//! ```text
//! cargo bench --features bench-internals --bench changes
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::people::new_customer;
use common::shop::{build_shop, order_of, VARIANTS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use custdb::changes::bench_write_events;
use custdb::{ConsumerStart, Durability, Options, Store};

/// Events the consumer benchmark reads per iteration.
const EVENTS: usize = 20_000;
/// Events per read and acknowledgement.
const BATCH: usize = 1_000;

/// Times `op` with the feed `on` (or off), running it once more the other
/// way untimed after each timed run: both variants see the same growing
/// tables, interleaved, whichever criterion measures first.
fn interleaved<T>(b: &mut criterion::Bencher<'_>, on: bool, mut op: impl FnMut() -> T) {
    b.iter_custom(|iters| {
        let mut timed = Duration::ZERO;
        for _ in 0..iters {
            bench_write_events(on);
            let started = Instant::now();
            black_box(op());
            timed += started.elapsed();
            bench_write_events(!on);
            black_box(op());
        }
        bench_write_events(true);
        timed
    })
}

fn outbox(c: &mut Criterion) {
    for durability in [Durability::Normal, Durability::Full] {
        let level = match durability {
            Durability::Full => "full",
            _ => "normal",
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.db");
        let customer = build_shop(&path, VARIANTS, 1)[0];
        let store = Store::open_with(&path, Options::default().durability(durability)).unwrap();
        let mut n = 0;
        let mut group = c.benchmark_group(format!("outbox_customer_create_{level}"));
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(4));
        for (name, on) in [("with_feed", true), ("without_feed", false)] {
            group.bench_function(name, |b| {
                interleaved(b, on, || {
                    n += 1;
                    store.customers().create(new_customer(n)).unwrap()
                })
            });
        }
        group.finish();
        for lines in [1usize, 5, 15] {
            let mut group = c.benchmark_group(format!("outbox_place_order_{lines}_lines_{level}"));
            group
                .sample_size(20)
                .measurement_time(Duration::from_secs(4));
            for (name, on) in [("with_feed", true), ("without_feed", false)] {
                group.bench_function(name, |b| {
                    interleaved(b, on, || {
                        store.orders().place(order_of(customer, lines)).unwrap()
                    })
                });
            }
            group.finish();
        }
    }
}

fn consumer(c: &mut Criterion) {
    bench_write_events(true);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("feed.db")).unwrap();
    for first in (0..EVENTS).step_by(1_000) {
        store
            .write(|tx| {
                for n in first..first + 1_000 {
                    tx.customers().create(new_customer(n))?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
    }
    assert_eq!(store.changes().status().unwrap().events, EVENTS as u64);
    let mut group = c.benchmark_group("consumer_read_and_ack");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("batches_of_1000", |b| {
        b.iter(|| {
            let _ = store.changes().drop_consumer("bench");
            store
                .changes()
                .create_consumer("bench", ConsumerStart::Oldest)
                .unwrap();
            let mut read = 0;
            loop {
                let events = store.changes().poll("bench", BATCH).unwrap();
                let Some(last) = events.last() else { break };
                store.changes().ack("bench", last.position).unwrap();
                read += events.len();
            }
            assert_eq!(read, EVENTS);
        })
    });
    group.finish();
}

criterion_group!(benches, outbox, consumer);
criterion_main!(benches);
