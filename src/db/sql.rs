//! Statements: one text per fact, the PostgreSQL text derived from the
//! SQLite text (placeholders `?N` become `$N`) unless a statement really
//! differs between the dialects, in which case both texts sit side by
//! side in the [`sql!`] call. Every statement made with `sql!` registers
//! itself, so a test can prepare all of them against a live database of
//! each engine (`db::tests::every_statement_prepares`).

use std::borrow::Cow;
use std::sync::OnceLock;

/// One SQL statement in both dialects.
#[derive(Debug)]
pub(crate) struct Sql {
    sqlite: Cow<'static, str>,
    /// Written by hand where the dialects differ beyond placeholders.
    postgres: Option<Cow<'static, str>>,
    /// The PostgreSQL text derived from the SQLite one, made on first use.
    derived: OnceLock<String>,
    /// A statement that exists only on PostgreSQL (its catalog, advisory
    /// locks): the SQLite text is empty and never run.
    postgres_only: bool,
}

impl Sql {
    /// A statement whose PostgreSQL text differs only in placeholders.
    pub(crate) const fn new(sqlite: &'static str) -> Sql {
        Sql {
            sqlite: Cow::Borrowed(sqlite),
            postgres: None,
            derived: OnceLock::new(),
            postgres_only: false,
        }
    }

    /// A statement that exists only on PostgreSQL.
    #[allow(dead_code)]
    pub(crate) const fn postgres_only(postgres: &'static str) -> Sql {
        Sql {
            sqlite: Cow::Borrowed(""),
            postgres: Some(Cow::Borrowed(postgres)),
            derived: OnceLock::new(),
            postgres_only: true,
        }
    }

    /// True for a statement that exists only on PostgreSQL.
    pub(crate) fn is_postgres_only(&self) -> bool {
        self.postgres_only
    }

    /// A statement written for each dialect.
    pub(crate) const fn both(sqlite: &'static str, postgres: &'static str) -> Sql {
        Sql {
            sqlite: Cow::Borrowed(sqlite),
            postgres: Some(Cow::Borrowed(postgres)),
            derived: OnceLock::new(),
            postgres_only: false,
        }
    }

    /// A statement built at run time (a filter with optional parts). Both
    /// dialects come from the one text, as for [`Sql::new`]; such
    /// statements are proved by the behaviour tests on both engines, not by
    /// the registry.
    pub(crate) fn dynamic(sqlite: String) -> Sql {
        Sql {
            sqlite: Cow::Owned(sqlite),
            postgres: None,
            derived: OnceLock::new(),
            postgres_only: false,
        }
    }

    /// The SQLite text.
    pub(crate) fn sqlite(&self) -> &str {
        &self.sqlite
    }

    /// The PostgreSQL text: the hand-written one, or the SQLite text, with
    /// its placeholders renumbered. Hand-written PostgreSQL text uses
    /// SQLite's `?N` placeholders too (one style in the source); `$N`
    /// passes through unchanged.
    #[allow(dead_code)]
    pub(crate) fn postgres(&self) -> &str {
        self.derived
            .get_or_init(|| postgres_placeholders(self.postgres.as_deref().unwrap_or(&self.sqlite)))
    }
}

#[allow(dead_code)]
/// Where a registered statement is written, for the test that prepares
/// them all to name the one that fails.
#[derive(Debug)]
pub(crate) struct Registered {
    pub(crate) sql: &'static Sql,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
}

inventory::collect!(Registered);

/// Every statement written with [`sql!`] in the crate.
#[allow(dead_code)]
pub(crate) fn registered() -> impl Iterator<Item = &'static Registered> {
    inventory::iter::<Registered>.into_iter()
}

/// A registered statement: `sql!("SELECT ... WHERE id = ?1")`, or
/// `sql!(sqlite: "...", postgres: "...")` where the dialects differ, or
/// `sql!(postgres_only: "...")` for PostgreSQL's catalog and locks.
/// Evaluates to a `&'static Sql`.
macro_rules! sql {
    (postgres_only: $postgres:expr $(,)?) => {{
        static STATEMENT: $crate::db::Sql = $crate::db::Sql::postgres_only($postgres);
        inventory::submit! {
            $crate::db::Registered { sql: &STATEMENT, file: file!(), line: line!() }
        }
        &STATEMENT
    }};
    (sqlite: $sqlite:expr, postgres: $postgres:expr $(,)?) => {{
        static STATEMENT: $crate::db::Sql = $crate::db::Sql::both($sqlite, $postgres);
        inventory::submit! {
            $crate::db::Registered { sql: &STATEMENT, file: file!(), line: line!() }
        }
        &STATEMENT
    }};
    ($text:expr) => {{
        static STATEMENT: $crate::db::Sql = $crate::db::Sql::new($text);
        inventory::submit! {
            $crate::db::Registered { sql: &STATEMENT, file: file!(), line: line!() }
        }
        &STATEMENT
    }};
}
pub(crate) use sql;

/// Rewrites SQLite placeholders as PostgreSQL's: `?N` becomes `$N`, and a
/// bare `?` takes the next number after the largest seen so far (SQLite's
/// own rule). Text inside string literals, quoted identifiers and comments
/// is left alone.
pub(crate) fn postgres_placeholders(sqlite: &str) -> String {
    let bytes = sqlite.as_bytes();
    let mut out = String::with_capacity(sqlite.len() + 8);
    let mut largest = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' => {
                // Copy the quoted run through its closing quote (a doubled
                // quote inside is two runs back to back, which is the same).
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == c)
                    .map_or(bytes.len(), |p| i + 1 + p + 1);
                out.push_str(&sqlite[i..end]);
                i = end;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                out.push_str(&sqlite[i..end]);
                i = end;
            }
            b'?' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let number = if digits == 0 {
                    largest + 1
                } else {
                    sqlite[i + 1..i + 1 + digits].parse().unwrap_or(u32::MAX)
                };
                largest = largest.max(number);
                out.push('$');
                out.push_str(&number.to_string());
                i += 1 + digits;
            }
            _ => {
                // Copy one whole character (the text is UTF-8).
                let len = sqlite[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&sqlite[i..i + len]);
                i += len;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::postgres_placeholders as pg;

    #[test]
    fn numbered_placeholders_keep_their_numbers() {
        assert_eq!(
            pg("SELECT a FROM t WHERE b = ?2 AND c = ?1 OR d = ?2"),
            "SELECT a FROM t WHERE b = $2 AND c = $1 OR d = $2"
        );
        assert_eq!(pg("VALUES (?10, ?9)"), "VALUES ($10, $9)");
    }

    #[test]
    fn bare_placeholders_count_on_from_the_largest() {
        assert_eq!(pg("VALUES (?, ?, ?)"), "VALUES ($1, $2, $3)");
        assert_eq!(pg("VALUES (?3, ?)"), "VALUES ($3, $4)");
    }

    #[test]
    fn quoted_text_and_comments_are_left_alone() {
        assert_eq!(
            pg("SELECT '?1', \"a?b\" -- what?\nFROM t WHERE x = ?1 AND y = 'it''s?'"),
            "SELECT '?1', \"a?b\" -- what?\nFROM t WHERE x = $1 AND y = 'it''s?'"
        );
        assert_eq!(pg("SELECT 'é?' || ?1"), "SELECT 'é?' || $1");
    }

    #[test]
    fn an_unclosed_quote_copies_to_the_end() {
        assert_eq!(pg("SELECT 'abc ?1"), "SELECT 'abc ?1");
    }
}
