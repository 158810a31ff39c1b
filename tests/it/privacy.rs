//! Subject export, erasure (with a byte scan of the file and its WAL, and
//! on PostgreSQL of the database's files after `VACUUM FULL`) and
//! retention, on each engine.

use crate::common::{assert_consistent, file_bytes, OnEngine};
use chrono::{Duration, Utc};
use custdb::privacy::map::PERSONAL_DATA_MAP;
use custdb::Currency;
use custdb::{
    AddressKind, Channel, CollectionMethod, ConsentState, CustomerId, DataCategory, Decimal,
    Direction, InteractionKind, LawfulBasis, NewAddress, NewConsent, NewCustomer, NewInteraction,
    NewOrder, NewOrderLine, NewPayment, NewPurpose, NewRefund, NewReturn, NewShipment, OrderId,
    PaymentMethod, RetentionCategory, Store, SubjectExport,
};

/// Values that must not survive erasure anywhere in the file.
const SECRETS: &[&str] = &[
    "zanzibar",
    "quokka",
    "+442079460958",
    "wombat crescent",
    "qk1 7zz",
];

/// A customer with a row in every table the map links to a customer.
fn rich_customer(store: &Store) -> (CustomerId, OrderId) {
    store
        .write(|tx| {
            let c = tx.customers().create(
                NewCustomer::new("Zanzibar Quokka")
                    .given_name("Zanzibar")
                    .family_name("Quokka")
                    .email("zanzibar.quokka@example.com")
                    .phone("+44 20 7946 0958")
                    .company("Quokka Holdings")
                    .birth_date(chrono::NaiveDate::from_ymd_opt(1990, 5, 17).unwrap())
                    .tag("quokkafan")
                    .attribute("pet", serde_json::json!("quokka the cat"))
                    .notes("Quokka private note"),
            )?;
            tx.customers().add_address(
                c.id,
                NewAddress::new(AddressKind::Shipping, "17 Wombat Crescent", "Bath", "GB")
                    .postal_code("QK1 7ZZ")
                    .recipient("Zanzibar Quokka"),
            )?;
            tx.customers().add_interaction(
                c.id,
                NewInteraction::new(
                    Channel::Phone,
                    Direction::Inbound,
                    InteractionKind::Complaint,
                )
                .subject("Quokka complaint")
                .body("Zanzibar complained about the parcel"),
            )?;
            // Loyalty: the paid order below earns points (an account, a
            // ledger entry and a lot).
            tx.loyalty().set_loyalty_rule(custdb::NewLoyaltyRule::new(
                Currency::GBP,
                Decimal::ONE,
                Decimal::new(1, 2),
            ))?;
            tx.consent().register_purpose(
                NewPurpose::new("newsletter", "Monthly news", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            tx.consent().record(
                NewConsent::new(
                    c.id,
                    "newsletter",
                    ConsentState::Given,
                    CollectionMethod::WebForm,
                )
                .notice("v1", "Send me the newsletter.")
                .evidence_reference("quokka-form-55"),
            )?;
            let trade = tx.pricing().create_customer_group("trade", "Trade")?;
            tx.pricing().add_to_group(trade.id, c.id, None, None)?;
            tx.pricing().set_tax_exemption(
                c.id,
                Some(custdb::TaxExemption {
                    vat_id: "GBQUOKKA77".into(),
                    reason: "Quokka Holdings reverse charge".into(),
                }),
            )?;
            crate::common::stock_tea(tx, "MAIN", 10)?;
            let o = tx.orders().place(
                NewOrder::for_customer(c.id, Currency::GBP)
                    .line(NewOrderLine::new("TEA", 2))
                    .note("Leave it with the quokka next door"),
            )?;
            tx.orders().pay(
                o.id,
                NewPayment::new(PaymentMethod::Card, o.total.amount).provider("psp", "pay-1"),
            )?;
            tx.orders()
                .ship(o.id, NewShipment::everything("DHL", "QUOKKATRACK99"))?;
            tx.orders().return_items(
                o.id,
                NewReturn::new("damaged").line(custdb::NewReturnLine::restocked("TEA", 1)),
            )?;
            tx.orders()
                .refund(o.id, NewRefund::new(Decimal::new(450, 2), "damaged"))?;
            tx.orders()
                .issue_credit_note(&custdb::order::credit::NewCreditNote {
                    customer_id: Some(c.id),
                    currency: Currency::GBP,
                    amount: Decimal::new(100, 2),
                    reason: "goodwill".into(),
                    lines: serde_json::json!([]),
                    country: Some("GB".into()),
                    issued_at: chrono::Utc::now(),
                    // Store credit: an account and a ledger entry.
                    to_store_credit: true,
                })?;
            // An order priced by the catalog with a promotion (a
            // redemption row).
            tx.promotions().create_promotion(custdb::NewPromotion::new(
                "welcome",
                "Welcome",
                custdb::PromotionEffect::PercentOffOrder {
                    percent: Decimal::TEN,
                },
            ))?;
            let promoted = tx.orders().place(
                NewOrder::for_customer(c.id, Currency::GBP)
                    .priced_by_catalog()
                    .ship_to(custdb::AddressSnapshot {
                        recipient: Some("Zanzibar Quokka".into()),
                        company: None,
                        line1: "17 Wombat Crescent".into(),
                        line2: None,
                        city: "Bath".into(),
                        region: None,
                        postal_code: Some("QK1 7ZZ".into()),
                        country: "GB".into(),
                    })
                    .line(NewOrderLine::new("TEA", 1)),
            )?;
            // Paid with a gift card (a ledger entry of the order).
            let card = tx.gift_cards().issue_gift_card(custdb::NewGiftCard::new(
                Currency::GBP,
                Decimal::ONE_HUNDRED,
            ))?;
            tx.orders()
                .pay_with_gift_card(promoted.id, &card.code, promoted.total.amount)?;
            Ok::<_, custdb::Error>((c.id, o.id))
        })
        .unwrap()
}

#[test]
fn the_export_holds_every_classified_column_and_round_trips() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, _) = rich_customer(&store);
        let export = store.read(|r| r.privacy().export(ann)).unwrap();
        assert_eq!(export.format, "custdb.subject-export");
        assert_eq!(export.format_version, 1);
        assert_eq!(export.customer_id, ann);
        for t in PERSONAL_DATA_MAP.iter().filter(|t| t.subject.is_some()) {
            // Rows only after an erasure (checked in the erasure test), a merge
            // or an import.
            if ["privacy_erasures", "customer_merges", "import_keys"].contains(&t.table) {
                continue;
            }
            let rows = export
                .tables
                .get(t.table)
                .unwrap_or_else(|| panic!("the export has no {}", t.table));
            for c in t.columns {
                assert!(
                    rows.iter().all(|r| r.contains_key(c.column)),
                    "{}.{} missing from the export",
                    t.table,
                    c.column
                );
            }
            for c in t.personal_columns() {
                assert!(
                    export.processing[t.table].contains_key(c.column),
                    "{}.{} has no processing record",
                    t.table,
                    c.column
                );
            }
        }
        assert_eq!(
            export.tables["customers"][0]["email"],
            "zanzibar.quokka@example.com"
        );
        assert_eq!(
            export.tables["customer_addresses"][0]["line1"],
            "17 Wombat Crescent"
        );
        assert_eq!(
            export.tables["shipments"][0]["tracking_number"],
            "QUOKKATRACK99"
        );
        assert_eq!(export.tables["consent_events"][0]["state"], "given");
        assert!(export.tables["audit_log"].len() >= 5);
        let json = serde_json::to_string_pretty(&export).unwrap();
        let back: SubjectExport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, export);
    }
}

/// The secrets found in `files`.
fn scan_files(files: &[std::path::PathBuf]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for file in files {
        if !file.exists() {
            continue;
        }
        let bytes = file_bytes(file).to_ascii_lowercase();
        for secret in SECRETS {
            if !found.contains(secret)
                && bytes.windows(secret.len()).any(|w| w == secret.as_bytes())
            {
                found.push(*secret);
            }
        }
    }
    found
}

/// The secrets found on disk: in the SQLite file and its WAL; on
/// PostgreSQL, in the database's own files (tables, indexes, TOAST; not
/// the cluster's WAL, which keeps them until its segments are recycled:
/// docs/SCALING.md, "Erasure on PostgreSQL").
fn scan(store: &OnEngine) -> Vec<&'static str> {
    if let Some(dir) = store.dir() {
        let path = dir.join("test.db");
        return scan_files(&[path.clone(), path.with_extension("db-wal")]);
    }
    let (Some(db), Some(cluster)) = (store.postgres_database(), custdb_pgcluster::cluster()) else {
        unreachable!("a store on no engine")
    };
    let oid = cluster.psql(
        db,
        "SELECT oid FROM pg_database WHERE datname = current_database()",
    );
    let base = cluster.dir().join("data/base").join(oid.trim());
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scan_files(&files)
}

#[test]
fn erasure_anonymizes_keeps_the_books_and_leaves_no_byte_behind() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, order) = rich_customer(&store);
        if store.postgres_database().is_some() {
            // The server writes its pages out at a checkpoint.
            crate::common::checkpoint(&store);
        }
        // Before: the values are on disk (the scan works).
        assert_eq!(scan(&store).len(), SECRETS.len());
        let before = store.read(|r| r.orders().get(order)).unwrap();

        let report = store.erase_customer(ann).unwrap();
        assert!(!report.already_erased);
        assert_eq!(report.consents_withdrawn, 1);
        assert_eq!(report.rows["customer_addresses"], 1);
        assert_eq!(report.rows["customer_interactions"], 1);
        assert_consistent(&store);
        // No live row holds an erased value, on either engine.
        let rows = store.contents().join("\n").to_lowercase();
        for secret in SECRETS {
            assert!(!rows.contains(secret), "{secret} left in a row");
        }
        if store.postgres_database().is_some() {
            // On PostgreSQL the old row versions stay in the table's pages as
            // dead tuples until VACUUM reclaims them (and in the WAL, and on
            // the replicas, until their segments are recycled): custdb cannot
            // scrub the server's files, the operator's VACUUM FULL does.
            assert!(!report.file_scrubbed);
            crate::common::vacuum_full(&store);
        } else {
            assert!(report.file_scrubbed);
        }
        assert_eq!(
            scan(&store),
            Vec::<&str>::new(),
            "erased values left on disk"
        );

        // The books are intact, pseudonymous.
        let after = store.read(|r| r.orders().get(order)).unwrap();
        assert_eq!(after.total, before.total);
        assert_eq!(after.paid, before.paid);
        assert_eq!(after.customer_id, Some(ann));
        assert_eq!(after.shipping_address, None);
        assert_eq!(after.lines.len(), 1);
        let customer = store.customers().get(ann).unwrap();
        assert_eq!(customer.display_name, "Erased customer");
        assert!(customer.email.is_none() && customer.tags.is_empty() && customer.is_archived());
        assert!(store.customers().search("zanzibar", 5).unwrap().is_empty());

        // Consent is withdrawn and nothing more can be recorded or processed.
        let states = store
            .read(|r| r.consent().states_at(ann, Utc::now()))
            .unwrap();
        assert_eq!(states[0].state, ConsentState::Withdrawn);
        assert_eq!(states[0].event.collection_method, CollectionMethod::Erasure);
        assert!(
            states[0].event.evidence_reference.is_none()
                || states[0].event.state == ConsentState::Withdrawn
        );
        let history = store.read(|r| r.consent().history(ann, None)).unwrap();
        assert!(history.iter().all(|e| e.evidence_reference.is_none()));
        assert!(!store
            .read(|r| r.consent().can_process(ann, "newsletter", Utc::now()))
            .unwrap());
        let refused = store
            .write(|tx| {
                tx.consent().record(
                    NewConsent::new(
                        ann,
                        "newsletter",
                        ConsentState::Given,
                        CollectionMethod::Api,
                    )
                    .notice("v1", "Send me the newsletter."),
                )
            })
            .unwrap_err();
        assert!(matches!(
            refused.kind(),
            custdb::ErrorKind::InvalidState { .. }
        ));
        let restore = store.customers().restore(ann).unwrap_err();
        assert!(matches!(
            restore.kind(),
            custdb::ErrorKind::InvalidState { .. }
        ));

        // The erasure is recorded, with no personal data, and audited.
        let export = store.read(|r| r.privacy().export(ann)).unwrap();
        assert_eq!(
            export.tables["privacy_erasures"][0]["ground"],
            "subject_request"
        );
        assert!(!serde_json::to_string(&export)
            .unwrap()
            .to_lowercase()
            .contains("quokka"));
        let audit = store
            .read(|r| r.audit().for_entity("customer", &ann.to_string(), 100))
            .unwrap();
        assert!(audit.iter().any(|e| e.action == "erase"));

        // Erasing again is a no-op.
        let again = store.erase_customer(ann).unwrap();
        assert!(again.already_erased);
        assert_eq!(again.rows, report.rows);
        assert_consistent(&store);
    }
}

#[test]
fn retention_dry_run_then_apply() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, order) = rich_customer(&store);
        let bob = store
            .customers()
            .create(NewCustomer::new("Bob").email("bob@example.com"))
            .unwrap();
        store
            .write(|tx| {
                let p = tx.privacy();
                p.set_retention_rule(RetentionCategory::Interactions, 30)?;
                p.set_retention_rule(RetentionCategory::OrderContactData, 365)?;
                p.set_retention_rule(RetentionCategory::InactiveCustomers, 3 * 365)?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        // Today nothing is old enough.
        let today = store.plan_retention(Utc::now()).unwrap();
        assert!(today.actions.is_empty() && today.erased_customers.is_empty());

        // Two months on: the interaction is past 30 days.
        let later = Utc::now() + Duration::days(60);
        let dry = store.plan_retention(later).unwrap();
        assert!(dry.dry_run);
        assert_eq!(dry.actions.len(), 1);
        assert_eq!(dry.actions[0].table, "customer_interactions");
        assert_eq!(dry.actions[0].rows, 1);
        let interactions = store.customers().interactions(ann, None, 10).unwrap();
        assert_eq!(interactions.items.len(), 1, "a dry run changes nothing");
        let done = store.apply_retention(later).unwrap();
        assert_eq!(done.actions, dry.actions);
        assert!(store
            .customers()
            .interactions(ann, None, 10)
            .unwrap()
            .items
            .is_empty());
        assert_consistent(&store);

        // Two years on: the order's contact data goes, the order stays.
        let much_later = Utc::now() + Duration::days(2 * 365);
        let done = store.apply_retention(much_later).unwrap();
        let tables: Vec<&str> = done.actions.iter().map(|a| a.table.as_str()).collect();
        assert_eq!(tables, vec!["order_events", "shipments", "orders"]);
        let o = store.read(|r| r.orders().get(order)).unwrap();
        assert!(o.note.is_none() && o.shipping_address.is_none());
        assert!(store.customers().get(ann).unwrap().email.is_some());
        // Running it again finds nothing left to do.
        assert!(store
            .apply_retention(much_later)
            .unwrap()
            .actions
            .is_empty());

        // Four years on: both customers are inactive and erased.
        let years = Utc::now() + Duration::days(4 * 365);
        let dry = store.plan_retention(years).unwrap();
        let mut expected = vec![ann, bob.id];
        expected.sort();
        assert_eq!(dry.erased_customers, expected);
        let done = store.apply_retention(years).unwrap();
        assert_eq!(done.erased_customers, expected);
        for id in expected {
            assert!(store.read(|r| r.privacy().erased_at(id)).unwrap().is_some());
        }
        assert_consistent(&store);
    }
}

/// Every error about an erased customer says it is erased (never "restore
/// it", which then fails), and errors never repeat an email given to look
/// a customer up (error texts end up in logs).
#[test]
fn errors_about_erased_customers_say_erased_and_carry_no_email() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let ann = store
            .customers()
            .create(NewCustomer::new("Ann").email("ann.secret@example.com"))
            .unwrap();
        store.erase_customer(ann.id).unwrap();
        let order = store.write(|tx| {
            tx.orders().place(
                NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("X", 1)),
            )
        });
        let address = store.customers().add_address(
            ann.id,
            NewAddress::new(AddressKind::Billing, "1 A St", "Leeds", "GB"),
        );
        let tags = store.customers().add_tags(ann.id, &["vip"]);
        for (what, result) in [
            ("order", order.map(drop)),
            ("address", address.map(drop)),
            ("tags", tags.map(drop)),
        ] {
            let err = result.unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err.kind(), custdb::ErrorKind::InvalidState { .. }),
                "{what}: {text}"
            );
            assert!(
                text.contains("erased") && !text.contains("restore"),
                "{what}: {text}"
            );
        }
        let err = store.customers().restore(ann.id).unwrap_err();
        assert!(err.to_string().contains("erased"), "{err}");

        let err = store
            .customers()
            .get_by_email("ann.secret@example.com")
            .unwrap_err();
        assert!(err.is_not_found());
        let text = err.to_string();
        assert_eq!(text, "customer with this email not found");
        assert!(!text.contains("secret"));
    }
}
