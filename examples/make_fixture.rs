//! Writes a fixture database at the current schema version, for the
//! upgrade tests in tests/it/migrations.rs.
//!
//! ```text
//! cargo run --example make_fixture -- tests/fixtures/v<N>.db
//! ```
//!
//! Every schema version that is released keeps the file this wrote at that
//! version; tests/it/migrations.rs opens each one with the current library and
//! checks that the data below is intact. Keep the data the same from version
//! to version, so that one check fits every fixture.

use chrono::{TimeZone, Utc};
use custdb::Currency;
use custdb::{
    Actor, AddressKind, Channel, CollectionMethod, ConsentState, DataCategory, Decimal, Direction,
    ErasureGround, InteractionKind, LawfulBasis, NewAddress, NewConsent, NewCustomer,
    NewInteraction, NewOrder, NewOrderLine, NewPayment, NewProduct, NewPurpose, NewRefund,
    NewReturn, NewShipment, NewVariant, NewWarehouse, Options, PaymentMethod, Permission,
    RetentionCategory, Store,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: make_fixture <path of the new fixture database>")?;
    if std::path::Path::new(&path).exists() {
        return Err(format!("{path} exists; fixtures are never overwritten").into());
    }
    let actor = Actor::new("fixture", "Fixture generator")?;
    let store = Store::open_with(&path, Options::default().actor(actor))?;
    store.write(|tx| {
        let c = tx.customers();
        let ada = c.create(
            NewCustomer::new("Ada Lovelace")
                .given_name("Ada")
                .family_name("Lovelace")
                .email("ada@example.com")
                .phone("+44 20 7946 0958")
                .company("Analytical Engines")
                .locale("en-GB")
                .tag("vip")
                .tag("newsletter")
                .attribute("loyalty", serde_json::json!({"tier": "gold"}))
                .notes("Fixture customer one."),
        )?;
        c.add_address(
            ada.id,
            NewAddress::new(AddressKind::Billing, "12 St James's Square", "London", "GB")
                .postal_code("SW1Y 4JH"),
        )?;
        c.add_address(
            ada.id,
            NewAddress::new(AddressKind::Shipping, "1 Dock Road", "London", "GB"),
        )?;
        c.add_interaction(
            ada.id,
            NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Review)
                .subject("Fixture review")
                .rating(4)
                .occurred_at(
                    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
                        .single()
                        .unwrap_or_default(),
                ),
        )?;
        let grace = c.create(
            NewCustomer::new("Grace Hopper")
                .email("grace@example.org")
                .tag("wholesale"),
        )?;
        c.add_address(
            grace.id,
            NewAddress::new(AddressKind::Shipping, "1 Navy Way", "Arlington", "US"),
        )?;
        let gone = c.create(NewCustomer::new("Archived Person").email("gone@example.net"))?;
        c.archive(gone.id)?;

        // Commerce (schema version 2 onwards): a product with two
        // variants, two warehouses, and one order paid, partly shipped,
        // partly returned and partly refunded.
        let price = |cents: i64| Decimal::new(cents, 2);
        let p = tx.catalog().create_product(
            NewProduct::new("Fixture Tee")
                .variant(
                    NewVariant::new("FIX-TEE-S", price(1250), Currency::GBP).option("size", "S"),
                )
                .variant(
                    NewVariant::new("FIX-TEE-L", price(1300), Currency::GBP).option("size", "L"),
                ),
        )?;
        let inv = tx.inventory();
        let north = inv.create_warehouse(NewWarehouse::new("N1", "North").priority(1))?;
        let south = inv.create_warehouse(NewWarehouse::new("S1", "South").priority(2))?;
        // By SKU, so the data stays the same whatever order a version of
        // custdb returns variants in.
        let sku = |code: &str| p.variants.iter().find(|v| v.sku == code).map(|v| v.id);
        let (large, small) = (sku("FIX-TEE-L"), sku("FIX-TEE-S"));
        inv.receive(large.expect("the large tee"), north.id, 5)?;
        inv.receive(small.expect("the small tee"), south.id, 5)?;
        let o = tx.orders().place(
            NewOrder::for_customer(ada.id, Currency::GBP)
                .line(NewOrderLine::new("FIX-TEE-L", 2))
                .line(NewOrderLine::new("FIX-TEE-S", 1).tax_rate(Decimal::new(2, 1)))
                .shipping(price(399))
                .idempotency_key("fixture-order-1"),
        )?;
        tx.orders().pay(
            o.id,
            NewPayment::new(PaymentMethod::Card, o.total.amount).provider("psp", "fixture-ref"),
        )?;
        tx.orders().ship(
            o.id,
            NewShipment::everything("DHL", "FIX123").line("FIX-TEE-L", 2),
        )?;
        tx.orders().return_items(
            o.id,
            NewReturn::new("fixture").line(custdb::NewReturnLine::restocked("FIX-TEE-L", 1)),
        )?;
        tx.orders()
            .refund(o.id, NewRefund::new(price(1300), "fixture"))?;

        // Privacy (schema version 3 onwards): two purposes, Ada's consent
        // given then withdrawn for one, given for the other; a customer
        // erased; a retention rule.
        let at = |month: u32| {
            Utc.with_ymd_and_hms(2026, month, 1, 12, 0, 0)
                .single()
                .unwrap_or_default()
        };
        let consent = tx.consent();
        consent.register_purpose(
            NewPurpose::new("newsletter", "Monthly newsletter", LawfulBasis::Consent)
                .data_category(DataCategory::Contact),
        )?;
        consent.register_purpose(
            NewPurpose::new(
                "profiling",
                "Recommendations from purchases",
                LawfulBasis::Consent,
            )
            .data_category(DataCategory::Commercial),
        )?;
        let given = |purpose: &str, month: u32| {
            NewConsent::new(
                ada.id,
                purpose,
                ConsentState::Given,
                CollectionMethod::WebForm,
            )
            .notice("v1", format!("Fixture notice for {purpose}."))
            .channel("website")
            .jurisdiction("GB")
            .language("en-GB")
            .evidence_reference("form-1")
            .occurred_at(at(month))
        };
        consent.record(given("newsletter", 2))?;
        consent.record(given("profiling", 2))?;
        consent.record(
            NewConsent::new(
                ada.id,
                "newsletter",
                ConsentState::Withdrawn,
                CollectionMethod::Email,
            )
            .channel("support-inbox")
            .jurisdiction("GB")
            .language("en-GB")
            .occurred_at(at(3)),
        )?;
        let leaver = tx.customers().create(
            NewCustomer::new("Leaving Person")
                .email("leaver@example.net")
                .notes("Asked to be forgotten."),
        )?;
        tx.privacy()
            .erase(leaver.id, ErasureGround::SubjectRequest)?;
        tx.privacy()
            .set_retention_rule(RetentionCategory::Interactions, 730)?;

        // Trust (schema version 4 onwards): a custom role and two grants;
        // the audit trail is hash-chained from here.
        tx.access().define_role(
            "returns-desk",
            &[Permission::ReadCustomers, Permission::Refund],
            None,
        )?;
        tx.access().grant("clerk-7", "returns-desk")?;
        tx.access().grant("clerk-7", "sales")?;
        Ok::<_, custdb::Error>(())
    })?;

    // Insight (schema version 5 onwards): a small Online Retail import: a
    // sale to a known customer, a guest sale, a cancellation matched to the
    // sale (a return and a refund), one with no original (a credit note)
    // and a rejected fee line.
    let retail = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
        536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n\
        536365,POST,POSTAGE,1,2010-12-01 08:26:00,18,17850.0,United Kingdom\n\
        536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,France\n\
        C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,2010-12-01 09:41:00,2.55,17850.0,United Kingdom\n\
        C536380,22632,HAND WARMER RED POLKA DOT,-1,2010-12-01 09:45:00,1.85,17850.0,United Kingdom\n\
        536381,BANK CHARGES,Bank Charges,1,2010-12-01 09:50:00,15,,United Kingdom\n";
    store.import_retail(retail.as_bytes(), |_| {}, |_| {})?;
    let report = store.check()?;
    if !report.is_ok() {
        return Err(format!("check failed: {:?}", report.problems).into());
    }
    println!("wrote {path}");
    Ok(())
}
