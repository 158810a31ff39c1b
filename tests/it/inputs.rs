//! Input records read from JSON: objects only, unknown fields refused with
//! their name, wrong types named by their path, and in patches `null` and
//! `""` both clear an optional field while a required one refuses `null`.

use custdb::Currency;
use custdb::{
    AddressPatch, CustomerPatch, NewAddress, NewConsent, NewCustomer, NewOrder, NewProduct,
    Segment, VariantPatch,
};
use serde::de::DeserializeOwned;

fn refused<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    serde_json::from_str::<T>(json)
        .map(|v| panic!("{json} was accepted as {v:?}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_fields_are_refused_with_their_name() {
    for (json, name) in [
        (
            r#"{"display_name": "Ann", "emial": "ann@example.com"}"#,
            "emial",
        ),
        (
            r#"{"line1": "1 A St", "city": "Bath", "country": "GB", "kind": "billing", "zip": "1"}"#,
            "zip",
        ),
        (
            r#"{"customer_id": null, "currency": "GBP", "lines": [{"sku": "A", "quantity": 1, "qty": 2}]}"#,
            "qty",
        ),
        (r#"{"titel": "x"}"#, "titel"),
    ] {
        let err = match name {
            "emial" => refused::<NewCustomer>(json),
            "zip" => refused::<NewAddress>(json),
            "qty" => refused::<NewOrder>(json),
            _ => refused::<VariantPatch>(json),
        };
        assert!(err.contains(&format!("unknown field `{name}`")), "{err}");
    }
}

#[test]
fn currencies_are_checked_where_they_are_read() {
    // A Currency cannot hold a bad code, so a bad one fails in the input
    // record, naming the field, before any operation starts.
    for (json, why) in [
        (
            r#"{"currency": "XYZ", "lines": []}"#,
            "not an ISO 4217 currency code",
        ),
        (r#"{"currency": "XAU", "lines": []}"#, "no minor unit"),
        (r#"{"currency": "GBPX", "lines": []}"#, "three letters"),
    ] {
        let err = refused::<NewOrder>(json);
        assert!(
            err.contains("currency") && err.contains(why),
            "{json}: {err}"
        );
    }
    let err = refused::<NewProduct>(
        r#"{"name": "Tea", "variants": [{"sku": "T", "price": "1", "currency": "ZZZ"}]}"#,
    );
    assert!(
        err.contains("variants[0]") && err.contains("currency") && err.contains("ZZZ"),
        "{err}"
    );
    let order: NewOrder = serde_json::from_str(r#"{"currency": "gbp", "lines": []}"#).unwrap();
    assert_eq!(order.currency, Currency::GBP);
}

#[test]
fn arrays_and_other_non_objects_are_not_read_positionally() {
    for json in [
        r#"["Ann", null, null, "ann@example.com"]"#,
        "\"Ann\"",
        "5",
        "null",
    ] {
        let err = refused::<NewCustomer>(json);
        assert!(
            err.contains("a JSON object for NewCustomer"),
            "{json}: {err}"
        );
    }
    let err = refused::<NewProduct>(r#"{"name": "Tea", "variants": [["TEA", "4.50", "GBP"]]}"#);
    assert!(
        err.contains("variants[0]") && err.contains("JSON object for NewVariant"),
        "{err}"
    );
}

#[test]
fn wrong_types_name_the_field_by_its_path() {
    let err = refused::<NewCustomer>(r#"{"display_name": 5}"#);
    assert!(err.starts_with("display_name: invalid type"), "{err}");
    let err = refused::<NewOrder>(
        r#"{"currency": "GBP", "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": "two"}]}"#,
    );
    assert!(
        err.contains("lines[1]") && err.contains("quantity"),
        "{err}"
    );
    let err = refused::<NewConsent>(r#"{"customer_id": "not-a-uuid"}"#);
    assert!(err.contains("customer_id"), "{err}");
    let err = refused::<Segment>(r#"{"tags": "vip"}"#);
    assert!(err.contains("tags"), "{err}");
}

#[test]
fn in_patches_null_and_empty_text_both_clear_and_required_fields_refuse_null() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let ann = store
            .customers()
            .create(
                NewCustomer::new("Ann")
                    .email("ann@example.com")
                    .company("Co")
                    .given_name("Ann"),
            )
            .unwrap();
        let by_null: CustomerPatch =
            serde_json::from_str(r#"{"email": null, "company": null}"#).unwrap();
        assert_eq!(by_null.email, Some(None));
        assert_eq!(by_null.company, Some(None));
        assert_eq!(by_null.given_name, None, "a missing field is left alone");
        let by_empty: CustomerPatch =
            serde_json::from_str(r#"{"email": "", "company": ""}"#).unwrap();

        let after_null = store
            .customers()
            .update(ann.id, ann.version, by_null.clone())
            .unwrap();
        assert_eq!(
            (after_null.email.as_deref(), after_null.company.as_deref()),
            (None, None)
        );
        assert_eq!(after_null.given_name.as_deref(), Some("Ann"));
        let restored = store
            .customers()
            .update(
                ann.id,
                after_null.version,
                CustomerPatch::default()
                    .email("ann@example.com")
                    .company("Co"),
            )
            .unwrap();
        let after_empty = store
            .customers()
            .update(ann.id, restored.version, by_empty)
            .unwrap();
        assert_eq!(
            (after_empty.email.as_deref(), after_empty.company.as_deref()),
            (None, None)
        );

        // A patch serializes what it changes and clears, and reads back equal.
        let text = serde_json::to_string(&by_null).unwrap();
        assert_eq!(text, r#"{"email":null,"company":null}"#);
        assert_eq!(
            serde_json::from_str::<CustomerPatch>(&text).unwrap(),
            by_null
        );

        for (err, field) in [
            (
                refused::<CustomerPatch>(r#"{"display_name": null}"#),
                "display_name",
            ),
            (refused::<AddressPatch>(r#"{"city": null}"#), "city"),
            (refused::<VariantPatch>(r#"{"price": null}"#), "price"),
        ] {
            assert!(
                err.contains(&format!("`{field}` cannot be cleared")),
                "{err}"
            );
        }
        let clears_region: AddressPatch = serde_json::from_str(r#"{"region": null}"#).unwrap();
        assert_eq!(clears_region.region, Some(None));
    }
}

#[test]
fn every_input_round_trips_through_json() {
    let customer = NewCustomer::new("Ann").email("ann@example.com").tag("vip");
    let text = serde_json::to_string(&customer).unwrap();
    assert_eq!(
        serde_json::from_str::<NewCustomer>(&text).unwrap(),
        customer
    );
    let order = NewOrder::for_guest("g@example.com", Currency::GBP)
        .line(custdb::NewOrderLine::new("TEA", 2).warehouse("north"));
    let text = serde_json::to_string(&order).unwrap();
    assert_eq!(serde_json::from_str::<NewOrder>(&text).unwrap(), order);
    let segment = Segment::default().country("GB").tag("vip");
    let text = serde_json::to_string(&segment).unwrap();
    assert_eq!(serde_json::from_str::<Segment>(&text).unwrap(), segment);
}
