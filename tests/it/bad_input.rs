//! Bad input: every case the foundation issue names (and the other limits)
//! gets a typed error naming the field and the reason, and the database file
//! is exactly as it was before the call.

use crate::common::assert_consistent;
use chrono::{Duration, NaiveDate, Utc};
use custdb::{
    AddressKind, AddressPatch, Channel, CustomerId, CustomerPatch, Direction, Error, ErrorKind,
    InteractionKind, NewAddress, NewCustomer, NewInteraction, Store,
};
use serde_json::{json, Value};

/// What a bad call must fail with.
enum Expect {
    Invalid(&'static str),
    AlreadyExists(&'static str),
    NotFound,
    Conflict,
}

struct Fixture {
    existing: CustomerId,
    address: custdb::AddressId,
}

/// One attempted operation against the store and its fixture.
type Attempt = Box<dyn Fn(&Store, &Fixture) -> Result<(), Error>>;

type Case = (&'static str, Expect, Attempt);

fn deep_json(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!({ "k": inner }))
}

fn cases() -> Vec<Case> {
    fn create(new: NewCustomer) -> Attempt {
        Box::new(move |s, _| s.customers().create(new.clone()).map(drop))
    }
    fn address(new: NewAddress) -> Attempt {
        Box::new(move |s, f| s.customers().add_address(f.existing, new.clone()).map(drop))
    }
    fn interaction(new: NewInteraction) -> Attempt {
        Box::new(move |s, f| {
            s.customers()
                .add_interaction(f.existing, new.clone())
                .map(drop)
        })
    }
    let home = || NewAddress::new(AddressKind::Shipping, "1 High St", "Bath", "GB");
    let note = || NewInteraction::new(Channel::Phone, Direction::Inbound, InteractionKind::Note);
    let big_attributes =
        serde_json::Map::from_iter([("blob".to_owned(), json!("x".repeat(20_000)))]);
    let deep_attributes = serde_json::Map::from_iter([("nest".to_owned(), deep_json(10))]);
    vec![
        (
            "a display name of zero-width characters only",
            Expect::Invalid("display_name"),
            create(NewCustomer::new("\u{200B}\u{2060}\u{FEFF}")),
        ),
        (
            "a display name with a right-to-left override",
            Expect::Invalid("display_name"),
            create(NewCustomer::new("Ann\u{202E}fdp.exe")),
        ),
        (
            "a company with a directional isolate",
            Expect::Invalid("company"),
            create(NewCustomer::new("Ann").company("\u{2067}Evil\u{2069} Ltd")),
        ),
        (
            "an interaction subject of invisible characters only",
            Expect::Invalid("interaction.subject"),
            interaction(note().subject("\u{200D}\u{200C}")),
        ),
        (
            "malformed email",
            Expect::Invalid("email"),
            create(NewCustomer::new("A").email("not-an-email")),
        ),
        (
            "email without domain dot",
            Expect::Invalid("email"),
            create(NewCustomer::new("A").email("a@localhost")),
        ),
        (
            "email with a display name",
            Expect::Invalid("email"),
            create(NewCustomer::new("A").email("A <a@b.com>")),
        ),
        (
            "email already used",
            Expect::AlreadyExists("email"),
            create(NewCustomer::new("A").email("taken@example.com")),
        ),
        (
            "email already used, other case",
            Expect::AlreadyExists("email"),
            create(NewCustomer::new("A").email("  TAKEN@Example.com")),
        ),
        (
            "empty name",
            Expect::Invalid("display_name"),
            create(NewCustomer::new("")),
        ),
        (
            "blank name",
            Expect::Invalid("display_name"),
            create(NewCustomer::new(" \t ")),
        ),
        (
            "1 MB name",
            Expect::Invalid("display_name"),
            create(NewCustomer::new("n".repeat(1 << 20))),
        ),
        (
            "name with a line break",
            Expect::Invalid("display_name"),
            create(NewCustomer::new("a\nb")),
        ),
        (
            "long given name",
            Expect::Invalid("given_name"),
            create(NewCustomer::new("A").given_name("g".repeat(101))),
        ),
        (
            "long notes",
            Expect::Invalid("notes"),
            create(NewCustomer::new("A").notes("n".repeat(10_001))),
        ),
        (
            "bad phone",
            Expect::Invalid("phone"),
            create(NewCustomer::new("A").phone("call me maybe")),
        ),
        (
            "invalid phone for its country",
            Expect::Invalid("phone"),
            create(NewCustomer::new("A").phone("12").phone_country("GB")),
        ),
        (
            "bad phone country",
            Expect::Invalid("phone_country"),
            create(NewCustomer::new("A").phone("0123").phone_country("ZZ")),
        ),
        (
            "bad locale",
            Expect::Invalid("locale"),
            create(NewCustomer::new("A").locale("english please")),
        ),
        (
            "future birth date",
            Expect::Invalid("birth_date"),
            create(NewCustomer::new("A").birth_date((Utc::now() + Duration::days(2)).date_naive())),
        ),
        (
            "ancient birth date",
            Expect::Invalid("birth_date"),
            create(NewCustomer::new("A").birth_date(NaiveDate::from_ymd_opt(1800, 1, 1).unwrap())),
        ),
        (
            "long tag",
            Expect::Invalid("tags"),
            create(NewCustomer::new("A").tag("t".repeat(65))),
        ),
        (
            "empty tag",
            Expect::Invalid("tags"),
            create(NewCustomer::new("A").tag(" ")),
        ),
        (
            "too many tags",
            Expect::Invalid("tags"),
            create((0..51).fold(NewCustomer::new("A"), |n, i| n.tag(format!("t{i}")))),
        ),
        (
            "attributes too large",
            Expect::Invalid("attributes"),
            create(NewCustomer {
                attributes: big_attributes,
                ..NewCustomer::new("A")
            }),
        ),
        (
            "attributes too deep",
            Expect::Invalid("attributes"),
            create(NewCustomer {
                attributes: deep_attributes,
                ..NewCustomer::new("A")
            }),
        ),
        (
            "attribute with an empty key",
            Expect::Invalid("attributes"),
            create(NewCustomer::new("A").attribute("", json!(1))),
        ),
        (
            "invalid country code",
            Expect::Invalid("address.country"),
            address(NewAddress::new(
                AddressKind::Billing,
                "1 A St",
                "Leeds",
                "UK",
            )),
        ),
        (
            "country code of three letters",
            Expect::Invalid("address.country"),
            address(NewAddress::new(
                AddressKind::Billing,
                "1 A St",
                "Leeds",
                "GBR",
            )),
        ),
        (
            "address without line1",
            Expect::Invalid("address.line1"),
            address(NewAddress::new(AddressKind::Billing, " ", "Leeds", "GB")),
        ),
        (
            "address without city",
            Expect::Invalid("address.city"),
            address(NewAddress::new(AddressKind::Billing, "1 A St", "", "GB")),
        ),
        (
            "long postal code",
            Expect::Invalid("address.postal_code"),
            address(home().postal_code("1".repeat(21))),
        ),
        (
            "address phone invalid for its country",
            Expect::Invalid("address.phone"),
            address(home().phone("99")),
        ),
        (
            "interaction without text",
            Expect::Invalid("interaction.subject"),
            interaction(note()),
        ),
        (
            "rating on a note",
            Expect::Invalid("interaction.rating"),
            interaction(note().subject("s").rating(3)),
        ),
        (
            "rating out of range",
            Expect::Invalid("interaction.rating"),
            interaction(
                NewInteraction::new(Channel::Web, Direction::Inbound, InteractionKind::Review)
                    .subject("s")
                    .rating(6),
            ),
        ),
        (
            "interaction far in the future",
            Expect::Invalid("interaction.occurred_at"),
            interaction(
                note()
                    .subject("s")
                    .occurred_at(Utc::now() + Duration::days(3)),
            ),
        ),
        (
            "long interaction body",
            Expect::Invalid("interaction.body"),
            interaction(note().body("b".repeat(20_001))),
        ),
        (
            "unknown customer: get",
            Expect::NotFound,
            Box::new(|s, _| s.customers().get(CustomerId::new()).map(drop)),
        ),
        (
            "unknown customer: update",
            Expect::NotFound,
            Box::new(|s, _| {
                s.customers()
                    .update(CustomerId::new(), 1, CustomerPatch::default().company("x"))
                    .map(drop)
            }),
        ),
        (
            "unknown customer: archive",
            Expect::NotFound,
            Box::new(|s, _| s.customers().archive(CustomerId::new()).map(drop)),
        ),
        (
            "unknown customer: tags",
            Expect::NotFound,
            Box::new(|s, _| s.customers().add_tags(CustomerId::new(), &["x"]).map(drop)),
        ),
        (
            "unknown customer: address",
            Expect::NotFound,
            Box::new(move |s, _| {
                s.customers()
                    .add_address(
                        CustomerId::new(),
                        NewAddress::new(AddressKind::Billing, "1 A St", "Leeds", "GB"),
                    )
                    .map(drop)
            }),
        ),
        (
            "unknown customer: interaction",
            Expect::NotFound,
            Box::new(move |s, _| {
                s.customers()
                    .add_interaction(
                        CustomerId::new(),
                        NewInteraction::new(
                            Channel::Web,
                            Direction::Inbound,
                            InteractionKind::Note,
                        )
                        .subject("x"),
                    )
                    .map(drop)
            }),
        ),
        (
            "unknown customer: timeline",
            Expect::NotFound,
            Box::new(|s, _| {
                s.customers()
                    .interactions(CustomerId::new(), None, 10)
                    .map(drop)
            }),
        ),
        (
            "unknown email",
            Expect::NotFound,
            Box::new(|s, _| s.customers().get_by_email("nobody@example.com").map(drop)),
        ),
        (
            "unknown address",
            Expect::NotFound,
            Box::new(|s, _| s.customers().delete_address(custdb::AddressId::new())),
        ),
        (
            "stale version on update",
            Expect::Conflict,
            Box::new(|s, f| {
                s.customers()
                    .update(f.existing, 1, CustomerPatch::default().company("x"))
                    .map(drop)
            }),
        ),
        (
            "future version on update",
            Expect::Conflict,
            Box::new(|s, f| {
                s.customers()
                    .update(f.existing, 99, CustomerPatch::default().company("x"))
                    .map(drop)
            }),
        ),
        (
            "patch to a used email",
            Expect::AlreadyExists("email"),
            Box::new(|s, f| {
                let other = s.customers().get_by_email("other@example.com")?;
                let _ = f;
                s.customers()
                    .update(
                        other.id,
                        other.version,
                        CustomerPatch::default().email("taken@example.com"),
                    )
                    .map(drop)
            }),
        ),
        (
            "patch with an empty name",
            Expect::Invalid("display_name"),
            Box::new(|s, f| {
                s.customers()
                    .update(f.existing, 2, CustomerPatch::default().display_name(""))
                    .map(drop)
            }),
        ),
        (
            "address patch to a bad country",
            Expect::Invalid("address.country"),
            Box::new(|s, f| {
                s.customers()
                    .update_address(
                        f.address,
                        AddressPatch {
                            country: Some("Narnia".into()),
                            ..Default::default()
                        },
                    )
                    .map(drop)
            }),
        ),
        (
            "second step of a unit of work fails",
            Expect::Invalid("email"),
            Box::new(|s, _| {
                s.write(|tx| {
                    tx.customers().create(NewCustomer::new("First, valid"))?;
                    tx.customers()
                        .create(NewCustomer::new("Second").email("bad"))?;
                    Ok(())
                })
            }),
        ),
    ]
}

#[test]
fn every_bad_input_is_a_typed_error_and_writes_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let existing = store
            .customers()
            .create(NewCustomer::new("Existing").email("taken@example.com"))
            .unwrap();
        // Version 2, so that version 1 is stale.
        store.customers().add_tags(existing.id, &["seed"]).unwrap();
        store
            .customers()
            .create(NewCustomer::new("Other").email("other@example.com"))
            .unwrap();
        let address = store
            .customers()
            .add_address(
                existing.id,
                NewAddress::new(AddressKind::Billing, "1 A St", "Leeds", "GB"),
            )
            .unwrap()
            .id;
        let fixture = Fixture {
            existing: existing.id,
            address,
        };

        for (name, expect, call) in cases() {
            let before = store.contents();
            let err = match call(&store, &fixture) {
                Ok(()) => panic!("{name}: accepted"),
                Err(e) => e,
            };
            match expect {
                Expect::Invalid(field) => {
                    assert!(err.is_invalid(), "{name}: {err:?}");
                    assert_eq!(err.field(), Some(field), "{name}: {err}");
                    let message = err.to_string();
                    assert!(
                        message.starts_with(&format!("invalid {field}: ")),
                        "{name}: {message}"
                    );
                    assert!(
                        message.len() < 300,
                        "{name}: the message must not echo the input: {message}"
                    );
                }
                Expect::AlreadyExists(field) => {
                    assert!(err.is_already_exists(), "{name}: {err:?}");
                    assert_eq!(err.field(), Some(field), "{name}");
                    assert!(
                        !err.to_string().contains("taken@"),
                        "{name}: no personal data in errors"
                    );
                }
                Expect::NotFound => assert!(err.is_not_found(), "{name}: {err:?}"),
                Expect::Conflict => {
                    assert!(err.is_conflict(), "{name}: {err:?}");
                    assert!(matches!(
                        err.kind(),
                        ErrorKind::Conflict {
                            actual_version: 2,
                            ..
                        }
                    ));
                }
            }
            assert_eq!(store.contents(), before, "{name}: the database changed");
        }
        assert_consistent(&store);
    }
}
