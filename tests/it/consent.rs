//! The consent ledger: purposes, events, states over time, can_process,
//! the consenting list, receipts, and the append-only guarantee.

use crate::common::assert_consistent;
use chrono::{DateTime, TimeZone, Utc};
use custdb::{
    CollectionMethod, ConsentState, Controller, CustomerId, DataCategory, LawfulBasis, NewConsent,
    NewCustomer, NewPurpose, Store,
};

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, 9, 0, 0).unwrap()
}

fn given(customer: CustomerId, purpose: &str, at: DateTime<Utc>) -> NewConsent {
    NewConsent::new(
        customer,
        purpose,
        ConsentState::Given,
        CollectionMethod::WebForm,
    )
    .notice("2026-03", format!("I agree to {purpose}."))
    .channel("website")
    .jurisdiction("GB")
    .language("en-GB")
    .occurred_at(at)
}

fn setup(store: &Store) -> (CustomerId, CustomerId) {
    store
        .write(|tx| {
            let c = tx.consent();
            c.register_purpose(
                NewPurpose::new("newsletter", "Monthly news", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )?;
            c.register_purpose(
                NewPurpose::new(
                    "analytics",
                    "Usage statistics",
                    LawfulBasis::LegitimateInterests,
                )
                .data_category(DataCategory::Commercial),
            )?;
            c.register_purpose(
                NewPurpose::new("delivery", "Delivering orders", LawfulBasis::Contract)
                    .data_category(DataCategory::Address),
            )?;
            let ann = tx.customers().create(NewCustomer::new("Ann"))?;
            let bob = tx.customers().create(NewCustomer::new("Bob"))?;
            Ok::<_, custdb::Error>((ann.id, bob.id))
        })
        .unwrap()
}

#[test]
fn state_now_and_at_past_instants_and_can_process() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, _) = setup(&store);
        store
            .write(|tx| {
                let c = tx.consent();
                c.record(given(ann, "newsletter", day(2)))?;
                c.record(
                    NewConsent::new(
                        ann,
                        "newsletter",
                        ConsentState::Withdrawn,
                        CollectionMethod::Email,
                    )
                    .occurred_at(day(10)),
                )?;
                c.record(given(ann, "newsletter", day(20)).valid_until(day(25)))?;
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let can = |at| {
            store
                .read(|r| r.consent().can_process(ann, "newsletter", at))
                .unwrap()
        };
        assert!(!can(day(1)), "before any event");
        assert!(can(day(5)), "given on the 2nd");
        assert!(!can(day(15)), "withdrawn on the 10th");
        assert!(can(day(22)), "given again on the 20th");
        assert!(!can(day(26)), "expired on the 25th");
        let state = |at| {
            store
                .read(|r| r.consent().state_at(ann, "newsletter", at))
                .unwrap()
                .map(|s| s.state)
        };
        assert_eq!(state(day(1)), None);
        assert_eq!(state(day(5)), Some(ConsentState::Given));
        assert_eq!(state(day(15)), Some(ConsentState::Withdrawn));
        assert_eq!(state(day(26)), Some(ConsentState::Expired));
        let current = store.read(|r| r.consent().current_states(ann)).unwrap();
        assert_eq!(current.len(), 1);
        assert_eq!(
            (current[0].purpose_id.as_str(), current[0].state),
            ("newsletter", ConsentState::Expired)
        );
        let history = store.read(|r| r.consent().history(ann, None)).unwrap();
        assert_eq!(
            history.iter().map(|e| e.state).collect::<Vec<_>>(),
            vec![
                ConsentState::Given,
                ConsentState::Withdrawn,
                ConsentState::Given
            ]
        );
        assert_eq!(history[0].recorded_by, "system");
        assert_eq!(history[0].notice_version.as_deref(), Some("2026-03"));
        assert_eq!(history[0].notice_hash.as_ref().map(String::len), Some(64));
        assert_consistent(&store);
    }
}

#[test]
fn other_lawful_bases() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, _) = setup(&store);
        let can = |purpose: &str| {
            store
                .read(|r| r.consent().can_process(ann, purpose, Utc::now()))
                .unwrap()
        };
        assert!(can("delivery"), "a contract needs no consent");
        assert!(can("analytics"), "legitimate interest until an objection");
        store
            .write(|tx| {
                tx.consent().record(NewConsent::new(
                    ann,
                    "analytics",
                    ConsentState::Refused,
                    CollectionMethod::WebForm,
                ))
            })
            .unwrap();
        assert!(!can("analytics"), "the objection stops it");
        assert!(!can("newsletter"), "consent never given");
    }
}

#[test]
fn customers_currently_consenting_are_paginated_and_honour_expiry() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, bob) = setup(&store);
        let ids: Vec<CustomerId> = store
            .write(|tx| {
                let mut ids = Vec::new();
                for i in 0..5 {
                    ids.push(tx.customers().create(NewCustomer::new(format!("C{i}")))?.id);
                }
                let c = tx.consent();
                for id in &ids {
                    c.record(given(*id, "newsletter", day(1)))?;
                }
                // Ann's lapses on the 5th; Bob withdraws on the 3rd.
                c.record(given(ann, "newsletter", day(1)).valid_until(day(5)))?;
                c.record(given(bob, "newsletter", day(1)))?;
                c.record(
                    NewConsent::new(
                        bob,
                        "newsletter",
                        ConsentState::Withdrawn,
                        CollectionMethod::Api,
                    )
                    .occurred_at(day(3)),
                )?;
                Ok::<_, custdb::Error>(ids)
            })
            .unwrap();
        let all_at = |at| {
            let mut out = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .read(|r| r.consent().consenting("newsletter", at, cursor.as_ref(), 2))
                    .unwrap();
                assert!(page.items.len() <= 2);
                out.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            out
        };
        let mut expected = ids.clone();
        expected.push(ann);
        expected.push(bob);
        expected.sort();
        assert_eq!(all_at(day(2)), expected);
        let mut later = ids.clone();
        later.sort();
        assert_eq!(all_at(day(6)), later, "Ann expired, Bob withdrew");
    }
}

#[test]
fn a_receipt_has_the_kantara_fields() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, _) = setup(&store);
        let event = store
            .write(|tx| {
                tx.consent()
                    .record(given(ann, "newsletter", day(2)).valid_until(day(28)))
            })
            .unwrap();
        let controller = Controller {
            name: "Shop Ltd".into(),
            contact: "Data Protection Officer".into(),
            address: "1 High St, Bath".into(),
            email: "dpo@shop.example".into(),
            phone: "+44 1225 000000".into(),
            url: Some("https://shop.example".into()),
        };
        let receipt = store
            .read(|r| {
                r.consent().receipt(
                    event.id,
                    &controller,
                    "https://shop.example/privacy",
                    "Shop",
                )
            })
            .unwrap();
        let json = serde_json::to_value(&receipt).unwrap();
        for field in [
            "version",
            "jurisdiction",
            "consentTimestamp",
            "collectionMethod",
            "consentReceiptID",
            "language",
            "piiPrincipalId",
            "piiControllers",
            "policyUrl",
            "services",
            "sensitive",
            "spiCat",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["consentReceiptID"], event.id.to_string());
        assert_eq!(json["consentTimestamp"], day(2).timestamp());
        assert_eq!(json["jurisdiction"], "GB");
        assert_eq!(json["piiControllers"][0]["piiController"], "Shop Ltd");
        let purpose = &json["services"][0]["purposes"][0];
        assert_eq!(purpose["purpose"], "Monthly news");
        assert_eq!(purpose["piiCategory"][0], "contact");
        assert_eq!(purpose["consentType"], "EXPLICIT");
        let back: custdb::ConsentReceipt = serde_json::from_value(json).unwrap();
        assert_eq!(back, receipt);
    }
}

#[test]
fn the_ledger_is_append_only() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (ann, _) = setup(&store);
        store
            .write(|tx| tx.consent().record(given(ann, "newsletter", day(2))))
            .unwrap();
        // Behind custdb's back, as the tables' owner: the triggers refuse.
        let update = store.try_sql("UPDATE consent_events SET state = 'refused'");
        assert!(update.unwrap_err().contains("append-only"));
        let delete = store.try_sql("DELETE FROM consent_events");
        assert!(delete.unwrap_err().contains("append-only"));
        let interactions = store.try_sql("DELETE FROM customer_interactions");
        assert!(interactions.is_ok(), "no rows, nothing refused");
    }
}

#[test]
fn registering_a_purpose_twice() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let (_, _) = setup(&store);
        let again = store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("newsletter", "Monthly news", LawfulBasis::Consent)
                        .data_category(DataCategory::Contact),
                )
            })
            .unwrap();
        assert_eq!(again.id, "newsletter");
        let changed = store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("newsletter", "Weekly news", LawfulBasis::Consent)
                        .data_category(DataCategory::Contact),
                )
            })
            .unwrap_err();
        assert!(changed.is_already_exists());
        assert_eq!(store.read(|r| r.consent().purposes()).unwrap().len(), 3);
    }
}
