//! Every public input at its extremes, through create, update, place, pay,
//! refund, record consent, interactions, import and search: chrono's
//! MIN/MAX and the instants around custdb's range, i64 bounds,
//! `Decimal::MAX`, zero and negative quantities, 1 MB strings, NUL,
//! U+FFFD, bidirectional overrides, invisible-only text, combining marks,
//! emoji, SQL-looking text.
//!
//! On each engine. After every operation: no panic; a failure is a typed
//! error (an `Invalid` one names its field) and left the store exactly as
//! it was; what
//! was written reads back. At the end every listing and export reads and
//! `check()` is clean. (On the code before issue 15, a far-future
//! interaction or consent broke every later read, invisible names and
//! bidirectional overrides were stored, and a JSON line of invalid UTF-8
//! was stored with U+FFFD: this test fails there.)

use chrono::{DateTime, Duration, Utc};
use custdb::Currency;
use custdb::{
    Channel, CollectionMethod, ConsentState, CustomerPatch, DataCategory, Decimal, Direction,
    ErrorKind, InteractionKind, LawfulBasis, NewConsent, NewCustomer, NewInteraction, NewOrder,
    NewOrderLine, NewPayment, NewProduct, NewPurpose, NewRefund, NewVariant, NewWarehouse,
    PaymentMethod, Store,
};
use proptest::prelude::*;

use crate::common::OnEngine;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("Ann".to_owned()),
        Just("\u{200B}\u{FEFF}\u{2060}".to_owned()),
        Just("Ann\u{202E}gpj.exe".to_owned()),
        Just("\u{2067}Ann\u{2069}".to_owned()),
        Just("A\0nn".to_owned()),
        Just("\u{FFFD}\u{FFFD}".to_owned()),
        Just("e\u{301}\u{302}\u{303}".to_owned()),
        Just("\u{301}".to_owned()),
        Just("🍵👩‍👩‍👧".to_owned()),
        Just("'); DROP TABLE customers; --".to_owned()),
        Just("\" OR 1=1 NEAR * ^".to_owned()),
        Just("%_\\".to_owned()),
        Just("Ж".repeat(200)),
        Just("Ж".repeat(201)),
        Just("x".repeat(1 << 20)),
        Just("line\nbreak".to_owned()),
        "[a-zA-Z ]{1,40}",
        any::<String>(),
    ]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let now = Utc::now();
    let min = custdb::MIN_TIMESTAMP;
    let max = custdb::MAX_TIMESTAMP;
    prop_oneof![
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
        Just(min),
        Just(min - Duration::seconds(1)),
        Just(max),
        Just(max + Duration::microseconds(1)),
        Just(DateTime::<Utc>::UNIX_EPOCH),
        Just(now),
        Just(now + Duration::days(1)),
        Just(now - Duration::days(365 * 30)),
        (-62_000_000_000i64..250_000_000_000i64)
            .prop_map(move |s| DateTime::from_timestamp(s, 0).unwrap_or(now)),
    ]
}

fn quantity() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-1i64),
        Just(0i64),
        Just(1i64),
        Just(i64::from(i32::MAX)),
        Just(i64::from(u32::MAX)),
        1i64..5,
    ]
}

fn amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::ZERO),
        Just(Decimal::new(-1, 2)),
        Just(Decimal::new(1, 4)),
        Just(Decimal::new(1, 28)),
        Just(Decimal::new(999, 2)),
        (0i64..100_000).prop_map(|c| Decimal::new(c, 2)),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        name: String,
        email: String,
        notes: String,
    },
    Update {
        who: usize,
        company: String,
    },
    Interaction {
        who: usize,
        subject: String,
        at: DateTime<Utc>,
    },
    Consent {
        who: usize,
        at: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        notice: String,
    },
    Place {
        who: usize,
        quantity: i64,
        price: Option<Decimal>,
    },
    Pay {
        order: usize,
        amount: Decimal,
        reference: String,
    },
    Refund {
        order: usize,
        amount: Decimal,
        reason: String,
    },
    ImportCsv {
        name: String,
    },
    ImportJsonl {
        line: Vec<u8>,
    },
    Search {
        query: String,
    },
    List {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (text(), text(), text()).prop_map(|(name, email, notes)| Op::Create { name, email, notes }),
        1 => (any::<usize>(), text()).prop_map(|(who, company)| Op::Update { who, company }),
        2 => (any::<usize>(), text(), instant()).prop_map(|(who, subject, at)| Op::Interaction { who, subject, at }),
        2 => (any::<usize>(), instant(), proptest::option::of(instant()), text())
            .prop_map(|(who, at, until, notice)| Op::Consent { who, at, until, notice }),
        2 => (any::<usize>(), quantity(), proptest::option::of(amount()))
            .prop_map(|(who, quantity, price)| Op::Place { who, quantity, price }),
        2 => (any::<usize>(), amount(), prop_oneof![Just("4111 1111 1111 1111".to_owned()), text()])
            .prop_map(|(order, amount, reference)| Op::Pay { order, amount, reference }),
        1 => (any::<usize>(), amount(), text()).prop_map(|(order, amount, reason)| Op::Refund { order, amount, reason }),
        1 => text().prop_map(|name| Op::ImportCsv { name }),
        1 => prop_oneof![
            Just(b"{\"Name\": \"B\xFFb\"}".to_vec()),
            Just(b"\xEF\xBB\xBF{\"Name\": \"Bom\"}".to_vec()),
            Just(b"[\"positional\"]".to_vec()),
            text().prop_map(|t| serde_json::json!({ "Name": t }).to_string().into_bytes()),
        ].prop_map(|line| Op::ImportJsonl { line }),
        1 => text().prop_map(|query| Op::Search { query }),
        1 => (instant(), instant()).prop_map(|(from, to)| Op::List { from, to }),
    ]
}

struct Shop {
    store: OnEngine,
    customers: Vec<custdb::CustomerId>,
    orders: Vec<custdb::OrderId>,
}

fn shop(store: OnEngine) -> Shop {
    store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("news", "News", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            let p =
                tx.catalog()
                    .create_product(NewProduct::new("Tea").variant(NewVariant::new(
                        "TEA",
                        Decimal::new(450, 2),
                        Currency::GBP,
                    )))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("main", "Main"))?;
            tx.inventory().receive(p.variants[0].id, w.id, 1_000)?;
            Ok::<_, custdb::Error>(())
        })
        .unwrap();
    let ann = store
        .customers()
        .create(NewCustomer::new("Ann").email("ann@example.com"))
        .unwrap();
    Shop {
        store,
        customers: vec![ann.id],
        orders: Vec::new(),
    }
}

/// A failure must be one of the kinds bad input can cause, and an
/// `Invalid` one names its field.
fn typed(err: &custdb::Error) -> Result<(), TestCaseError> {
    match err.kind() {
        ErrorKind::Invalid { field, .. } => {
            prop_assert!(!field.is_empty(), "{err}");
        }
        ErrorKind::NotFound { .. }
        | ErrorKind::InvalidState { .. }
        | ErrorKind::InvalidTransition { .. }
        | ErrorKind::AlreadyExists { .. }
        | ErrorKind::Shortfall { .. } => {}
        _ => prop_assert!(false, "not an input error: {err:?}"),
    }
    Ok(())
}

fn apply(shop: &mut Shop, op: &Op) -> Result<(), TestCaseError> {
    let store: Store = (*shop.store).clone();
    let pick = |v: &Vec<custdb::CustomerId>, n: usize| v[n % v.len()];
    let before = shop.store.contents();
    let result: custdb::Result<()> = match op {
        Op::Create { name, email, notes } => store
            .customers()
            .create(
                NewCustomer::new(name.clone())
                    .email(email.clone())
                    .notes(notes.clone()),
            )
            .map(|c| {
                shop.customers.push(c.id);
            }),
        Op::Update { who, company } => {
            let id = pick(&shop.customers, *who);
            store.customers().get(id).and_then(|c| {
                store
                    .customers()
                    .update(
                        id,
                        c.version,
                        CustomerPatch::default().company(company.clone()),
                    )
                    .map(drop)
            })
        }
        Op::Interaction { who, subject, at } => store
            .customers()
            .add_interaction(
                pick(&shop.customers, *who),
                NewInteraction::new(Channel::Web, Direction::Inbound, InteractionKind::Note)
                    .subject(subject.clone())
                    .occurred_at(*at),
            )
            .map(drop),
        Op::Consent {
            who,
            at,
            until,
            notice,
        } => {
            let mut consent = NewConsent::new(
                pick(&shop.customers, *who),
                "news",
                ConsentState::Given,
                CollectionMethod::WebForm,
            )
            .notice("v1", notice.clone())
            .occurred_at(*at);
            if let Some(until) = until {
                consent = consent.valid_until(*until);
            }
            store.write(|tx| tx.consent().record(consent)).map(drop)
        }
        Op::Place {
            who,
            quantity,
            price,
        } => {
            let mut line = NewOrderLine::new("TEA", *quantity);
            if let Some(price) = price {
                line = line.unit_price(*price);
            }
            let order =
                NewOrder::for_customer(pick(&shop.customers, *who), Currency::GBP).line(line);
            store.write(|tx| tx.orders().place(order)).map(|o| {
                shop.orders.push(o.id);
            })
        }
        Op::Pay {
            order,
            amount,
            reference,
        } if !shop.orders.is_empty() => {
            let id = shop.orders[order % shop.orders.len()];
            store
                .write(|tx| {
                    tx.orders().pay(
                        id,
                        NewPayment::new(PaymentMethod::Card, *amount)
                            .provider("psp", reference.clone()),
                    )
                })
                .map(drop)
        }
        Op::Refund {
            order,
            amount,
            reason,
        } if !shop.orders.is_empty() => {
            let id = shop.orders[order % shop.orders.len()];
            store
                .write(|tx| {
                    tx.orders()
                        .refund(id, NewRefund::new(*amount, reason.clone()))
                })
                .map(drop)
        }
        Op::Pay { .. } | Op::Refund { .. } => Ok(()),
        Op::ImportCsv { name } => {
            let mut csv = b"Name\n".to_vec();
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record([name.as_str()]).unwrap();
            csv.extend(writer.into_inner().unwrap());
            let mapping = custdb::import::generic::CustomerMapping::new("x")
                .column("Name", custdb::import::generic::CustomerField::DisplayName);
            let mut rejected = Vec::new();
            store
                .import_customers_csv(
                    &csv[..],
                    &mapping,
                    |_| {},
                    |r| rejected.push(r.reason.clone()),
                )
                .map(|report| {
                    assert_eq!(
                        report.imported + report.rejected + report.already_present,
                        report.lines_read
                    );
                })
        }
        Op::ImportJsonl { line } => {
            let mapping = custdb::import::generic::CustomerMapping::new("y")
                .column("Name", custdb::import::generic::CustomerField::DisplayName);
            let before_names = names(&store);
            let result = store
                .import_customers_jsonl(&line[..], &mapping, |_| {}, |_| {})
                .map(drop);
            // Nothing is ever stored with U+FFFD in place of bad bytes.
            let after = names(&store);
            for n in after.iter().filter(|n| !before_names.contains(n)) {
                prop_assert!(
                    !n.contains('\u{FFFD}') || line.windows(3).any(|w| w == "\u{FFFD}".as_bytes()),
                    "{n:?}"
                );
            }
            result
        }
        Op::Search { query } => store.customers().search(query, 10).map(drop),
        Op::List { from, to } => store
            .customers()
            .list(
                &custdb::CustomerFilter::default().created_between(*from, *to),
                None,
                10,
            )
            .map(drop),
    };
    match &result {
        Ok(()) => {}
        Err(err) => {
            typed(err)?;
            prop_assert_eq!(
                &before,
                &shop.store.contents(),
                "{:?} failed with {} but wrote",
                op,
                err
            );
        }
    }
    Ok(())
}

fn names(store: &Store) -> Vec<String> {
    custdb::Page::all(|after| store.customers().list(&Default::default(), after, 1000))
        .map(|c| c.unwrap().display_name)
        .collect()
}

/// Everything written reads back: every customer with its interactions
/// and consent, every order, the exports.
fn reads_back(shop: &Shop) -> Result<(), TestCaseError> {
    let store = &shop.store;
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let invisible = |c: char| {
        c.is_whitespace()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
    };
    for id in &shop.customers {
        let c = store
            .customers()
            .get(*id)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // No stored text hides itself or reorders what is around it.
        for text in [Some(&c.display_name), c.company.as_ref(), c.notes.as_ref()]
            .into_iter()
            .flatten()
        {
            prop_assert!(!text.chars().any(bidi), "{:?}", text);
            prop_assert!(!text.chars().all(invisible), "{:?}", text);
        }
        let mut cursor = None;
        loop {
            let page = store
                .customers()
                .interactions(*id, cursor.as_ref(), 100)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        store
            .read(|r| r.consent().history(*id, None))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    for id in &shop.orders {
        store
            .read(|r| r.orders().get(*id))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    store
        .export_customers_jsonl(std::io::sink())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    store
        .export_orders_jsonl(std::io::sink())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let report = store
        .check()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(report.is_ok(), "{:?}", report.problems);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_input_at_its_extremes_is_stored_and_read_back_or_refused_whole(
        ops in proptest::collection::vec(op(), 1..24)
    ) {
        for (_, on) in crate::common::every_engine() {
            let mut shop = shop(on);
            for op in &ops {
                apply(&mut shop, op)?;
            }
            reads_back(&shop)?;
        }
    }
}
