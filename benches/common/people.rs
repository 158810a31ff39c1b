//! The benchmarks' people: deterministic names and emails, so that every
//! side creates the same customers.

use custdb::NewCustomer;

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
