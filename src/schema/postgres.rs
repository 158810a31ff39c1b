//! The PostgreSQL migration track (`schema/migrations/postgres/`). It starts
//! at version 7 with one baseline equal to the SQLite schema at version 7;
//! later versions ship a file per engine under the same number.
//!
//! Several servers starting at once migrate once: the runner holds a
//! session-level advisory lock from its first look to its commit, and looks
//! again under the lock. As on SQLite, nothing is written before the
//! database is known to be custdb's (or empty) and not newer than this
//! library, migrations run in one transaction (PostgreSQL's DDL is
//! transactional), and each applied migration's name and SHA-256 checksum
//! are recorded in `custdb_migrations` and verified on every open.

use super::{Migration, LATEST_VERSION};
use crate::db::postgres::PgSession;
use crate::db::{sql, Conn};
use crate::error::{Error, ErrorKind, Result};

/// The PostgreSQL migrations, in order. Append only, as on SQLite.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 7,
        name: "baseline",
        sql: include_str!("../../schema/migrations/postgres/0007_baseline.sql"),
        after: None,
    },
    Migration {
        version: 8,
        name: "fewer_pages",
        sql: include_str!("../../schema/migrations/postgres/0008_fewer_pages.sql"),
        after: None,
    },
    Migration {
        version: 9,
        name: "chain_after_commit",
        sql: include_str!("../../schema/migrations/postgres/0009_chain_after_commit.sql"),
        after: None,
    },
    Migration {
        version: 10,
        name: "change_feed",
        sql: include_str!("../../schema/migrations/postgres/0010_change_feed.sql"),
        after: None,
    },
    Migration {
        version: 11,
        name: "catalog",
        sql: include_str!("../../schema/migrations/postgres/0011_catalog.sql"),
        after: None,
    },
    Migration {
        version: 12,
        name: "pricing",
        sql: include_str!("../../schema/migrations/postgres/0012_pricing.sql"),
        after: None,
    },
    Migration {
        version: 13,
        name: "customer_pricing",
        sql: include_str!("../../schema/migrations/postgres/0013_customer_pricing.sql"),
        after: None,
    },
    Migration {
        version: 14,
        name: "promotions",
        sql: include_str!("../../schema/migrations/postgres/0014_promotions.sql"),
        after: None,
    },
    Migration {
        version: 15,
        name: "gift_cards",
        sql: include_str!("../../schema/migrations/postgres/0015_gift_cards.sql"),
        after: None,
    },
    Migration {
        version: 16,
        name: "store_credit",
        sql: include_str!("../../schema/migrations/postgres/0016_store_credit.sql"),
        after: None,
    },
    Migration {
        version: 17,
        name: "loyalty",
        sql: include_str!("../../schema/migrations/postgres/0017_loyalty.sql"),
        after: None,
    },
];

/// The advisory lock key of the migration runner ("custdb-m" as bytes).
const MIGRATION_LOCK_KEY: i64 = 0x6375_7374_6462_2d6d;

/// The tables whose rows are never changed once written: the audit trail,
/// the ledgers and the histories. The runtime role gets no UPDATE or DELETE
/// on them at all (see [`grant_runtime`]); their triggers hold the same
/// rule for the owner. A test compares this list with the tables that have
/// an append-only trigger, so a new ledger cannot be forgotten here.
pub(crate) const APPEND_ONLY_TABLES: &[&str] = &[
    "audit_log",
    "consent_events",
    "customer_interactions",
    "customer_merges",
    "gift_card_entries",
    "loyalty_entries",
    "order_events",
    "privacy_erasures",
    "stock_movements",
    "store_credit_entries",
];

/// Longest PostgreSQL identifier, in bytes.
const MAX_ROLE_NAME_LEN: usize = 63;

/// Gives `role` exactly what an application running custdb needs on this
/// schema, replacing whatever it had on its tables: SELECT and INSERT
/// everywhere, UPDATE and DELETE except on [`APPEND_ONLY_TABLES`], only
/// SELECT on the migration record, no TRUNCATE, REFERENCES or TRIGGER
/// anywhere; the sequences and functions it uses. Runs in one transaction
/// on `session`, which the caller commits.
pub(crate) fn grant_runtime(session: &PgSession, role: &str) -> Result<()> {
    if role.is_empty() || role.len() > MAX_ROLE_NAME_LEN || role.contains('\0') {
        return Err(Error::invalid(
            "role",
            format!("must be 1 to {MAX_ROLE_NAME_LEN} bytes, without NUL"),
        ));
    }
    let conn = Conn::postgres(session);
    let found = conn.query_opt(
        sql!(
            postgres_only: "SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname::text = $1"
        ),
        &[&role],
        |r| Ok((r.get::<bool>(0)?, r.get::<bool>(1)?)),
    )?;
    match found {
        None => {
            return Err(Error::new(ErrorKind::NotFound {
                entity: "PostgreSQL role",
                key: role.to_owned(),
            }))
        }
        Some((true, _)) => {
            return Err(Error::invalid(
                "role",
                "is a superuser, whom no privilege restricts: run the application as an \
                 ordinary role",
            ))
        }
        Some((_, true)) => {
            return Err(Error::invalid(
                "role",
                "is the role this store is connected as, which owns the schema: the \
                 application needs a role of its own",
            ))
        }
        Some(_) => {}
    }
    let tables = conn.query_vec(
        sql!(
            postgres_only: "SELECT tablename::text FROM pg_tables \
             WHERE schemaname = current_schema() ORDER BY tablename"
        ),
        &[],
        |r| r.get::<String>(0),
    )?;
    for table in APPEND_ONLY_TABLES {
        if !tables.iter().any(|t| t == table) {
            return Err(Error::new(ErrorKind::Internal {
                reason: format!("the append-only table {table} is missing from the schema"),
            }));
        }
    }
    let schema = conn.query_row(
        sql!(postgres_only: "SELECT current_schema()::text"),
        &[],
        |r| r.get::<String>(0),
    )?;
    let role_sql = quote_identifier(role);
    let schema_sql = quote_identifier(&schema);
    let mut script = format!("GRANT USAGE ON SCHEMA {schema_sql} TO {role_sql};\n");
    for table in &tables {
        // The migration record, and the markers that let the owner's
        // merge and erasure functions change append-only rows: read only.
        let privileges = if table == "custdb_migrations" || table.ends_with("_in_progress") {
            "SELECT"
        } else if APPEND_ONLY_TABLES.contains(&table.as_str()) {
            "SELECT, INSERT"
        } else {
            "SELECT, INSERT, UPDATE, DELETE"
        };
        let table = format!("{schema_sql}.{}", quote_identifier(table));
        script.push_str(&format!(
            "REVOKE ALL ON TABLE {table} FROM {role_sql};\nGRANT {privileges} ON TABLE {table} TO {role_sql};\n"
        ));
    }
    // The chain step that follows each commit gives the unit's audit
    // entries their hashes (src/audit.rs, `Chainer`): those two
    // columns only, and the table's trigger allows it once per entry.
    script.push_str(&format!(
        "GRANT UPDATE (prev_hash, hash) ON TABLE {schema_sql}.\"audit_log\" TO {role_sql};\n"
    ));
    script.push_str(&format!(
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema_sql} FROM {role_sql};\n\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_sql} TO {role_sql};\n\
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema_sql} TO {role_sql};\n"
    ));
    session.batch(&script)?;
    // What the role can do also comes from its memberships: a member of
    // the owner role inherits ownership (and may disable triggers), a
    // member of pg_write_all_data may write everywhere, and before
    // PostgreSQL 15 every role may create tables in `public`. Grants cannot
    // take those away; refuse the role instead (the caller's transaction
    // rolls the grants back).
    for table in APPEND_ONLY_TABLES {
        let qualified = format!("{schema_sql}.{}", quote_identifier(table));
        let writable: bool = conn.query_row(
            sql!(
                postgres_only: "SELECT has_table_privilege($1, $2, 'UPDATE, DELETE, TRUNCATE')"
            ),
            &[&role, &qualified.as_str()],
            |r| r.get(0),
        )?;
        if writable {
            return Err(Error::invalid(
                "role",
                format!(
                    "can still change {table} through a role it belongs to (the schema's \
                     owner, pg_write_all_data): give the application a role outside them"
                ),
            ));
        }
    }
    let creates: bool = conn.query_row(
        sql!(postgres_only: "SELECT has_schema_privilege($1, $2, 'CREATE')"),
        &[&role, &schema.as_str()],
        |r| r.get(0),
    )?;
    if creates {
        return Err(Error::invalid(
            "role",
            "may create objects in the schema (before PostgreSQL 15 every role may in \
             `public`): run REVOKE CREATE ON SCHEMA public FROM PUBLIC, or give the role no \
             such membership",
        ));
    }
    Ok(())
}

/// `name` as a quoted SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What the database holds, looked at before anything is written.
enum State {
    Empty,
    Custdb(i64),
}

/// Brings the database to [`LATEST_VERSION`], or refuses it. `database`
/// names it in errors. Returns the versions applied.
pub(crate) fn migrate(session: &PgSession, database: &str, read_only: bool) -> Result<Vec<i64>> {
    let conn = Conn::postgres(session);
    if read_only {
        return match inspect(conn, database)? {
            State::Custdb(v) if v == LATEST_VERSION => Ok(Vec::new()),
            State::Custdb(found) => Err(Error::new(ErrorKind::SchemaTooOld {
                found,
                required: LATEST_VERSION,
            })),
            State::Empty => Err(Error::new(ErrorKind::SchemaTooOld {
                found: 0,
                required: LATEST_VERSION,
            })),
        };
    }
    conn.query_row(
        sql!(postgres_only: "SELECT pg_advisory_lock($1)::text"),
        &[&MIGRATION_LOCK_KEY],
        |_| Ok(()),
    )?;
    let result = migrate_locked(session, conn, database);
    // The lock is the session's: release it whatever happened (a broken
    // connection releases it by closing).
    let unlocked = conn.query_row(
        sql!(postgres_only: "SELECT pg_advisory_unlock($1)::text"),
        &[&MIGRATION_LOCK_KEY],
        |_| Ok(()),
    );
    let applied = result?;
    unlocked?;
    Ok(applied)
}

fn migrate_locked(session: &PgSession, conn: Conn<'_>, database: &str) -> Result<Vec<i64>> {
    let current = match inspect(conn, database)? {
        State::Empty => 0,
        State::Custdb(v) => v,
    };
    let pending: Vec<&Migration> = POSTGRES_MIGRATIONS
        .iter()
        .filter(|m| m.version > current)
        .collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    session.begin()?;
    conn.execute(
        sql!(
            postgres_only: "CREATE TABLE IF NOT EXISTS custdb_migrations (version bigint PRIMARY KEY, \
             name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL)"
        ),
        &[],
    )?;
    let now = crate::time::now();
    let mut applied = Vec::new();
    for migration in pending {
        session.batch(migration.sql)?;
        conn.execute(
            sql!(
                "INSERT INTO custdb_migrations (version, name, checksum, applied_at) \
                 VALUES (?1, ?2, ?3, ?4)"
            ),
            &[
                &migration.version,
                &migration.name,
                &migration.checksum(),
                &now,
            ],
        )?;
        applied.push(migration.version);
    }
    session.commit()?;
    Ok(applied)
}

/// Looks without writing: empty, custdb's (at which version, with the
/// shipped migrations), or refused.
fn inspect(conn: Conn<'_>, database: &str) -> Result<State> {
    let ours: bool = conn.query_row(
        sql!(postgres_only: "SELECT (to_regclass('custdb_migrations') IS NOT NULL)::int"),
        &[],
        |r| r.get(0),
    )?;
    if !ours {
        let tables: i64 = conn.query_row(
            sql!(
                postgres_only: "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema()"
            ),
            &[],
            |r| r.get(0),
        )?;
        return if tables == 0 {
            Ok(State::Empty)
        } else {
            Err(Error::new(ErrorKind::ForeignDatabase {
                database: database.to_owned(),
            }))
        };
    }
    let recorded: Vec<(i64, String, String)> = conn.query_vec(
        sql!("SELECT version, name, checksum FROM custdb_migrations ORDER BY version"),
        &[],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let found = recorded.last().map_or(0, |(v, _, _)| *v);
    if found > LATEST_VERSION {
        return Err(Error::new(ErrorKind::SchemaTooNew {
            found,
            supported: LATEST_VERSION,
        }));
    }
    for (version, name, checksum) in &recorded {
        let Some(shipped) = POSTGRES_MIGRATIONS.iter().find(|m| m.version == *version) else {
            return Err(Error::new(ErrorKind::MigrationMismatch {
                version: *version,
                reason: "this custdb ships no PostgreSQL migration of that version".into(),
            }));
        };
        if *name != shipped.name {
            return Err(Error::new(ErrorKind::MigrationMismatch {
                version: *version,
                reason: format!("named {name:?} in the database, {:?} shipped", shipped.name),
            }));
        }
        if *checksum != shipped.checksum() {
            return Err(Error::new(ErrorKind::MigrationMismatch {
                version: *version,
                reason: format!(
                    "checksum {checksum} recorded, {} shipped",
                    shipped.checksum()
                ),
            }));
        }
    }
    Ok(State::Custdb(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_track_ends_at_the_latest_version() {
        assert_eq!(
            POSTGRES_MIGRATIONS.last().map(|m| m.version),
            Some(LATEST_VERSION)
        );
        let versions: Vec<i64> = POSTGRES_MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(
            versions.windows(2).all(|w| w[1] == w[0] + 1),
            "{versions:?}"
        );
    }

    /// The runtime role's list of append-only tables is exactly the set of
    /// tables whose triggers refuse a DELETE: a new ledger (with its
    /// trigger) that is not listed would get UPDATE and DELETE grants.
    #[test]
    fn the_append_only_list_matches_the_triggers() {
        let Some(cluster) = custdb_pgcluster::cluster() else {
            return;
        };
        let database = cluster.empty_database();
        drop(crate::Store::open_postgres(&cluster.connection(&database)).unwrap());
        let out = cluster.psql(
            &database,
            "SELECT DISTINCT event_object_table FROM information_schema.triggers \
             WHERE event_manipulation = 'DELETE' ORDER BY 1",
        );
        let with_trigger: Vec<&str> = out.lines().collect();
        assert_eq!(with_trigger, APPEND_ONLY_TABLES);
    }
}
