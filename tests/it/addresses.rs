//! Addresses: kinds, the one-default-per-kind rule, update, delete.

use crate::common::assert_consistent;
use custdb::{AddressKind, AddressPatch, NewAddress, NewCustomer, Store};

fn setup(store: &Store) -> custdb::CustomerId {
    store
        .customers()
        .create(NewCustomer::new("Ann"))
        .unwrap()
        .id
}

fn defaults(store: &Store, id: custdb::CustomerId) -> Vec<(AddressKind, String)> {
    let mut d: Vec<_> = store
        .customers()
        .addresses(id)
        .unwrap()
        .into_iter()
        .filter(|a| a.is_default)
        .map(|a| (a.kind, a.line1))
        .collect();
    d.sort_by_key(|(k, _)| k.as_str());
    d
}

#[test]
fn the_first_address_of_a_kind_is_its_default() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = setup(&store);
        let c = store.customers();
        let bill = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Billing, "1 Bill St", "Leeds", "gb"),
            )
            .unwrap();
        let ship1 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "1 Ship St", "Leeds", "GB"),
            )
            .unwrap();
        let ship2 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "2 Ship St", "Leeds", "GB"),
            )
            .unwrap();
        assert!(bill.is_default && ship1.is_default && !ship2.is_default);
        assert_eq!(bill.country, "GB");
        // A new default replaces the old one.
        let ship3 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "3 Ship St", "Leeds", "GB").make_default(),
            )
            .unwrap();
        assert!(ship3.is_default);
        assert_eq!(
            defaults(&store, id),
            vec![
                (AddressKind::Billing, "1 Bill St".into()),
                (AddressKind::Shipping, "3 Ship St".into())
            ]
        );
        c.set_default_address(ship1.id).unwrap();
        assert_eq!(defaults(&store, id)[1].1, "1 Ship St");
        assert_eq!(c.addresses(id).unwrap().len(), 4);
        assert_consistent(&store);
    }
}

#[test]
fn deleting_the_default_promotes_the_newest_remaining() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = setup(&store);
        let c = store.customers();
        let a = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "A", "Leeds", "GB"),
            )
            .unwrap();
        let _b = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "B", "Leeds", "GB"),
            )
            .unwrap();
        let _c2 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "C", "Leeds", "GB"),
            )
            .unwrap();
        c.delete_address(a.id).unwrap();
        assert_eq!(
            defaults(&store, id),
            vec![(AddressKind::Shipping, "C".into())]
        );
        assert!(c.delete_address(a.id).unwrap_err().is_not_found());
        assert_consistent(&store);
    }
}

#[test]
fn changing_kind_keeps_one_default_on_both_sides() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = setup(&store);
        let c = store.customers();
        let s1 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "S1", "Leeds", "GB"),
            )
            .unwrap();
        let _s2 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Shipping, "S2", "Leeds", "GB"),
            )
            .unwrap();
        let _b1 = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Billing, "B1", "Leeds", "GB"),
            )
            .unwrap();
        let moved = c
            .update_address(
                s1.id,
                AddressPatch {
                    kind: Some(AddressKind::Billing),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(moved.kind, AddressKind::Billing);
        assert!(!moved.is_default, "billing already had a default");
        assert_eq!(
            defaults(&store, id),
            vec![
                (AddressKind::Billing, "B1".into()),
                (AddressKind::Shipping, "S2".into())
            ]
        );
        assert_consistent(&store);
    }
}

#[test]
fn update_changes_fields_and_normalizes_the_phone_with_the_country() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = setup(&store);
        let c = store.customers();
        let a = c
            .add_address(
                id,
                NewAddress::new(AddressKind::Billing, "1 A St", "Leeds", "GB"),
            )
            .unwrap();
        let b = c
            .update_address(
                a.id,
                AddressPatch {
                    line2: Some(Some("Flat 2".into())),
                    city: Some("New York".into()),
                    country: Some("us".into()),
                    phone: Some(Some("(415) 555-2671".into())),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(b.city, "New York");
        assert_eq!(b.country, "US");
        assert_eq!(b.line2.as_deref(), Some("Flat 2"));
        assert_eq!(b.phone.as_deref(), Some("+14155552671"));
        assert!(b.is_default);
        assert_eq!(c.address(a.id).unwrap(), b);
        // Clearing an optional field.
        let cleared = c
            .update_address(
                a.id,
                AddressPatch {
                    line2: Some(None),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(cleared.line2, None);
        assert_consistent(&store);
    }
}

#[test]
fn address_limit_is_enforced() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let id = setup(&store);
        store
            .write(|tx| {
                for i in 0..custdb::customer::address::MAX_ADDRESSES {
                    tx.customers().add_address(
                        id,
                        NewAddress::new(AddressKind::Other, format!("{i} St"), "Leeds", "GB"),
                    )?;
                }
                Ok::<_, custdb::Error>(())
            })
            .unwrap();
        let err = store
            .customers()
            .add_address(
                id,
                NewAddress::new(AddressKind::Other, "one more", "Leeds", "GB"),
            )
            .unwrap_err();
        assert_eq!(err.field(), Some("addresses"));
    }
}
