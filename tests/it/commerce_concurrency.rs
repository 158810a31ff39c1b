//! Oversell is impossible: 8 threads place 1,000 orders of 1-3 units at
//! once against 100 units of scarce stock, on each engine (on PostgreSQL
//! each thread's units of work run on their own pooled connection).

use custdb::Currency;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::assert_consistent;
use custdb::{Decimal, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewVariant, NewWarehouse};

const THREADS: usize = 8;
const ATTEMPTS: usize = 1000;
const STOCK: i64 = 100;

#[test]
fn eight_threads_never_oversell_scarce_stock() {
    for (engine, on) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let store: custdb::Store = (*on).clone();
        let (customer, variant, warehouse) = store
            .write(|tx| {
                let c = tx.customers().create(NewCustomer::new("Buyer"))?;
                let p = tx.catalog().create_product(
                    NewProduct::new("Scarce").variant(NewVariant::new(
                        "SCARCE",
                        Decimal::ONE,
                        Currency::GBP,
                    )),
                )?;
                let w = tx
                    .inventory()
                    .create_warehouse(NewWarehouse::new("ONLY", "The only one"))?;
                tx.inventory().receive(p.variants[0].id, w.id, STOCK)?;
                Ok::<_, custdb::Error>((c.id, p.variants[0].id, w.id))
            })
            .unwrap();
        let sold = Arc::new(AtomicI64::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = store.clone();
                let sold = Arc::clone(&sold);
                let refused = Arc::clone(&refused);
                std::thread::spawn(move || {
                    for i in 0..ATTEMPTS / THREADS {
                        let quantity = ((t + i) % 3 + 1) as i64;
                        let order = NewOrder::for_customer(customer, Currency::GBP)
                            .line(NewOrderLine::new("SCARCE", quantity));
                        // Half the threads place one-shot (those calls may
                        // share commits), half in units of work of their own.
                        let result = if t % 2 == 0 {
                            store.orders().place(order)
                        } else {
                            store.write(|tx| tx.orders().place(order))
                        };
                        match result {
                            Ok(_) => {
                                sold.fetch_add(quantity, Ordering::SeqCst);
                            }
                            Err(e) if e.is_shortfall() => {
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => panic!("thread {t} attempt {i}: unexpected error {e:?}"),
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // Every unit is sold: once fewer than 3 are left, 1- and 2-unit
        // orders still fit, and 1,000 attempts leave plenty of them.
        assert_eq!(sold.load(Ordering::SeqCst), STOCK);
        assert!(refused.load(Ordering::SeqCst) > 0);
        let level = store
            .read(|r| r.inventory().level(variant, warehouse))
            .unwrap();
        assert_eq!(
            (level.on_hand, level.reserved, level.available),
            (STOCK, STOCK, 0)
        );
        let reserved_by_orders: i64 = store
            .read(|r| {
                let mut total = 0;
                let mut cursor = None;
                loop {
                    let page = r.orders().history(customer, cursor.as_ref(), 1000)?;
                    for o in &page.items {
                        total += r.orders().get(o.id)?.lines[0].quantity;
                    }
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                Ok::<_, custdb::Error>(total)
            })
            .unwrap();
        assert_eq!(reserved_by_orders, STOCK);
        assert_consistent(&store);
    }
}
