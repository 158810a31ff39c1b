//! Model-based test of the commerce and privacy core: random sequences of
//! operations over customers, stock, orders, payments, consent and erasure
//! run against the store and against a small in-memory model. After every
//! step the outcome (success or the kind of error) agrees, the stock
//! levels, every order's status, every customer's consent and erasure
//! agree, and `check()` is clean. proptest shrinks a failing sequence to a
//! short one.
//!
//! ```text
//! cargo test --test it model_commerce   # 2,000 sequences
//! PROPTEST_CASES=50000 cargo test --release --test it model_commerce
//! ```

use std::collections::BTreeMap;

use chrono::Utc;
use custdb::Currency;
use custdb::{
    CollectionMethod, ConsentState, CustomerId, DataCategory, Decimal, ErasureGround, ErrorKind,
    LawfulBasis, NewConsent, NewCustomer, NewOrder, NewOrderLine, NewPayment, NewProduct,
    NewPurpose, NewRefund, NewShipment, NewVariant, NewWarehouse, OrderId, OrderStatus,
    PaymentMethod, VariantId, WarehouseId,
};
use proptest::prelude::*;

const SKUS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    CreateCustomer,
    Receive {
        sku: usize,
        quantity: i64,
    },
    Adjust {
        sku: usize,
        delta: i64,
    },
    Place {
        who: usize,
        lines: Vec<(usize, i64)>,
    },
    Pay {
        order: usize,
    },
    Ship {
        order: usize,
    },
    Cancel {
        order: usize,
    },
    /// Refunds everything paid and not yet refunded.
    Refund {
        order: usize,
    },
    Consent {
        who: usize,
        give: bool,
    },
    Erase {
        who: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let lines = proptest::collection::btree_map(0..SKUS, 1i64..6, 1..=SKUS)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    prop_oneof![
        2 => Just(Op::CreateCustomer),
        2 => (0..SKUS, 1i64..15).prop_map(|(sku, quantity)| Op::Receive { sku, quantity }),
        1 => (0..SKUS, prop_oneof![-8i64..0, 1i64..8]).prop_map(|(sku, delta)| Op::Adjust { sku, delta }),
        4 => (any::<usize>(), lines).prop_map(|(who, lines)| Op::Place { who, lines }),
        3 => any::<usize>().prop_map(|order| Op::Pay { order }),
        2 => any::<usize>().prop_map(|order| Op::Ship { order }),
        1 => any::<usize>().prop_map(|order| Op::Cancel { order }),
        1 => any::<usize>().prop_map(|order| Op::Refund { order }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(who, give)| Op::Consent { who, give }),
        1 => any::<usize>().prop_map(|who| Op::Erase { who }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Shortfall,
    InvalidTransition,
    InvalidState,
    Invalid,
}

fn outcome<T>(r: &custdb::Result<T>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(e) => match e.kind() {
            ErrorKind::Shortfall { .. } => Outcome::Shortfall,
            ErrorKind::InvalidTransition { .. } => Outcome::InvalidTransition,
            ErrorKind::InvalidState { .. } => Outcome::InvalidState,
            ErrorKind::Invalid { .. } => Outcome::Invalid,
            _ => panic!("unexpected error {e:?}"),
        },
    }
}

#[derive(Debug, Clone, Default)]
struct CustomerModel {
    consent: Option<ConsentState>,
    erased: bool,
}

#[derive(Debug, Clone)]
struct OrderModel {
    status: OrderStatus,
    lines: Vec<(usize, i64)>,
    /// Paid in full (once), and all of it refunded.
    paid: bool,
    refunded: bool,
}

#[derive(Debug, Default)]
struct Model {
    customers: Vec<(CustomerId, CustomerModel)>,
    on_hand: [i64; SKUS],
    reserved: [i64; SKUS],
    orders: Vec<(OrderId, OrderModel)>,
}

struct Shop {
    store: crate::common::OnEngine,
    variants: Vec<VariantId>,
    warehouse: WarehouseId,
}

fn shop(store: crate::common::OnEngine) -> Shop {
    // The feed's consumer sees everything from the start (follow_feed).
    store
        .changes()
        .create_consumer("model", custdb::ConsumerStart::Oldest)
        .unwrap();
    let (variants, warehouse) = store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            let p =
                tx.catalog()
                    .create_product((0..SKUS).fold(NewProduct::new("Goods"), |p, i| {
                        p.variant(NewVariant::new(
                            format!("S{i}"),
                            Decimal::new(250, 2),
                            Currency::GBP,
                        ))
                    }))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("W", "Warehouse"))?;
            Ok::<_, custdb::Error>((p.variants.iter().map(|v| v.id).collect(), w.id))
        })
        .unwrap();
    Shop {
        store,
        variants,
        warehouse,
    }
}

/// Applies one operation to the store and the model; returns both outcomes.
fn step(shop: &Shop, model: &mut Model, op: &Op) -> (Outcome, Outcome) {
    let store = &shop.store;
    match op {
        Op::CreateCustomer => {
            let n = model.customers.len();
            let r = store
                .customers()
                .create(NewCustomer::new(format!("C{n}")).email(format!("c{n}@example.com")));
            if let Ok(c) = &r {
                model.customers.push((c.id, CustomerModel::default()));
            }
            (outcome(&r), Outcome::Ok)
        }
        Op::Receive { sku, quantity } => {
            let r = store.write(|tx| {
                tx.inventory()
                    .receive(shop.variants[*sku], shop.warehouse, *quantity)
            });
            if r.is_ok() {
                model.on_hand[*sku] += quantity;
            }
            (outcome(&r), Outcome::Ok)
        }
        Op::Adjust { sku, delta } => {
            let on_hand = model.on_hand[*sku] + delta;
            let expected = if on_hand < 0 || (*delta < 0 && on_hand - model.reserved[*sku] < 0) {
                Outcome::Shortfall
            } else {
                Outcome::Ok
            };
            let r = store.write(|tx| {
                tx.inventory()
                    .adjust(shop.variants[*sku], shop.warehouse, *delta, "count")
            });
            if r.is_ok() {
                model.on_hand[*sku] = on_hand;
            }
            (outcome(&r), expected)
        }
        Op::Place { who, lines } => {
            if model.customers.is_empty() {
                return (Outcome::Ok, Outcome::Ok);
            }
            let i = who % model.customers.len();
            let (id, c) = &model.customers[i];
            let expected = if c.erased {
                Outcome::InvalidState
            } else if lines
                .iter()
                .any(|&(s, q)| model.on_hand[s] - model.reserved[s] < q)
            {
                Outcome::Shortfall
            } else {
                Outcome::Ok
            };
            let order = lines
                .iter()
                .fold(NewOrder::for_customer(*id, Currency::GBP), |o, &(s, q)| {
                    o.line(NewOrderLine::new(format!("S{s}"), q))
                });
            let r = store.write(|tx| tx.orders().place(order));
            if let Ok(o) = &r {
                for &(s, q) in lines {
                    model.reserved[s] += q;
                }
                model.orders.push((
                    o.id,
                    OrderModel {
                        status: OrderStatus::Pending,
                        lines: lines.clone(),
                        paid: false,
                        refunded: false,
                    },
                ));
            }
            (outcome(&r), expected)
        }
        Op::Pay { order } | Op::Ship { order } | Op::Cancel { order } => {
            if model.orders.is_empty() {
                return (Outcome::Ok, Outcome::Ok);
            }
            let i = order % model.orders.len();
            let (id, m) = model.orders[i].clone();
            let (r, allowed, to) = match op {
                Op::Pay { .. } => {
                    let total = store.read(|r| r.orders().get(id)).unwrap().total;
                    (
                        store
                            .write(|tx| {
                                tx.orders()
                                    .pay(id, NewPayment::new(PaymentMethod::Card, total.amount))
                            })
                            .map(drop),
                        m.status == OrderStatus::Pending,
                        OrderStatus::Paid,
                    )
                }
                Op::Ship { .. } => (
                    store
                        .write(|tx| tx.orders().ship(id, NewShipment::everything("post", "T")))
                        .map(drop),
                    m.status == OrderStatus::Paid,
                    OrderStatus::Shipped,
                ),
                _ => (
                    store.write(|tx| tx.orders().cancel(id, "changed mind")),
                    matches!(m.status, OrderStatus::Pending | OrderStatus::Paid),
                    OrderStatus::Cancelled,
                ),
            };
            let expected = if allowed {
                Outcome::Ok
            } else {
                Outcome::InvalidTransition
            };
            if r.is_ok() {
                for &(s, q) in &m.lines {
                    model.reserved[s] -= q;
                    if to == OrderStatus::Shipped {
                        model.on_hand[s] -= q;
                    }
                }
                if to == OrderStatus::Paid {
                    // Paid orders keep their holds.
                    for &(s, q) in &m.lines {
                        model.reserved[s] += q;
                    }
                }
                model.orders[i].1.status = to;
                if to == OrderStatus::Paid {
                    model.orders[i].1.paid = true;
                }
            }
            (outcome(&r), expected)
        }
        Op::Refund { order } => {
            if model.orders.is_empty() {
                return (Outcome::Ok, Outcome::Ok);
            }
            let i = order % model.orders.len();
            let (id, m) = model.orders[i].clone();
            let expected = if matches!(m.status, OrderStatus::Pending | OrderStatus::Refunded) {
                Outcome::InvalidTransition
            } else if !m.paid || m.refunded {
                // Nothing left to give back (cancelled before payment, or
                // refunded already).
                Outcome::Invalid
            } else {
                Outcome::Ok
            };
            let r = store.write(|tx| {
                let o = tx.orders().get(id)?;
                let left = o.paid.amount - o.refunded.amount;
                // Asking for a cent when nothing is left shows the error.
                let amount = if left.is_zero() {
                    Decimal::new(1, 2)
                } else {
                    left
                };
                tx.orders().refund(id, NewRefund::new(amount, "model"))
            });
            if r.is_ok() {
                let m = &mut model.orders[i].1;
                m.refunded = true;
                // A cancelled order stays cancelled (its holds went with
                // the cancellation); anything else paid back in full is
                // refunded, and a paid order that has not shipped gives
                // back what it held (the model ships all or nothing).
                if m.status == OrderStatus::Paid {
                    for &(s, q) in &m.lines {
                        model.reserved[s] -= q;
                    }
                }
                if m.status != OrderStatus::Cancelled {
                    m.status = OrderStatus::Refunded;
                }
            }
            (outcome(&r), expected)
        }
        Op::Consent { who, give } => {
            if model.customers.is_empty() {
                return (Outcome::Ok, Outcome::Ok);
            }
            let i = who % model.customers.len();
            let (id, c) = model.customers[i].clone();
            let expected = if c.erased || (!give && c.consent != Some(ConsentState::Given)) {
                Outcome::InvalidState
            } else {
                Outcome::Ok
            };
            let r = store.write(|tx| {
                let consent = if *give {
                    NewConsent::new(
                        id,
                        "marketing",
                        ConsentState::Given,
                        CollectionMethod::WebForm,
                    )
                    .notice("v1", "Offers by email")
                } else {
                    NewConsent::new(
                        id,
                        "marketing",
                        ConsentState::Withdrawn,
                        CollectionMethod::Email,
                    )
                };
                tx.consent().record(consent)
            });
            if r.is_ok() {
                model.customers[i].1.consent = Some(if *give {
                    ConsentState::Given
                } else {
                    ConsentState::Withdrawn
                });
            }
            (outcome(&r), expected)
        }
        Op::Erase { who } => {
            if model.customers.is_empty() {
                return (Outcome::Ok, Outcome::Ok);
            }
            let i = who % model.customers.len();
            let id = model.customers[i].0;
            let r = store.write(|tx| tx.privacy().erase(id, ErasureGround::SubjectRequest));
            if r.is_ok() {
                let c = &mut model.customers[i].1;
                if c.consent == Some(ConsentState::Given) {
                    c.consent = Some(ConsentState::Withdrawn);
                }
                c.erased = true;
            }
            (outcome(&r), Outcome::Ok)
        }
    }
}

/// The store and the model agree on everything the model tracks.
fn agree(shop: &Shop, model: &Model) -> Result<(), TestCaseError> {
    let store = &shop.store;
    for (s, v) in shop.variants.iter().enumerate() {
        let level = store
            .read(|r| r.inventory().levels(*v))
            .unwrap()
            .into_iter()
            .find(|l| l.warehouse_id == shop.warehouse);
        let (on_hand, reserved) = level.map_or((0, 0), |l| (l.on_hand, l.reserved));
        prop_assert_eq!(
            (on_hand, reserved),
            (model.on_hand[s], model.reserved[s]),
            "S{}",
            s
        );
    }
    for (id, m) in &model.orders {
        let status = store.read(|r| r.orders().get(*id)).unwrap().status;
        prop_assert_eq!(status, m.status);
    }
    let now = Utc::now();
    for (id, m) in &model.customers {
        let state = store
            .read(|r| r.consent().state_at(*id, "marketing", now))
            .unwrap()
            .map(|s| s.state);
        prop_assert_eq!(state, m.consent);
        let erased = store
            .read(|r| r.privacy().erased_at(*id))
            .unwrap()
            .is_some();
        prop_assert_eq!(erased, m.erased);
    }
    let report = store.check().unwrap();
    prop_assert!(report.is_ok(), "{:?}", report.problems);
    Ok(())
}

/// Sequences run so far in this process (which of them also run on
/// PostgreSQL).
static CASE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// One sequence in this many runs on PostgreSQL as well.
const POSTGRES_EVERY: u32 = 50;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn commerce_and_privacy_agree_with_the_model(
        ops in proptest::collection::vec(op(), 1..30),
        crashes in proptest::collection::vec(0usize..4, 0..8),
    ) {
        // Every sequence on SQLite; one in POSTGRES_EVERY on PostgreSQL too,
        // where each step's round trips make a case some fifty times
        // slower.
        let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let engines = if case.is_multiple_of(POSTGRES_EVERY) {
            crate::common::every_engine_in_memory()
        } else {
            vec![crate::common::sqlite_in_memory()]
        };
        for (engine, store) in engines {
            let shop = shop(store);
            let mut model = Model::default();
            for (n, op) in ops.iter().enumerate() {
                let (got, expected) = step(&shop, &mut model, op);
                prop_assert_eq!(got, expected, "{} step {}: {:?}", engine, n, op);
                agree(&shop, &model)?;
            }
            follow_feed(&shop, &crashes)?;
        }
    }
}

/// What a consumer of the change feed knows: only the business facts the
/// events carry.
#[derive(Debug, Default)]
struct FeedModel {
    /// Customer id: erased.
    customers: BTreeMap<String, bool>,
    /// Customer id: the last consent decision for "marketing".
    consent: BTreeMap<String, String>,
    /// Order id: status, paid, refunded.
    orders: BTreeMap<String, (String, Decimal, Decimal)>,
    /// Variant id: on hand, reserved (one warehouse).
    stock: BTreeMap<String, (i64, i64)>,
}

impl FeedModel {
    fn apply(&mut self, e: &custdb::ChangeEvent) {
        let f = &e.facts;
        match e.kind.as_str() {
            "customer.created" => {
                self.customers.insert(e.entity_id.clone(), false);
            }
            "customer.erased" => {
                self.customers.insert(e.entity_id.clone(), true);
            }
            "consent.recorded" if f.purpose.as_deref() == Some("marketing") => {
                self.consent
                    .insert(e.entity_id.clone(), f.status.clone().unwrap_or_default());
            }
            "stock.changed" => {
                self.stock.insert(
                    e.entity_id.clone(),
                    (f.on_hand.unwrap_or(-1), f.reserved.unwrap_or(-1)),
                );
            }
            kind if kind.starts_with("order.") => {
                self.orders.insert(
                    e.entity_id.clone(),
                    (
                        f.status.clone().unwrap_or_default(),
                        f.paid.unwrap_or_default(),
                        f.refunded.unwrap_or_default(),
                    ),
                );
            }
            _ => {}
        }
    }
}

/// A consumer follows the feed from the start, crashing mid-batch at the
/// given points (it applied that many events of the batch and never
/// acknowledged them; it reads the batch again and applies it again), and
/// ends knowing what the store holds: every customer and whether erased,
/// every consent decision, every order's status and amounts, every stock
/// level.
fn follow_feed(shop: &Shop, crashes: &[usize]) -> Result<(), TestCaseError> {
    let store = &shop.store;
    // On PostgreSQL events are visible up to the chain step's watermark:
    // run one, so that the head covers every committed change.
    store.verify_audit().unwrap();
    let head = store.read(|r| r.changes().head()).unwrap();
    let mut model = FeedModel::default();
    let mut crashes = crashes.iter();
    let mut position = store.changes().consumer("model").unwrap().position;
    while position < head {
        let batch = store.changes().poll("model", 7).unwrap();
        prop_assert!(!batch.is_empty(), "events up to {} are visible", head);
        match crashes.next() {
            Some(&applied) if applied < batch.len() => {
                for e in &batch[..applied] {
                    model.apply(e);
                }
            }
            _ => {
                for e in &batch {
                    model.apply(e);
                }
                position = batch.last().unwrap().position;
                store.changes().ack("model", position).unwrap();
            }
        }
    }
    for v in &shop.variants {
        let level = store
            .read(|r| r.inventory().levels(*v))
            .unwrap()
            .into_iter()
            .find(|l| l.warehouse_id == shop.warehouse)
            .map_or((0, 0), |l| (l.on_hand, l.reserved));
        let known = model.stock.get(&v.to_string()).copied().unwrap_or((0, 0));
        prop_assert_eq!(known, level, "stock of {}", v);
    }
    let mut orders = BTreeMap::new();
    store
        .read(|r| {
            r.orders().each_order(|o| {
                orders.insert(
                    o.id.to_string(),
                    (
                        o.status.as_str().to_owned(),
                        o.paid.amount,
                        o.refunded.amount,
                    ),
                );
                Ok(())
            })
        })
        .unwrap();
    prop_assert_eq!(&model.orders, &orders);
    let customers = store
        .read(|r| {
            r.customers().list(
                &custdb::CustomerFilter::default().archived(custdb::ArchiveState::All),
                None,
                500,
            )
        })
        .unwrap()
        .items;
    let now = Utc::now();
    let mut known = BTreeMap::new();
    let mut consent = BTreeMap::new();
    for c in &customers {
        let erased = store
            .read(|r| r.privacy().erased_at(c.id))
            .unwrap()
            .is_some();
        known.insert(c.id.to_string(), erased);
        if let Some(state) = store
            .read(|r| r.consent().state_at(c.id, "marketing", now))
            .unwrap()
        {
            consent.insert(c.id.to_string(), state.state.as_str().to_owned());
        }
    }
    prop_assert_eq!(&model.customers, &known);
    prop_assert_eq!(&model.consent, &consent);
    Ok(())
}
