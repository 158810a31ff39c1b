//! Writes a fixture database at the current schema version, for the
//! upgrade tests in tests/migrations.rs.
//!
//! ```text
//! cargo run --example make_fixture -- tests/fixtures/v<N>.db
//! ```
//!
//! Every schema version that is released keeps the file this wrote at that
//! version; tests/migrations.rs opens each one with the current library and
//! checks that the data below is intact. Keep the data the same from version
//! to version, so that one check fits every fixture.

use chrono::{TimeZone, Utc};
use custdb::{
    Actor, AddressKind, Channel, Direction, InteractionKind, NewAddress, NewCustomer,
    NewInteraction, Options, Store,
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
        Ok(())
    })?;
    let report = store.check()?;
    if !report.is_ok() {
        return Err(format!("check failed: {:?}", report.problems).into());
    }
    println!("wrote {path}");
    Ok(())
}
