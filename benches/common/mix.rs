//! The TPC-C-like mix's transactions, shared by the SQLite mix
//! (`benches/mix.rs`) and the multi-process PostgreSQL mix
//! (`benches/pg_mix.rs`): the generated sequence and custdb's side.

use std::collections::VecDeque;
use std::hint::black_box;

use custdb::{
    Currency, CustomerId, Decimal, NewOrder, NewOrderLine, NewPayment, NewShipment, OrderId,
    PaymentMethod, Store,
};
use rand::{Rng, SeedableRng};

use super::shop::sku;

/// Runs a unit of work until it does not collide: a `Contention` (a
/// PostgreSQL deadlock or serialization failure) wrote nothing and may
/// run again, as an application would; any other error stops the bench.
fn retry<T>(retries: &mut u64, mut f: impl FnMut() -> custdb::Result<T>) -> T {
    loop {
        match f() {
            Ok(value) => return value,
            Err(e) if e.is_retryable() => *retries += 1,
            Err(e) => panic!("{e}"),
        }
    }
}

pub const CUSTOMERS: usize = 10_000;
pub const VARIANTS: usize = 1_000;
/// Transactions in the generated sequence (the measurement cycles it).
pub const SEQUENCE: usize = 20_000;
/// Orders one Delivery ships.
pub const DELIVERY_BATCH: usize = 10;

#[derive(Clone, Debug)]
pub enum Txn {
    NewOrder {
        /// Index of the customer.
        customer: usize,
        /// (variant index, units).
        lines: Vec<(usize, i64)>,
    },
    Payment {
        /// Looks the customer up by email rather than by id.
        by_email: bool,
    },
    OrderStatus {
        /// Index of the customer.
        customer: usize,
    },
    Delivery,
    StockLevel,
}

impl Txn {
    pub fn kind(&self) -> usize {
        match self {
            Txn::NewOrder { .. } => 0,
            Txn::Payment { .. } => 1,
            Txn::OrderStatus { .. } => 2,
            Txn::Delivery => 3,
            Txn::StockLevel => 4,
        }
    }
}

pub const KINDS: [&str; 5] = [
    "New-Order",
    "Payment",
    "Order-Status",
    "Delivery",
    "Stock-Level",
];

/// The mix: 45/43/4/4/4 out of 100, drawn with a fixed seed. A Payment
/// always finds an unpaid order: the generator tracks the backlog and
/// draws a New-Order instead when it is empty.
pub fn sequence() -> Vec<Txn> {
    sequence_from(45_434)
}

/// [`sequence`] drawn from another seed (each writer process of the
/// PostgreSQL mix has its own).
pub fn sequence_from(seed: u64) -> Vec<Txn> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut unpaid = 0usize;
    (0..SEQUENCE)
        .map(|_| {
            let roll = rng.random_range(0..100);
            if roll < 45 || (roll < 88 && unpaid == 0) {
                let count = rng.random_range(5..=15);
                let mut lines: Vec<(usize, i64)> = Vec::with_capacity(count);
                while lines.len() < count {
                    let v = rng.random_range(0..VARIANTS);
                    if lines.iter().all(|&(w, _)| w != v) {
                        lines.push((v, rng.random_range(1..=10)));
                    }
                }
                unpaid += 1;
                Txn::NewOrder {
                    customer: rng.random_range(0..CUSTOMERS),
                    lines,
                }
            } else if roll < 88 {
                unpaid -= 1;
                Txn::Payment {
                    by_email: rng.random_range(0..100) < 40,
                }
            } else if roll < 92 {
                Txn::OrderStatus {
                    customer: rng.random_range(0..CUSTOMERS),
                }
            } else if roll < 96 {
                Txn::Delivery
            } else {
                Txn::StockLevel
            }
        })
        .collect()
}

/// One side's queues: orders placed and not paid (with their customer and
/// total), orders paid and not shipped.
pub struct Queues<T> {
    pub unpaid: VecDeque<(T, usize, Decimal)>,
    pub paid: VecDeque<T>,
}

// By hand: a derive would ask for `T: Default`, which ids do not have.
impl<T> Default for Queues<T> {
    fn default() -> Self {
        Queues {
            unpaid: VecDeque::new(),
            paid: VecDeque::new(),
        }
    }
}

pub struct CustdbSide {
    pub store: Store,
    pub customers: Vec<CustomerId>,
    pub queues: Queues<OrderId>,
    /// Units of work run again after a `Contention` (PostgreSQL only).
    pub retries: u64,
}

impl CustdbSide {
    pub fn run(&mut self, txn: &Txn) {
        match txn {
            Txn::NewOrder { customer, lines } => {
                let order = lines.iter().fold(
                    NewOrder::for_customer(self.customers[*customer], Currency::GBP),
                    |o, &(v, q)| o.line(NewOrderLine::new(sku(v), q).tax_rate(Decimal::new(2, 1))),
                );
                let placed = retry(&mut self.retries, || {
                    self.store.write(|tx| tx.orders().place(order.clone()))
                });
                self.queues
                    .unpaid
                    .push_back((placed.id, *customer, placed.total.amount));
            }
            Txn::Payment { by_email } => {
                let (order, customer, total) = self.queues.unpaid.pop_front().unwrap();
                let id = self.customers[customer];
                retry(&mut self.retries, || {
                    self.store.write(|tx| {
                        let c = if *by_email {
                            tx.customers()
                                .get_by_email(&format!("buyer{customer}@example.com"))?
                        } else {
                            tx.customers().get(id)?
                        };
                        debug_assert_eq!(c.id, id);
                        tx.orders()
                            .pay(order, NewPayment::new(PaymentMethod::Card, total))
                    })
                });
                self.queues.paid.push_back(order);
            }
            Txn::OrderStatus { customer } => {
                black_box(
                    self.store
                        .read(|r| {
                            let page = r.orders().history(self.customers[*customer], None, 1)?;
                            page.items.first().map(|o| r.orders().get(o.id)).transpose()
                        })
                        .unwrap(),
                );
            }
            Txn::Delivery => {
                let batch: Vec<OrderId> = (0..DELIVERY_BATCH)
                    .map_while(|_| self.queues.paid.pop_front())
                    .collect();
                retry(&mut self.retries, || {
                    self.store.write(|tx| {
                        // The batch's orders and stock, locked in one
                        // fixed order first (PostgreSQL; SQLite checks
                        // they exist): no collision with another writer.
                        tx.orders().lock_orders(&batch)?;
                        for &order in &batch {
                            tx.orders()
                                .ship(order, NewShipment::everything("post", "T-1"))?;
                        }
                        Ok::<_, custdb::Error>(())
                    })
                });
            }
            Txn::StockLevel => {
                black_box(self.store.read(|r| r.inventory().low_stock()).unwrap());
            }
        }
    }
}
