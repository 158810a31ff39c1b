//! The audit trail: one append-only row per mutation, written in the same
//! transaction as the mutation, naming the actor, the action, the entity and
//! the fields that changed (names only, never values, so the trail holds no
//! personal data beyond the ids it names).
//!
//! Rows are appended only through [`WriteTx`](crate::WriteTx), which refuses
//! to commit a unit of work that changed rows without writing one. SQL
//! triggers refuse `UPDATE` and `DELETE` on `audit_log`.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use crate::error::Result;
use crate::store::{Actor, CheckReport};

/// The most audit entries one query returns.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// One mutation to record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    /// What was done: `create`, `update`, `archive`, ...
    pub action: &'a str,
    /// The kind of entity: `customer`, `address`, ...
    pub entity_type: &'a str,
    /// The entity's id.
    pub entity_id: &'a str,
    /// The names of the fields that changed.
    pub changed_fields: &'a [&'a str],
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the trail: strictly increasing.
    pub seq: i64,
    /// The transaction time of the unit of work that made the change.
    pub at: DateTime<Utc>,
    /// The actor's id.
    pub actor_id: String,
    /// The actor's display name.
    pub actor_name: String,
    /// What was done: `create`, `update`, `archive`, `restore`, `tag`,
    /// `untag`, `delete`, `set_default`, `append`.
    pub action: String,
    /// The kind of entity: `customer`, `address`, `interaction`.
    pub entity_type: String,
    /// The entity's id.
    pub entity_id: String,
    /// The names of the fields that changed.
    pub changed_fields: Vec<String>,
}

const INSERT_AUDIT: &str = "INSERT INTO audit_log \
    (at, actor_id, actor_name, action, entity_type, entity_id, changed_fields) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

pub(crate) fn append(
    conn: &Connection,
    actor: &Actor,
    at: DateTime<Utc>,
    change: Change<'_>,
) -> Result<()> {
    let fields = serde_json::to_string(change.changed_fields)?;
    conn.prepare_cached(INSERT_AUDIT)?.execute(params![
        crate::time::to_db(&at),
        actor.id(),
        actor.name(),
        change.action,
        change.entity_type,
        change.entity_id,
        fields,
    ])?;
    Ok(())
}

/// Read access to the audit trail. Hash chaining and richer queries come in
/// a later release; this reader answers "what happened to this record".
pub struct AuditReader<'a> {
    conn: &'a Connection,
}

impl<'a> AuditReader<'a> {
    pub(crate) fn new(conn: &'a Connection) -> Self {
        AuditReader { conn }
    }

    /// The entries about one entity, oldest first, at most `limit`
    /// (capped at [`MAX_AUDIT_PAGE`]).
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn for_entity(
        &self,
        entity_type: &str,
        entity_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, actor_id, actor_name, action, entity_type, entity_id, changed_fields \
             FROM audit_log WHERE entity_type = ?1 AND entity_id = ?2 ORDER BY seq LIMIT ?3",
        )?;
        let limit = limit.min(MAX_AUDIT_PAGE) as i64;
        let rows = stmt.query_map(params![entity_type, entity_id, limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
            ))
        })?;
        let mut entries = Vec::new();
        for row in rows {
            let (seq, at, actor_id, actor_name, action, entity_type, entity_id, fields) = row?;
            entries.push(AuditEntry {
                seq,
                at: crate::time::from_db(&at)?,
                actor_id,
                actor_name,
                action,
                entity_type,
                entity_id,
                changed_fields: serde_json::from_str(&fields)?,
            });
        }
        Ok(entries)
    }

    /// How many entries the trail holds.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM audit_log")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }
}

/// Every record that custdb creates has a `create` entry in the trail.
pub(crate) fn check(conn: &Connection, report: &mut CheckReport) -> Result<()> {
    for (table, entity) in [
        ("customers", "customer"),
        ("customer_addresses", "address"),
        ("customer_interactions", "interaction"),
    ] {
        // Table and entity names come from the constant list above.
        let sql = format!(
            "SELECT id FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
             WHERE a.entity_type = '{entity}' AND a.entity_id = t.id AND a.action = 'create')"
        );
        let mut stmt = conn.prepare(&sql)?;
        for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
            report.push(format!("audit: {entity} {} has no create entry", id?));
        }
    }
    Ok(())
}
