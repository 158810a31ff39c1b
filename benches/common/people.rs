//! The benchmarks' people: deterministic names and emails, so that every
//! side creates the same customers.

use chrono::{SecondsFormat, Utc};
use custdb::customer::sql;
use custdb::{CustomerId, NewCustomer};
use rusqlite::{params, Connection};

pub const GIVEN: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Ken",
    "Radia", "Tony", "Hedy", "Claude", "Sophie", "Niklaus",
];
pub const FAMILY: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Hamilton",
    "Thompson", "Perlman", "Hoare", "Lamarr", "Shannon", "Wilson", "Wirth",
];

/// The given name, family name and email of person `n`.
pub fn person(n: usize) -> (String, String, String) {
    let given = GIVEN[n % GIVEN.len()];
    let family = FAMILY[(n / GIVEN.len()) % FAMILY.len()];
    (
        given.to_owned(),
        family.to_owned(),
        format!(
            "{}.{}{n}@example.com",
            given.to_lowercase(),
            family.to_lowercase()
        ),
    )
}

/// Person `n` as a new customer, with a company and a tag.
pub fn new_customer(n: usize) -> NewCustomer {
    let (given, family, email) = person(n);
    NewCustomer::new(format!("{given} {family}"))
        .given_name(given)
        .family_name(family)
        .email(email)
        .company("Example Ltd")
        .tag("bench")
}

/// What hand-written rusqlite code does to create the same customer: the
/// same statements in the same transaction, with its own id and timestamp.
pub fn raw_create(conn: &Connection, n: usize) -> CustomerId {
    let (given, family, email) = person(n);
    let id = CustomerId::new();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let taken: bool = conn
        .prepare_cached(sql::EMAIL_TAKEN)
        .unwrap()
        .query_row(params![email, id.to_string()], |r| r.get(0))
        .unwrap();
    assert!(!taken);
    conn.prepare_cached(sql::INSERT)
        .unwrap()
        .execute(params![
            id.to_string(),
            format!("{given} {family}"),
            given,
            family,
            email,
            None::<String>,
            "Example Ltd",
            None::<String>,
            None::<String>,
            None::<String>,
            "{}",
            None::<String>,
            now
        ])
        .unwrap();
    conn.prepare_cached(sql::INSERT_TAG)
        .unwrap()
        .execute(params![id.to_string(), "bench"])
        .unwrap();
    super::raw_audit(
        conn,
        &now,
        "create",
        "customer",
        &id.to_string(),
        r#"["display_name","given_name","family_name","email","company","tags"]"#,
    );
    id
}
