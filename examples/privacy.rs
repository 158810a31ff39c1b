//! Consent and data-subject rights in one run: register purposes, record
//! consent through two channels, withdraw one, ask `can_process` at three
//! instants, export a customer to JSON, erase them, and show that their
//! orders remain for the books.
//!
//! ```text
//! cargo run --example privacy
//! ```
//!
//! It works in a temporary directory (a file database, so that erasure's
//! WAL checkpoint is real) and prints the same story every run.

use chrono::{Duration, TimeZone, Utc};
use custdb::Currency;
use custdb::{
    Actor, CollectionMethod, ConsentState, Controller, DataCategory, Decimal, LawfulBasis,
    NewConsent, NewCustomer, NewOrder, NewOrderLine, NewPayment, NewProduct, NewPurpose,
    NewVariant, NewWarehouse, Options, PaymentMethod, Store,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let clerk = Actor::new("privacy-desk", "Privacy desk")?;
    let store = Store::open_with(dir.path().join("shop.db"), Options::default().actor(clerk))?;
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 10, 0, 0)
            .single()
            .unwrap_or_default()
    };

    // The application registers what it processes data for.
    let (maria, order) = store.write(|tx| {
        let consent = tx.consent();
        consent.register_purpose(
            NewPurpose::new(
                "newsletter",
                "A monthly email about new products",
                LawfulBasis::Consent,
            )
            .data_category(DataCategory::Contact),
        )?;
        consent.register_purpose(
            NewPurpose::new(
                "sms_offers",
                "Text messages with offers",
                LawfulBasis::Consent,
            )
            .data_category(DataCategory::Contact),
        )?;
        consent.register_purpose(
            NewPurpose::new(
                "delivery",
                "Delivering what was ordered",
                LawfulBasis::Contract,
            )
            .data_category(DataCategory::Address),
        )?;

        let maria = tx.customers().create(
            NewCustomer::new("Maria Garcia")
                .email("maria.garcia@example.com")
                .phone("+34 912 345 678")
                .tag("newsletter"),
        )?;
        // Consent through two channels: the web shop's sign-up form and a
        // paper form at the counter.
        consent.record(
            NewConsent::new(
                maria.id,
                "newsletter",
                ConsentState::Given,
                CollectionMethod::WebForm,
            )
            .notice(
                "2026-04",
                "Yes, send me the monthly newsletter. Unsubscribe any time.",
            )
            .channel("web-shop")
            .jurisdiction("ES")
            .language("es-ES")
            .evidence_reference("signup-7731")
            .occurred_at(day(1)),
        )?;
        consent.record(
            NewConsent::new(
                maria.id,
                "sms_offers",
                ConsentState::Given,
                CollectionMethod::Paper,
            )
            .notice("2026-04-paper", "I agree to receive offers by SMS.")
            .channel("shop-madrid")
            .jurisdiction("ES")
            .language("es-ES")
            .occurred_at(day(2))
            .valid_until(day(2) + Duration::days(365)),
        )?;
        // She withdraws the newsletter consent by email on the 10th.
        consent.record(
            NewConsent::new(
                maria.id,
                "newsletter",
                ConsentState::Withdrawn,
                CollectionMethod::Email,
            )
            .channel("support-inbox")
            .jurisdiction("ES")
            .language("es-ES")
            .occurred_at(day(10)),
        )?;

        // And she buys something.
        let tea = tx
            .catalog()
            .create_product(NewProduct::new("Rooibos").variant(NewVariant::new(
                "ROOI-100",
                Decimal::new(650, 2),
                Currency::EUR,
            )))?;
        let shop = tx
            .inventory()
            .create_warehouse(NewWarehouse::new("MAD", "Madrid"))?;
        tx.inventory().receive(tea.variants[0].id, shop.id, 20)?;
        let order = tx.orders().place(
            NewOrder::for_customer(maria.id, Currency::EUR).line(NewOrderLine::new("ROOI-100", 3)),
        )?;
        tx.orders().pay(
            order.id,
            NewPayment::new(PaymentMethod::Card, order.total.amount).provider("psp", "ch_123"),
        )?;
        Ok::<_, custdb::Error>((maria.id, order.id))
    })?;

    println!("can_process(maria, purpose, at):");
    for at in [day(1) - Duration::hours(1), day(5), day(15)] {
        let answers = store.read(|r| {
            ["newsletter", "sms_offers", "delivery"]
                .iter()
                .map(|p| Ok(format!("{p}={}", r.consent().can_process(maria, p, at)?)))
                .collect::<custdb::Result<Vec<_>>>()
        })?;
        println!("  {}  {}", at.format("%Y-%m-%d %H:%M"), answers.join("  "));
    }

    let history = store.read(|r| r.consent().history(maria, None))?;
    println!("\nconsent ledger:");
    for e in &history {
        println!(
            "  {}  {:<10} {:<9} via {:<8} {:<13} notice {}",
            e.occurred_at.format("%Y-%m-%d"),
            e.purpose_id,
            e.state.as_str(),
            e.collection_method.as_str(),
            e.channel,
            e.notice_version.as_deref().unwrap_or("-")
        );
    }

    let controller = Controller {
        name: "Tienda Ejemplo S.L.".into(),
        contact: "Data protection officer".into(),
        address: "Calle Mayor 1, Madrid".into(),
        email: "dpo@tienda.example".into(),
        phone: "+34 910 000 000".into(),
        url: Some("https://tienda.example".into()),
    };
    let receipt = store.read(|r| {
        r.consent().receipt(
            history[1].id,
            &controller,
            "https://tienda.example/privacy",
            "Tienda",
        )
    })?;
    println!("\nconsent receipt (Kantara v1.1) for the SMS consent:");
    println!("{}", serde_json::to_string_pretty(&receipt)?);

    let export = store.read(|r| r.privacy().export(maria))?;
    let json = serde_json::to_string_pretty(&export)?;
    println!(
        "\nsubject export: {} bytes of JSON, tables: {}",
        json.len(),
        export.tables.keys().cloned().collect::<Vec<_>>().join(", ")
    );

    let report = store.erase_customer(maria)?;
    println!(
        "\nerased: {} consents withdrawn, rows touched {:?}, file scrubbed: {}",
        report.consents_withdrawn, report.rows, report.file_scrubbed
    );
    let customer = store.customers().get(maria)?;
    let kept = store.read(|r| r.orders().get(order))?;
    println!(
        "the customer is now {:?} (email {:?}); order #{} for {} {} remains, paid {}",
        customer.display_name, customer.email, kept.number, kept.total, kept.currency, kept.paid
    );
    println!(
        "can_process(delivery, now) = {} (an erased customer is processed for nothing)",
        store.read(|r| r.consent().can_process(maria, "delivery", Utc::now()))?
    );
    let check = store.check()?;
    println!("check: {}", if check.is_ok() { "ok" } else { "FAILED" });
    if !check.is_ok() {
        return Err(format!("{:?}", check.problems).into());
    }
    Ok(())
}
