//! Trust in one run: two actors with different roles, a refused operation,
//! masked personal data, an audit query and verification, a backup and a
//! verified restore.
//!
//! ```text
//! cargo run --example trust
//! ```

use custdb::{Actor, AuditFilter, NewCustomer, Options, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open_with(
        dir.path().join("shop.db"),
        Options::default().actor(Actor::new("owner", "Shop owner")?),
    )?;

    // The owner (the application itself) grants roles.
    store.write(|tx| {
        tx.access().grant("maya", "sales")?;
        tx.access().grant("olu", "auditor")
    })?;
    let maya = store.as_actor(&Actor::new("maya", "Maya (sales)")?)?;
    let olu = store.as_actor(&Actor::new("olu", "Olu (auditor)")?)?;

    let grace = maya.customers().create(
        NewCustomer::new("Grace Hopper")
            .email("grace@example.com")
            .phone("+1 202 555 0143"),
    )?;
    println!(
        "maya (sales) created {} <{}>",
        grace.display_name,
        grace.email.as_deref().unwrap_or("-")
    );

    match olu.customers().create(NewCustomer::new("Someone")) {
        Err(e) => println!("olu (auditor) tried to create a customer: {e}"),
        Ok(_) => return Err("an auditor must not create customers".into()),
    }
    let seen = olu.customers().get(grace.id)?;
    println!(
        "olu sees the customer masked: {} <{}> {}",
        seen.display_name,
        seen.email.as_deref().unwrap_or("-"),
        seen.phone.as_deref().unwrap_or("-")
    );

    let trail = olu
        .audit()
        .query(&AuditFilter::default().actor("maya"), None, 10)?;
    println!("\naudit entries by maya:");
    for e in &trail.items {
        println!(
            "  #{} {} {} {} {} {:?}",
            e.seq,
            e.at.format("%H:%M:%S"),
            e.actor_id,
            e.action,
            e.entity_type,
            e.changed_fields
        );
    }
    let verification = olu.audit().verify()?;
    let head = verification.head.clone().ok_or("an empty trail")?;
    println!(
        "audit chain: {} entries, {}; head #{} {}…",
        verification.entries,
        if verification.is_ok() {
            "intact"
        } else {
            "BROKEN"
        },
        head.seq,
        &head.hash[..16]
    );

    let mut steps = 0;
    let backup = store.backup_to(dir.path().join("backup.db"), |_| steps += 1)?;
    println!(
        "\nbackup: {} pages, {} bytes, {} progress calls",
        backup.pages, backup.bytes, steps
    );
    let restored = Store::restore(
        &backup.path,
        dir.path().join("restored.db"),
        Options::default(),
    )?;
    let check = restored.check()?;
    let chain = restored.read(|r| r.audit().verify_against(&head))?;
    println!(
        "restored copy: check {}, audit chain {} against the saved head, customer {}",
        if check.is_ok() { "ok" } else { "FAILED" },
        if chain.is_ok() { "intact" } else { "BROKEN" },
        restored.customers().get(grace.id)?.display_name
    );
    if !check.is_ok() || !chain.is_ok() {
        return Err("the restored copy does not check out".into());
    }
    Ok(())
}
