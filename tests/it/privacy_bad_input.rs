//! Every bad consent or privacy input named by the privacy milestone is a
//! typed error naming the field, and leaves the file exactly as it was.

use crate::common::assert_consistent;
use chrono::{Duration, Utc};
use custdb::{
    CollectionMethod, ConsentState, CustomerId, DataCategory, Error, ErrorKind, LawfulBasis,
    NewConsent, NewCustomer, NewPurpose, RetentionCategory, Store,
};

enum Expect {
    Invalid(&'static str),
    NotFound,
    InvalidState,
}

type Attempt = Box<dyn Fn(&Store, CustomerId) -> Result<(), Error>>;

fn record(event: impl Fn(CustomerId) -> NewConsent + 'static) -> Attempt {
    Box::new(move |s, ann| s.write(|tx| tx.consent().record(event(ann))).map(drop))
}

fn given(ann: CustomerId) -> NewConsent {
    NewConsent::new(
        ann,
        "newsletter",
        ConsentState::Given,
        CollectionMethod::WebForm,
    )
    .notice("v1", "Send me news.")
}

fn purpose(p: NewPurpose) -> Attempt {
    Box::new(move |s, _| {
        s.write(|tx| tx.consent().register_purpose(p.clone()))
            .map(drop)
    })
}

fn cases() -> Vec<(&'static str, Expect, Attempt)> {
    vec![
        (
            "consent for an unregistered purpose",
            Expect::Invalid("purpose_id"),
            record(|ann| given(ann).clone_with_purpose("unknown")),
        ),
        (
            "an event time in the future beyond the tolerance",
            Expect::Invalid("occurred_at"),
            record(|ann| given(ann).occurred_at(Utc::now() + Duration::minutes(10))),
        ),
        (
            "withdrawal of a consent never given",
            Expect::InvalidState,
            record(|ann| {
                NewConsent::new(
                    ann,
                    "newsletter",
                    ConsentState::Withdrawn,
                    CollectionMethod::Email,
                )
            }),
        ),
        (
            "a given consent without the notice shown",
            Expect::Invalid("notice"),
            record(|ann| {
                NewConsent::new(
                    ann,
                    "newsletter",
                    ConsentState::Given,
                    CollectionMethod::WebForm,
                )
            }),
        ),
        (
            "a validity that ends before the event",
            Expect::Invalid("valid_until"),
            record(|ann| given(ann).valid_until(Utc::now() - Duration::days(1))),
        ),
        (
            "a lower-case jurisdiction",
            Expect::Invalid("jurisdiction"),
            record(|ann| given(ann).jurisdiction("gb")),
        ),
        (
            "an empty notice text",
            Expect::Invalid("notice.text"),
            record(|ann| given(ann).notice("v1", "  ")),
        ),
        (
            "consent of an unknown customer",
            Expect::NotFound,
            record(|_| given(CustomerId::new())),
        ),
        (
            "a purpose without data categories",
            Expect::Invalid("data_categories"),
            purpose(NewPurpose::new("ads", "Ads", LawfulBasis::Consent)),
        ),
        (
            "a purpose id with spaces",
            Expect::Invalid("id"),
            purpose(
                NewPurpose::new("my ads", "Ads", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            ),
        ),
        (
            "a consent purpose that does not require consent",
            Expect::Invalid("consent_required"),
            purpose(
                NewPurpose::new("ads", "Ads", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact)
                    .consent_required(false),
            ),
        ),
        (
            "export of an unknown customer",
            Expect::NotFound,
            Box::new(|s, _| s.read(|r| r.privacy().export(CustomerId::new())).map(drop)),
        ),
        (
            "erasure of an unknown customer",
            Expect::NotFound,
            Box::new(|s, _| s.erase_customer(CustomerId::new()).map(drop)),
        ),
        (
            "a retention rule of zero days",
            Expect::Invalid("period_days"),
            Box::new(|s, _| {
                s.write(|tx| {
                    tx.privacy()
                        .set_retention_rule(RetentionCategory::Interactions, 0)
                })
                .map(drop)
            }),
        ),
        (
            "a retention rule of a negative duration",
            Expect::Invalid("period_days"),
            Box::new(|s, _| {
                s.write(|tx| {
                    tx.privacy()
                        .set_retention_rule(RetentionCategory::InactiveCustomers, -30)
                })
                .map(drop)
            }),
        ),
    ]
}

trait WithPurpose {
    fn clone_with_purpose(self, purpose: &str) -> Self;
}

impl WithPurpose for NewConsent {
    fn clone_with_purpose(mut self, purpose: &str) -> Self {
        self.purpose_id = purpose.into();
        self
    }
}

#[test]
fn every_bad_privacy_input_is_a_typed_error_and_writes_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let ann = store
            .write(|tx| {
                tx.consent().register_purpose(
                    NewPurpose::new("newsletter", "News", LawfulBasis::Consent)
                        .data_category(DataCategory::Contact),
                )?;
                Ok::<_, custdb::Error>(tx.customers().create(NewCustomer::new("Ann"))?.id)
            })
            .unwrap();
        for (name, expect, attempt) in cases() {
            let before = store.contents();
            let err = match attempt(&store, ann) {
                Ok(()) => panic!("{name}: was accepted"),
                Err(e) => e,
            };
            match (&expect, err.kind()) {
                (Expect::Invalid(field), ErrorKind::Invalid { field: got, .. }) => {
                    assert_eq!(got, field, "{name}: {err}")
                }
                (Expect::NotFound, ErrorKind::NotFound { .. }) => {}
                (Expect::InvalidState, ErrorKind::InvalidState { .. }) => {}
                (_, other) => panic!("{name}: unexpected error {other:?}"),
            }
            assert!(!err.to_string().is_empty());
            assert_eq!(before, store.contents(), "{name}: the store changed");
        }
        assert_consistent(&store);
    }
}
