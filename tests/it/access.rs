//! Roles and permissions: every built-in role against every operation of
//! the policy handle, masking, the marketing scope, and bad input.

use chrono::Utc;
use custdb::Currency;
use custdb::{
    Actor, AuditFilter, CollectionMethod, ConsentState, CustomerFilter, CustomerId, DataCategory,
    Decimal, ErrorKind, LawfulBasis, NewAddress, NewConsent, NewCustomer, NewInteraction, NewOrder,
    NewOrderLine, NewPayment, NewProduct, NewPurpose, NewRefund, NewReturn, NewShipment,
    NewVariant, NewWarehouse, OrderId, PaymentMethod, Permission, Store, VariantId, WarehouseId,
    MASK,
};

/// The documented matrix (docs/SECURITY.md), written out independently of
/// the code: each role and the permissions it holds.
const ROLES: &[(&str, &[&str])] = &[
    (
        "admin",
        &[
            "read_customers",
            "read_personal_data",
            "write_customers",
            "manage_catalog",
            "manage_orders",
            "refund",
            "manage_consent",
            "export_subjects",
            "erase_subjects",
            "read_audit",
            "administer",
        ],
    ),
    (
        "sales",
        &[
            "read_customers",
            "read_personal_data",
            "write_customers",
            "manage_orders",
            "manage_consent",
        ],
    ),
    (
        "support",
        &[
            "read_customers",
            "read_personal_data",
            "write_customers",
            "manage_orders",
            "refund",
            "manage_consent",
            "export_subjects",
        ],
    ),
    (
        "warehouse",
        &["read_customers", "manage_catalog", "manage_orders"],
    ),
    ("marketing", &["read_customers", "read_personal_data"]),
    ("auditor", &["read_customers", "read_audit"]),
];

struct Fixture {
    /// Consents to the marketing purpose.
    ann: CustomerId,
    tea: VariantId,
    shop: WarehouseId,
}

fn setup(store: &Store) -> Fixture {
    store
        .write(|tx| {
            tx.consent().register_purpose(
                NewPurpose::new("marketing", "Offers", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            let ann = tx.customers().create(
                NewCustomer::new("Ann Lee")
                    .email("ann@example.com")
                    .phone("+44 20 7946 0958"),
            )?;
            tx.consent().record(
                NewConsent::new(
                    ann.id,
                    "marketing",
                    ConsentState::Given,
                    CollectionMethod::WebForm,
                )
                .notice("v1", "Offers by email"),
            )?;
            let p =
                tx.catalog()
                    .create_product(NewProduct::new("Tea").variant(NewVariant::new(
                        "TEA",
                        Decimal::new(450, 2),
                        Currency::GBP,
                    )))?;
            let shop = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("SHOP", "Shop"))?;
            tx.inventory().receive(p.variants[0].id, shop.id, 1000)?;
            Ok::<_, custdb::Error>(Fixture {
                ann: ann.id,
                tea: p.variants[0].id,
                shop: shop.id,
            })
        })
        .unwrap()
}

fn paid_order(store: &Store, f: &Fixture) -> OrderId {
    store
        .write(|tx| {
            let o = tx.orders().place(
                NewOrder::for_customer(f.ann, Currency::GBP).line(NewOrderLine::new("TEA", 2)),
            )?;
            tx.orders()
                .pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
            Ok::<_, custdb::Error>(o.id)
        })
        .unwrap()
}

type Op = fn(&Store, &custdb::ActorStore, &Fixture) -> custdb::Result<()>;

/// Every operation of the handle, with the permissions it needs.
fn operations() -> Vec<(&'static str, &'static [&'static str], Op)> {
    vec![
        ("customer", &["read_customers"], |_, a, f| {
            a.customers().get(f.ann).map(drop)
        }),
        ("customers", &["read_customers"], |_, a, _| {
            a.customers()
                .list(&CustomerFilter::default(), None, 10)
                .map(drop)
        }),
        (
            "customer_by_email",
            &["read_customers", "read_personal_data"],
            |_, a, _| a.customers().get_by_email("ann@example.com").map(drop),
        ),
        (
            "search_customers",
            &["read_customers", "read_personal_data"],
            |_, a, _| a.customers().search("ann", 5).map(drop),
        ),
        ("addresses", &["read_customers"], |_, a, f| {
            a.customers().addresses(f.ann).map(drop)
        }),
        ("interactions", &["read_customers"], |_, a, f| {
            a.customers().interactions(f.ann, None, 10).map(drop)
        }),
        ("order_history", &["read_customers"], |_, a, f| {
            a.orders().history(f.ann, None, 10).map(drop)
        }),
        ("can_process", &["read_customers"], |_, a, f| {
            a.consent()
                .can_process(f.ann, "marketing", Utc::now())
                .map(drop)
        }),
        ("create_customer", &["write_customers"], |_, a, _| {
            a.customers().create(NewCustomer::new("New")).map(drop)
        }),
        ("update_customer", &["write_customers"], |s, a, _| {
            let c = s.customers().create(NewCustomer::new("To change"))?;
            a.customers()
                .update(
                    c.id,
                    c.version,
                    custdb::CustomerPatch::default().company("X"),
                )
                .map(drop)
        }),
        ("archive_customer", &["write_customers"], |s, a, _| {
            let c = s.customers().create(NewCustomer::new("To archive"))?;
            a.customers().archive(c.id).map(drop)
        }),
        ("add_address", &["write_customers"], |_, a, f| {
            a.customers()
                .add_address(
                    f.ann,
                    NewAddress::new(custdb::AddressKind::Other, "1 Road", "Bath", "GB"),
                )
                .map(drop)
        }),
        ("add_interaction", &["write_customers"], |_, a, f| {
            a.customers()
                .add_interaction(
                    f.ann,
                    NewInteraction::new(
                        custdb::Channel::Email,
                        custdb::Direction::Inbound,
                        custdb::InteractionKind::Note,
                    )
                    .subject("Called"),
                )
                .map(drop)
        }),
        ("create_product", &["manage_catalog"], |_, a, _| {
            let sku = format!("P-{}", uuid_ish());
            a.catalog()
                .create_product(NewProduct::new("P").variant(NewVariant::new(
                    sku,
                    Decimal::ONE,
                    Currency::GBP,
                )))
                .map(drop)
        }),
        ("create_warehouse", &["manage_catalog"], |_, a, _| {
            a.inventory()
                .create_warehouse(NewWarehouse::new(format!("W{}", uuid_ish()), "W"))
                .map(drop)
        }),
        ("receive", &["manage_catalog"], |_, a, f| {
            a.inventory().receive(f.tea, f.shop, 5).map(drop)
        }),
        ("place_order", &["manage_orders"], |_, a, f| {
            a.orders()
                .place(
                    NewOrder::for_customer(f.ann, Currency::GBP).line(NewOrderLine::new("TEA", 1)),
                )
                .map(drop)
        }),
        ("order", &["manage_orders"], |s, a, f| {
            a.orders().get(paid_order(s, f)).map(drop)
        }),
        ("pay", &["manage_orders"], |s, a, f| {
            let o = s.write(|tx| {
                tx.orders().place(
                    NewOrder::for_customer(f.ann, Currency::GBP).line(NewOrderLine::new("TEA", 1)),
                )
            })?;
            a.orders()
                .pay(o.id, NewPayment::new(PaymentMethod::Cash, o.total.amount))
                .map(drop)
        }),
        ("ship", &["manage_orders"], |s, a, f| {
            a.orders()
                .ship(paid_order(s, f), NewShipment::everything("DHL", "T1"))
                .map(drop)
        }),
        ("cancel", &["manage_orders"], |s, a, f| {
            a.orders().cancel(paid_order(s, f), "asked")
        }),
        ("return_items", &["manage_orders"], |s, a, f| {
            let o = paid_order(s, f);
            s.write(|tx| tx.orders().ship(o, NewShipment::everything("DHL", "T2")))?;
            a.orders()
                .return_items(
                    o,
                    NewReturn::new("wrong size").line(custdb::NewReturnLine::restocked("TEA", 1)),
                )
                .map(drop)
        }),
        ("refund", &["refund"], |s, a, f| {
            a.orders()
                .refund(paid_order(s, f), NewRefund::new(Decimal::ONE, "goodwill"))
                .map(drop)
        }),
        ("register_purpose", &["administer"], |_, a, _| {
            a.consent()
                .register_purpose(
                    NewPurpose::new(format!("p{}", uuid_ish()), "P", LawfulBasis::Contract)
                        .data_category(DataCategory::Contact),
                )
                .map(drop)
        }),
        ("record_consent", &["manage_consent"], |_, a, f| {
            a.consent()
                .record(NewConsent::new(
                    f.ann,
                    "marketing",
                    ConsentState::Requested,
                    CollectionMethod::Api,
                ))
                .map(drop)
        }),
        ("export_subject", &["export_subjects"], |_, a, f| {
            a.privacy().export(f.ann).map(drop)
        }),
        ("erase_subject", &["erase_subjects"], |s, a, _| {
            let c = s.customers().create(NewCustomer::new("Leaving"))?;
            a.privacy().erase(c.id).map(drop)
        }),
        ("audit", &["read_audit"], |_, a, _| {
            a.audit().query(&AuditFilter::default(), None, 10).map(drop)
        }),
        ("verify_audit", &["read_audit"], |_, a, _| {
            a.audit().verify().map(drop)
        }),
        ("grant", &["administer"], |_, a, _| {
            a.access().grant("someone", "auditor").map(drop)
        }),
    ]
}

fn uuid_ish() -> String {
    custdb::CustomerId::new().to_string()[24..].to_owned()
}

#[test]
fn every_default_role_against_every_operation() {
    for (role, permissions) in ROLES {
        for (engine, store) in crate::common::every_engine() {
            eprintln!("{role} on {engine}");
            let fixture = setup(&store);
            store
                .write(|tx| tx.access().grant("actor-1", role))
                .unwrap();
            let actor = store
                .as_actor(&Actor::new("actor-1", format!("A {role}")).unwrap())
                .unwrap();
            for (op, needs, run) in operations() {
                let allowed = needs.iter().all(|n| permissions.contains(n));
                match (allowed, run(&store, &actor, &fixture)) {
                    (true, Ok(())) => {}
                    (false, Err(e)) if e.is_permission_denied() => {
                        let ErrorKind::PermissionDenied { permission, .. } = e.kind() else {
                            unreachable!()
                        };
                        assert!(
                            needs.contains(permission),
                            "{role}/{op}: names {permission}"
                        );
                    }
                    (true, Err(e)) => panic!("{role} may {op} but got {e}"),
                    (false, Ok(())) => panic!("{role} may not {op} but it was allowed"),
                    (false, Err(e)) => panic!("{role}/{op}: expected PermissionDenied, got {e}"),
                }
            }
            assert!(store.check().unwrap().is_ok(), "{role}");
        }
    }
}

#[test]
fn the_code_agrees_with_the_documented_matrix() {
    for (role, permissions) in ROLES {
        let r = Store::open_in_memory()
            .unwrap()
            .read(|r| r.access().role(role))
            .unwrap();
        let mut got: Vec<&str> = r.permissions.iter().map(|p| p.as_str()).collect();
        got.sort();
        let mut want = permissions.to_vec();
        want.sort();
        assert_eq!(got, want, "{role}");
    }
}

#[test]
fn personal_data_is_masked_without_the_permission() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let f = setup(&store);
        store
            .write(|tx| {
                tx.access().grant("aud", "auditor")?;
                tx.access().grant("sal", "sales")
            })
            .unwrap();
        let auditor = store
            .as_actor(&Actor::new("aud", "Auditor").unwrap())
            .unwrap();
        let sales = store
            .as_actor(&Actor::new("sal", "Sales").unwrap())
            .unwrap();
        let masked = auditor.customers().get(f.ann).unwrap();
        assert_eq!(masked.display_name, format!("A{MASK}"));
        assert_eq!(
            masked.email.as_deref(),
            Some(format!("a{MASK}@{MASK}").as_str())
        );
        assert_eq!(masked.phone.as_deref(), Some(format!("{MASK}58").as_str()));
        let clear = sales.customers().get(f.ann).unwrap();
        assert_eq!(clear.email.as_deref(), Some("ann@example.com"));
        // Writes through the handle are recorded under the actor.
        let c = sales
            .customers()
            .create(NewCustomer::new("Via sales"))
            .unwrap();
        let audit = store
            .read(|r| r.audit().for_entity("customer", &c.id.to_string(), 5))
            .unwrap();
        assert_eq!(audit[0].actor_id, "sal");
    }
}

#[test]
fn marketing_sees_only_consenting_customers() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let f = setup(&store);
        let bob = store
            .customers()
            .create(NewCustomer::new("Bob").email("bob@example.com"))
            .unwrap();
        store
            .write(|tx| tx.access().grant("mkt", "marketing"))
            .unwrap();
        let marketing = store
            .as_actor(&Actor::new("mkt", "Marketing").unwrap())
            .unwrap();
        assert_eq!(
            marketing.customers().get(f.ann).unwrap().email.as_deref(),
            Some("ann@example.com")
        );
        assert!(marketing
            .customers()
            .get(bob.id)
            .unwrap_err()
            .is_not_found());
        let listed = marketing
            .customers()
            .list(&CustomerFilter::default(), None, 100)
            .unwrap();
        assert_eq!(
            listed.items.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![f.ann]
        );
        // Withdrawal takes Ann out of sight.
        store
            .write(|tx| {
                tx.consent().record(NewConsent::new(
                    f.ann,
                    "marketing",
                    ConsentState::Withdrawn,
                    CollectionMethod::Email,
                ))
            })
            .unwrap();
        assert!(marketing.customers().get(f.ann).unwrap_err().is_not_found());
    }
}

/// The page filter (one statement for the page) and the single-customer
/// check agree on every consent state: given, given then withdrawn, given
/// with an expiry that passed, given and expiring later, never asked.
#[test]
fn marketing_page_filter_agrees_with_the_single_check() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let f = setup(&store);
        let now = Utc::now();
        let given = |id: CustomerId| {
            NewConsent::new(
                id,
                "marketing",
                ConsentState::Given,
                CollectionMethod::WebForm,
            )
            .notice("v1", "Offers by email")
            .occurred_at(now - chrono::Duration::days(10))
        };
        let mut expected = vec![f.ann];
        store
            .write(|tx| {
                for n in 0..40 {
                    let c = tx.customers().create(
                        NewCustomer::new(format!("P{n}")).email(format!("p{n}@example.com")),
                    )?;
                    match n % 5 {
                        0 => {
                            tx.consent().record(given(c.id))?;
                            expected.push(c.id);
                        }
                        1 => {
                            tx.consent().record(given(c.id))?;
                            tx.consent().record(NewConsent::new(
                                c.id,
                                "marketing",
                                ConsentState::Withdrawn,
                                CollectionMethod::Email,
                            ))?;
                        }
                        2 => {
                            tx.consent()
                                .record(given(c.id).valid_until(now - chrono::Duration::days(1)))?;
                        }
                        3 => {
                            tx.consent().record(
                                given(c.id).valid_until(now + chrono::Duration::days(30)),
                            )?;
                            expected.push(c.id);
                        }
                        _ => {}
                    }
                }
                tx.access().grant("mkt", "marketing").map(drop)
            })
            .unwrap();
        expected.sort();
        let marketing = store
            .as_actor(&Actor::new("mkt", "Marketing").unwrap())
            .unwrap();
        let mut listed = Vec::new();
        let mut cursor = None;
        loop {
            let page = marketing
                .customers()
                .list(&CustomerFilter::default(), cursor.as_ref(), 7)
                .unwrap();
            listed.extend(page.items.iter().map(|c| c.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        listed.sort();
        assert_eq!(listed, expected);
        // The single check says the same of every customer.
        let all = store
            .customers()
            .list(&CustomerFilter::default(), None, 100)
            .unwrap();
        for c in all.items {
            assert_eq!(
                marketing.customers().get(c.id).is_ok(),
                expected.contains(&c.id),
                "{}",
                c.display_name
            );
        }
    }
}

#[test]
fn bad_access_input_is_a_typed_error_and_changes_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let _ = setup(&store);
        // An actor with no roles.
        let nobody = store
            .as_actor(&Actor::new("nobody", "Nobody").unwrap())
            .unwrap_err();
        assert!(nobody.is_permission_denied());
        let before = store.read(|r| r.audit().count()).unwrap();
        // An unknown role.
        let unknown = store
            .write(|tx| tx.access().grant("x", "wizard"))
            .unwrap_err();
        assert!(unknown.is_not_found());
        // A built-in name, no permissions, a bad name.
        let builtin = store
            .write(|tx| {
                tx.access()
                    .define_role("admin", &[Permission::ReadAudit], None)
            })
            .unwrap_err();
        assert!(matches!(builtin.kind(), ErrorKind::Invalid { field, .. } if field == "name"));
        let empty = store
            .write(|tx| tx.access().define_role("empty", &[], None))
            .unwrap_err();
        assert!(matches!(empty.kind(), ErrorKind::Invalid { field, .. } if field == "permissions"));
        let revoke = store
            .write(|tx| tx.access().revoke("x", "sales"))
            .unwrap_err();
        assert!(revoke.is_not_found());
        assert_eq!(
            store.read(|r| r.audit().count()).unwrap(),
            before,
            "nothing written"
        );
        // A custom role works through the handle.
        store
            .write(|tx| {
                tx.access()
                    .define_role("returns-desk", &[Permission::Refund], None)?;
                tx.access().grant("rd", "returns-desk")
            })
            .unwrap();
        let desk = store.as_actor(&Actor::new("rd", "Desk").unwrap()).unwrap();
        assert!(desk.can(Permission::Refund) && !desk.can(Permission::ReadCustomers));
    }
}
