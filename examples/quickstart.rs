//! The main job: open (or create) `custdb-quickstart.db` in the current
//! directory, put a few customers in it with addresses, tags and
//! interactions, search them, show an optimistic-concurrency conflict, and
//! print a summary. Running it again reuses the customers it made.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use custdb::{
    Actor, AddressKind, Channel, Customer, CustomerFilter, CustomerPatch, Direction,
    InteractionKind, NewAddress, NewCustomer, NewInteraction, Options, Store,
};

/// One customer the quickstart keeps.
struct Seed {
    name: &'static str,
    email: &'static str,
    phone: &'static str,
    country: &'static str,
    city: &'static str,
    street: &'static str,
    postcode: &'static str,
    tags: &'static [&'static str],
}

/// The customers the quickstart keeps.
const SEED: &[Seed] = &[
    Seed {
        name: "Ada Lovelace",
        email: "ada@example.com",
        phone: "020 7946 0958",
        country: "GB",
        city: "London",
        street: "12 St James's Square",
        postcode: "SW1Y 4JH",
        tags: &["vip", "newsletter"],
    },
    Seed {
        name: "Grace Hopper",
        email: "grace@example.org",
        phone: "(415) 555-2671",
        country: "US",
        city: "Arlington",
        street: "1 Navy Way",
        postcode: "22202",
        tags: &["wholesale"],
    },
    Seed {
        name: "Émile Borel",
        email: "emile.borel@example.fr",
        phone: "01 23 45 67 89",
        country: "FR",
        city: "Paris",
        street: "45 rue d'Ulm",
        postcode: "75005",
        tags: &["newsletter"],
    },
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::current_dir()?.join("custdb-quickstart.db");
    let clerk = Actor::new("quickstart", "Quickstart example")?;
    let store = Store::open_with(&path, Options::default().actor(clerk))?;
    println!("custdb quickstart: {}", path.display());

    // Create each seed customer once; on later runs find it by email.
    let mut customers = Vec::new();
    for &Seed {
        name,
        email,
        phone,
        country,
        city,
        street,
        postcode,
        tags,
    } in SEED
    {
        let customer = match store.customers().get_by_email(email) {
            Ok(existing) => existing,
            Err(e) if e.is_not_found() => store.write(|tx| {
                let mut new = NewCustomer::new(name)
                    .email(email)
                    .phone(phone)
                    .phone_country(country)
                    .acquisition_source("quickstart");
                for tag in tags {
                    new = new.tag(*tag);
                }
                let c = tx.customers().create(new)?;
                tx.customers().add_address(
                    c.id,
                    NewAddress::new(AddressKind::Billing, street, city, country)
                        .postal_code(postcode),
                )?;
                tx.customers().add_interaction(
                    c.id,
                    NewInteraction::new(Channel::Web, Direction::Inbound, InteractionKind::Sale)
                        .subject("First order"),
                )?;
                Ok::<_, custdb::Error>(c)
            })?,
            Err(e) => return Err(e.into()),
        };
        customers.push(customer);
    }

    // Every run adds a review to Ada's timeline.
    let ada = &customers[0];
    store.customers().add_interaction(
        ada.id,
        NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Review)
            .subject("Delighted with the engine")
            .rating(5),
    )?;

    // Optimistic concurrency: two clerks read Grace at the same version.
    let grace = store.customers().get(customers[1].id)?;
    let first = store.customers().update(
        grace.id,
        grace.version,
        CustomerPatch::default().notes(format!("Called back at version {}", grace.version)),
    )?;
    match store.customers().update(
        grace.id,
        grace.version,
        CustomerPatch::default().company("US Navy"),
    ) {
        Err(e) if e.is_conflict() => println!("\nconflict, as expected: {e}"),
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("a stale update was accepted".into()),
    }
    println!("grace is now at version {}", first.version);

    println!("\nsearch \"lovelace\":");
    for hit in store.customers().search("lovelace", 5)? {
        print_customer(&hit);
    }
    println!("search \"emile\" (accents are ignored):");
    for hit in store.customers().search("emile", 5)? {
        print_customer(&hit);
    }

    println!("\nnewsletter subscribers:");
    let page = store
        .customers()
        .list(&CustomerFilter::default().tag("newsletter"), None, 50)?;
    for c in &page.items {
        print_customer(c);
    }

    println!("\nAda's timeline (newest first):");
    let timeline = store.customers().interactions(ada.id, None, 5)?;
    for i in &timeline.items {
        println!(
            "  {}  {:<8} {:<8} {}{}",
            i.occurred_at.format("%Y-%m-%d %H:%M:%S"),
            i.channel.as_str(),
            i.kind.as_str(),
            i.subject.as_deref().unwrap_or(""),
            i.rating.map(|r| format!(" ({r}/5)")).unwrap_or_default()
        );
    }

    let report = store.check()?;
    let audit_rows = store.read(|r| r.audit().count())?;
    let all = store
        .customers()
        .list(&CustomerFilter::default(), None, 1000)?;
    println!(
        "\nsummary: {} customers, {} audit entries, check: {}",
        all.items.len(),
        audit_rows,
        if report.is_ok() {
            "ok".to_owned()
        } else {
            format!("{:?}", report.problems)
        }
    );
    if !report.is_ok() {
        return Err("store.check() found problems".into());
    }
    Ok(())
}

fn print_customer(c: &Customer) {
    println!(
        "  {:<14} {:<24} {:<14} v{} [{}]",
        c.display_name,
        c.email.as_deref().unwrap_or("-"),
        c.phone.as_deref().unwrap_or("-"),
        c.version,
        c.tags.join(", ")
    );
}
