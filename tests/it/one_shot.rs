//! Every area is reachable without a closure: one-shot calls on the
//! `Store`, each its own unit of work, for single operations.

use crate::common::assert_consistent;
use chrono::Utc;
use custdb::Currency;
use custdb::{
    CollectionMethod, ConsentState, DataCategory, Decimal, LawfulBasis, NewConsent, NewCustomer,
    NewOrder, NewOrderLine, NewPayment, NewProduct, NewPurpose, NewShipment, NewVariant,
    NewWarehouse, OrderStatus, PaymentMethod, Permission, Segment,
};

#[test]
fn a_shop_day_with_one_shot_calls_only() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let audit_before = store.read(|r| r.audit().count()).unwrap();
        let ann = store
            .customers()
            .create(NewCustomer::new("Ann").email("ann@example.com").tag("vip"))
            .unwrap();
        let tea = store
            .catalog()
            .create_product(NewProduct::new("Tea").variant(NewVariant::new(
                "TEA",
                Decimal::new(450, 2),
                Currency::GBP,
            )))
            .unwrap();
        let main = store
            .inventory()
            .create_warehouse(NewWarehouse::new("main", "Main"))
            .unwrap();
        store
            .inventory()
            .receive(tea.variants[0].id, main.id, 10)
            .unwrap();
        assert_eq!(store.inventory().available(tea.variants[0].id).unwrap(), 10);
        assert_eq!(
            store.catalog().variant_by_sku("TEA").unwrap().id,
            tea.variants[0].id
        );

        let order = store
            .orders()
            .place(NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 2)))
            .unwrap();
        store
            .orders()
            .pay(
                order.id,
                NewPayment::new(PaymentMethod::Card, order.total.amount),
            )
            .unwrap();
        store
            .orders()
            .ship(order.id, NewShipment::everything("DHL", "JD1"))
            .unwrap();
        assert_eq!(
            store.orders().get(order.id).unwrap().status,
            OrderStatus::Shipped
        );
        assert_eq!(store.orders().by_number(order.number).unwrap().id, order.id);
        assert_eq!(
            store
                .orders()
                .history(ann.id, None, 10)
                .unwrap()
                .items
                .len(),
            1
        );
        assert_eq!(store.inventory().available(tea.variants[0].id).unwrap(), 8);

        store
            .consent()
            .register_purpose(
                NewPurpose::new("news", "News", LawfulBasis::Consent)
                    .data_category(DataCategory::Contact),
            )
            .unwrap();
        store
            .consent()
            .record(
                NewConsent::new(
                    ann.id,
                    "news",
                    ConsentState::Given,
                    CollectionMethod::WebForm,
                )
                .notice("v1", "Send me news."),
            )
            .unwrap();
        assert!(store
            .consent()
            .can_process(ann.id, "news", Utc::now())
            .unwrap());

        store
            .segments()
            .save("vips", &Segment::default().tag("vip"))
            .unwrap();
        let vips = store.segments().evaluate_saved("vips", None, 10).unwrap();
        assert_eq!(vips.items, vec![ann.id]);
        assert_eq!(
            store.customers().get_many(&vips.items).unwrap()[0].id,
            ann.id
        );

        store
            .access()
            .define_role("desk", &[Permission::Refund], None)
            .unwrap();
        assert!(store
            .access()
            .grant("clerk", "desk")
            .unwrap()
            .allows(Permission::Refund));

        assert_eq!(store.reports().counts().unwrap().orders, 1);
        assert!(store.duplicates().candidates(10).unwrap().is_empty());
        let export = store.privacy().export(ann.id).unwrap();
        assert_eq!(export.customer_id, ann.id);

        // Each write was its own unit of work with its own audit rows.
        let audit_after = store.read(|r| r.audit().count()).unwrap();
        assert!(
            audit_after >= audit_before + 12,
            "{audit_before} -> {audit_after}"
        );
        // A failing one-shot call writes nothing.
        let err = store
            .orders()
            .place(NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 99)))
            .unwrap_err();
        assert!(err.is_shortfall());
        assert_eq!(store.read(|r| r.audit().count()).unwrap(), audit_after);
        assert_consistent(&store);
    }
}
