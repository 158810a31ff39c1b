//! The audit trail: one append-only row per mutation, written in the same
//! transaction as the mutation, naming the actor, the action, the entity and
//! the fields that changed (names only, never values, so the trail holds no
//! personal data beyond the ids it names).
//!
//! Rows are appended only through [`WriteTx`](crate::WriteTx), which refuses
//! to commit a unit of work that changed rows without writing one. SQL
//! triggers refuse `UPDATE` and `DELETE` on `audit_log`.
//!
//! The trail is hash-chained: each entry's hash is SHA-256 over a fixed
//! encoding of its content and the previous entry's hash ([`entry_hash`]).
//! [`AuditReader::verify`] recomputes the chain and reports the first
//! broken link; [`AuditReader::verify_against`] also checks a head saved
//! earlier outside the database, which catches a rewrite of the whole tail.
//! Erasure never touches the trail (it holds ids and field names, no
//! values), so erasing a customer leaves the chain verifiable.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::{sql, AnyText, Conn, FromValue, Row, Sql, TimeBound, ToValue, ValueRef};
use crate::error::JsonResult;
use crate::error::{Error, Result};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::unit::{Actor, CheckReport};

/// The previous hash of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one entry: SHA-256, as lowercase hex, over the bytes
/// `custdb-audit-v1`, then the previous entry's hash (64 hex characters),
/// then each field as an 8-byte little-endian length followed by its UTF-8
/// bytes, in this order: seq (decimal), at, actor id, actor name, action,
/// entity type, entity id, changed fields (the stored JSON text).
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    actor_id: &str,
    actor_name: &str,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    changed_fields: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"custdb-audit-v1");
    h.update(prev_hash.as_bytes());
    let seq = seq.to_string();
    for field in [
        seq.as_str(),
        at,
        actor_id,
        actor_name,
        action,
        entity_type,
        entity_id,
        changed_fields,
    ] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    crate::schema::hex(&h.finalize())
}

/// The last entry of the trail: keep it outside the database (a log, a
/// ticket, a signed note) to detect later that the trail was cut short or
/// rewritten (see [`AuditReader::verify_against`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct AuditHead {
    /// The entry's position.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}
crate::input::strict_serde!(AuditHead);

/// What [`AuditReader::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct AuditVerification {
    /// Entries read.
    pub entries: u64,
    /// The last entry, when the trail is not empty.
    pub head: Option<AuditHead>,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

impl AuditVerification {
    /// True when every link holds.
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// Where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct BrokenLink {
    /// The first entry that does not verify.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: BreakReason,
}

/// How a link is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakReason {
    /// Its content does not hash to its stored hash: the entry was altered.
    Altered,
    /// Its previous hash is not the hash of the entry before it: an entry
    /// was deleted, inserted or moved just before it.
    Unlinked,
    /// It has no hash at all.
    Unhashed,
    /// The saved head names an entry that is not there, or is not that
    /// entry: the trail was cut short or rewritten.
    HeadMismatch,
}

/// Which entries an audit query returns; every set field must match. As
/// JSON (the C API), an object with any of the fields below.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct AuditFilter {
    /// The kind of entity (`customer`, `order`, ...).
    pub entity_type: Option<String>,
    /// The entity's id (with `entity_type`).
    pub entity_id: Option<String>,
    /// The actor.
    pub actor_id: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}
crate::input::strict_serde!(AuditFilter);

impl AuditFilter {
    /// Entries about one entity.
    pub fn entity(mut self, entity_type: impl Into<String>, entity_id: impl Into<String>) -> Self {
        self.entity_type = Some(entity_type.into());
        self.entity_id = Some(entity_id.into());
        self
    }

    /// Entries by one actor.
    pub fn actor(mut self, actor_id: impl Into<String>) -> Self {
        self.actor_id = Some(actor_id.into());
        self
    }

    /// Entries in `[from, to)`. A bound outside the range of
    /// [`crate::time`] means no bound on that side.
    pub fn between(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }
}

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

/// A [`Change`] held until commit (PostgreSQL, where entries join the
/// chain at commit under the chain's lock).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct PendingEntry {
    action: String,
    entity_type: String,
    entity_id: String,
    changed_fields: Vec<String>,
}

impl From<Change<'_>> for PendingEntry {
    fn from(c: Change<'_>) -> Self {
        PendingEntry {
            action: c.action.to_owned(),
            entity_type: c.entity_type.to_owned(),
            entity_id: c.entity_id.to_owned(),
            changed_fields: c.changed_fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// A unit of work's audit entries on PostgreSQL, held until they join the
/// chain: at commit, or earlier when the unit of work reads its own trail
/// ([`crate::WriteTx::audit`]). Entries before `flushed` are in the table.
#[derive(Debug, Default)]
pub(crate) struct PendingAudit {
    entries: Vec<PendingEntry>,
    flushed: usize,
}

/// Where a savepoint began, to roll [`PendingAudit`] back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingMark {
    entries: usize,
    flushed: usize,
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl PendingAudit {
    pub(crate) fn push(&mut self, entry: PendingEntry) {
        self.entries.push(entry);
    }

    pub(crate) fn mark(&self) -> PendingMark {
        PendingMark {
            entries: self.entries.len(),
            flushed: self.flushed,
        }
    }

    /// After `ROLLBACK TO` the savepoint taken at `mark`: the entries
    /// recorded since are gone, and so are the rows flushed since (the
    /// rollback removed them from the table), so those entries that came
    /// before the savepoint are flushed again later.
    pub(crate) fn roll_back_to(&mut self, mark: PendingMark) {
        self.entries.truncate(mark.entries);
        self.flushed = self.flushed.min(mark.flushed);
    }

    /// Appends the entries not yet in the table to the chain.
    #[cfg(feature = "postgres")]
    pub(crate) fn flush(&mut self, conn: Conn<'_>, actor: &Actor, at: DateTime<Utc>) -> Result<()> {
        if self.flushed < self.entries.len() {
            append_chained(conn, actor, at, &self.entries[self.flushed..])?;
            self.flushed = self.entries.len();
        }
        Ok(())
    }
}

/// The advisory lock key of the audit chain's head ("custdb-a" as bytes).
#[cfg(feature = "postgres")]
const CHAIN_LOCK_KEY: i64 = 0x6375_7374_6462_2d61;

/// Appends a unit of work's entries to the chain at its commit. With
/// several writers at once, the chain stays one line because each appender
/// holds a transaction-scoped advisory lock from reading the head to its
/// commit: units of work run concurrently, and only their appends (a few
/// inserts and the commit) take turns.
#[cfg(feature = "postgres")]
pub(crate) fn append_chained(
    conn: Conn<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
    entries: &[PendingEntry],
) -> Result<()> {
    conn.query_row(
        sql!(postgres_only: "SELECT pg_advisory_xact_lock($1)::text"),
        &[&CHAIN_LOCK_KEY],
        |_| Ok(()),
    )?;
    for e in entries {
        let fields: Vec<&str> = e.changed_fields.iter().map(String::as_str).collect();
        append(
            conn,
            actor,
            at,
            Change {
                action: &e.action,
                entity_type: &e.entity_type,
                entity_id: &e.entity_id,
                changed_fields: &fields,
            },
        )?;
    }
    Ok(())
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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

crate::bench_sql::sql_module! {
    /// The audit statements, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// Appends an entry with its position and hashes.
    pub const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, at, actor_id, actor_name, \
        action, entity_type, entity_id, changed_fields, prev_hash, hash) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    /// The last entry's position and hash.
    pub const LAST_ENTRY: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
    }
}

fn last_entry(conn: Conn<'_>) -> Result<(i64, String)> {
    Ok(conn
        .query_opt(sql!(sql::LAST_ENTRY), &[], |r| {
            Ok((r.get::<i64>(0)?, r.get::<Option<String>>(1)?))
        })?
        .map(|(seq, hash)| (seq, hash.unwrap_or_else(|| GENESIS_HASH.to_owned())))
        .unwrap_or((0, GENESIS_HASH.to_owned())))
}

pub(crate) fn append(
    conn: Conn<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
    change: Change<'_>,
) -> Result<()> {
    let fields = serde_json::to_string(change.changed_fields).written()?;
    let at_value = at;
    // The hash covers the stored text of the time (the storage format on
    // both engines: PostgreSQL's timestamptz formats back to the same text).
    let at = crate::time::to_db(&at);
    let (last_seq, prev_hash) = last_entry(conn)?;
    let seq = last_seq + 1;
    let hash = entry_hash(
        &prev_hash,
        seq,
        &at,
        actor.id(),
        actor.name(),
        change.action,
        change.entity_type,
        change.entity_id,
        &fields,
    );
    conn.execute(
        sql!(sql::INSERT_AUDIT),
        &[
            &seq,
            &at_value,
            &actor.id(),
            &actor.name(),
            &change.action,
            &change.entity_type,
            &change.entity_id,
            &fields,
            &prev_hash,
            &hash,
        ],
    )?;
    Ok(())
}

/// Chains the entries written before schema version 4: run once, by that
/// migration, in its transaction.
pub(crate) fn backfill_chain(conn: Conn<'_>) -> Result<()> {
    let rows: Vec<RawEntry> = conn.query_vec(
        sql!(concat!(select_entry!(), "AS chain ORDER BY seq")),
        &[],
        raw_entry,
    )?;
    let mut prev = GENESIS_HASH.to_owned();
    for r in rows {
        let hash = r.hash_with(&prev);
        conn.execute(
            sql!("UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE seq = ?1"),
            &[&r.seq, &prev, &hash],
        )?;
        prev = hash;
    }
    Ok(())
}

/// The columns of an entry, in [`raw_entry`]'s order.
macro_rules! select_entry {
    () => {
        "SELECT seq, at, actor_id, actor_name, action, entity_type, entity_id, \
         changed_fields, prev_hash, hash FROM audit_log "
    };
}
use select_entry;

/// A timestamp as the text the hash covers: SQLite's stored text as it is
/// (a value rewritten by another tool then fails verification), and
/// PostgreSQL's `timestamptz` in the storage format.
struct HashedTime(String);

impl FromValue for HashedTime {
    fn from_value(value: ValueRef<'_>) -> Result<Self> {
        match value {
            ValueRef::Text(t) => Ok(HashedTime(t.to_owned())),
            ValueRef::Time(t) => Ok(HashedTime(crate::time::to_db(&t))),
            v => Err(v.unexpected("a timestamp")),
        }
    }
}

struct RawEntry {
    seq: i64,
    at: String,
    actor_id: String,
    actor_name: String,
    action: String,
    entity_type: String,
    entity_id: String,
    changed_fields: String,
    prev_hash: Option<String>,
    hash: Option<String>,
}

fn raw_entry(row: &Row<'_>) -> Result<RawEntry> {
    Ok(RawEntry {
        seq: row.get(0)?,
        at: row.get::<HashedTime>(1)?.0,
        actor_id: row.get(2)?,
        actor_name: row.get(3)?,
        action: row.get(4)?,
        entity_type: row.get(5)?,
        entity_id: row.get(6)?,
        changed_fields: row.get(7)?,
        prev_hash: row.get(8)?,
        hash: row.get(9)?,
    })
}

impl RawEntry {
    fn hash_with(&self, prev_hash: &str) -> String {
        entry_hash(
            prev_hash,
            self.seq,
            &self.at,
            &self.actor_id,
            &self.actor_name,
            &self.action,
            &self.entity_type,
            &self.entity_id,
            &self.changed_fields,
        )
    }

    fn finish(self) -> Result<AuditEntry> {
        Ok(AuditEntry {
            seq: self.seq,
            at: crate::time::from_db(&self.at)?,
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            action: self.action,
            entity_type: self.entity_type,
            entity_id: self.entity_id,
            changed_fields: serde_json::from_str(&self.changed_fields).stored()?,
        })
    }
}

/// Read access to the audit trail: queries, the head, verification.
#[derive(Debug)]
pub struct AuditReader<'a> {
    conn: Conn<'a>,
    /// Inside a unit of work on PostgreSQL: its entries not yet in the
    /// table, appended before the first read (see [`crate::WriteTx::audit`]).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pending: Option<(
        &'a std::cell::RefCell<PendingAudit>,
        &'a Actor,
        DateTime<Utc>,
    )>,
}

impl<'a> AuditReader<'a> {
    pub(crate) fn new(conn: Conn<'a>) -> Self {
        AuditReader {
            conn,
            pending: None,
        }
    }

    /// A reader inside a unit of work that first appends the unit's held
    /// entries, so that it reads what the unit has written so far.
    pub(crate) fn with_pending(
        conn: Conn<'a>,
        pending: &'a std::cell::RefCell<PendingAudit>,
        actor: &'a Actor,
        at: DateTime<Utc>,
    ) -> Self {
        AuditReader {
            conn,
            pending: Some((pending, actor, at)),
        }
    }

    /// Appends the unit of work's held entries, if any.
    fn ready(&self) -> Result<()> {
        #[cfg(feature = "postgres")]
        if let Some((pending, actor, at)) = self.pending {
            pending.borrow_mut().flush(self.conn, actor, at)?;
        }
        Ok(())
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
        self.ready()?;
        let limit = limit.min(MAX_AUDIT_PAGE);
        self.conn.query_vec(
            sql!(concat!(
                select_entry!(),
                "WHERE entity_type = ?1 AND entity_id = ?2 ORDER BY seq LIMIT ?3"
            )),
            &[&entity_type, &entity_id, &limit],
            |r| raw_entry(r)?.finish(),
        )
    }

    /// Entries matching the filter, oldest first, a page at a time.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) for a bad cursor or
    /// limit, or an entity id without its type.
    pub fn query(
        &self,
        filter: &AuditFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<AuditEntry>> {
        self.ready()?;
        let limit = check_limit(limit)?;
        if filter.entity_id.is_some() && filter.entity_type.is_none() {
            return Err(Error::invalid("entity_type", "is needed with entity_id"));
        }
        let after: i64 = match after {
            None => 0,
            Some(c) => c
                .key()?
                .parse()
                .map_err(|_| Error::invalid("cursor", "is not an audit cursor"))?,
        };
        // The condition is built from fixed fragments only (which filters
        // are set), so each shape is one cached statement that can use its
        // index.
        let from = filter.from.map(TimeBound);
        let to = filter.to.map(TimeBound);
        let fetch = limit + 1;
        let mut sql = String::from(concat!(select_entry!(), "WHERE seq > ?1"));
        let mut params: Vec<&dyn ToValue> = vec![&after];
        let conditions: [(&str, Option<&dyn ToValue>); 5] = [
            (
                "entity_type =",
                filter.entity_type.as_ref().map(|v| v as &dyn ToValue),
            ),
            (
                "entity_id =",
                filter.entity_id.as_ref().map(|v| v as &dyn ToValue),
            ),
            (
                "actor_id =",
                filter.actor_id.as_ref().map(|v| v as &dyn ToValue),
            ),
            ("at >=", from.as_ref().map(|v| v as &dyn ToValue)),
            ("at <", to.as_ref().map(|v| v as &dyn ToValue)),
        ];
        for (condition, value) in conditions {
            if let Some(value) = value {
                params.push(value);
                sql.push_str(&format!(" AND {condition} ?{}", params.len()));
            }
        }
        params.push(&fetch);
        sql.push_str(&format!(" ORDER BY seq LIMIT ?{}", params.len()));
        let items = self
            .conn
            .query_vec(&Sql::dynamic(sql), &params, |r| raw_entry(r)?.finish())?;
        Ok(into_page(items, limit, |e| e.seq.to_string()))
    }

    /// The last entry, to keep outside the database.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn head(&self) -> Result<Option<AuditHead>> {
        self.ready()?;
        let (seq, hash) = last_entry(self.conn)?;
        Ok((seq > 0).then_some(AuditHead { seq, hash }))
    }

    /// Recomputes the whole chain and reports the first broken link.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn verify(&self) -> Result<AuditVerification> {
        self.ready()?;
        let mut expected_prev = GENESIS_HASH.to_owned();
        let mut entries = 0u64;
        let mut head = None;
        let mut broken = None;
        self.conn.query_each(
            sql!(concat!(select_entry!(), "AS chain ORDER BY seq")),
            &[],
            |row| {
                if broken.is_some() {
                    // The first break is the answer; the rest of the rows
                    // are not read into entries.
                    return Ok(());
                }
                let r = raw_entry(row)?;
                entries += 1;
                let (Some(prev), Some(hash)) = (&r.prev_hash, &r.hash) else {
                    broken = Some(BrokenLink {
                        seq: r.seq,
                        reason: BreakReason::Unhashed,
                    });
                    return Ok(());
                };
                let reason = if r.hash_with(prev) != *hash {
                    Some(BreakReason::Altered)
                } else if *prev != expected_prev {
                    Some(BreakReason::Unlinked)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    broken = Some(BrokenLink { seq: r.seq, reason });
                    return Ok(());
                }
                expected_prev = hash.clone();
                head = Some(AuditHead {
                    seq: r.seq,
                    hash: hash.clone(),
                });
                Ok(())
            },
        )?;
        Ok(AuditVerification {
            entries,
            head: if broken.is_some() { None } else { head },
            broken,
        })
    }

    /// [`verify`](AuditReader::verify), and also that the entry a saved
    /// head names is still there with the same hash.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn verify_against(&self, saved: &AuditHead) -> Result<AuditVerification> {
        self.ready()?;
        let mut v = self.verify()?;
        if v.broken.is_none() {
            let found: Option<Option<String>> = self.conn.query_opt(
                sql!("SELECT hash FROM audit_log WHERE seq = ?1"),
                &[&saved.seq],
                |r| r.get(0),
            )?;
            if found.flatten().as_deref() != Some(saved.hash.as_str()) {
                v.broken = Some(BrokenLink {
                    seq: saved.seq,
                    reason: BreakReason::HeadMismatch,
                });
            }
        }
        Ok(v)
    }

    /// How many entries the trail holds.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn count(&self) -> Result<u64> {
        self.ready()?;
        self.conn
            .query_row(sql!("SELECT count(*) FROM audit_log"), &[], |r| r.get(0))
    }
}

/// Every record that custdb creates has a `create` entry in the trail, and
/// the hash chain holds.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    let verification = AuditReader::new(conn).verify()?;
    if let Some(b) = verification.broken {
        report.push(format!(
            "audit: the hash chain breaks at entry {} ({:?})",
            b.seq, b.reason
        ));
    }
    // Audit rows name entities by their id as text; PostgreSQL compares a
    // native uuid with text only through a cast.
    let unaudited = [
        (
            "customer",
            sql!(
                sqlite: "SELECT id FROM customers t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
                 WHERE a.entity_type = 'customer' AND a.entity_id = t.id AND a.action = 'create')",
                postgres: "SELECT id FROM customers t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
                 WHERE a.entity_type = 'customer' AND a.entity_id = t.id::text AND a.action = 'create')"
            ),
        ),
        (
            "address",
            sql!(
                sqlite: "SELECT id FROM customer_addresses t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
                 WHERE a.entity_type = 'address' AND a.entity_id = t.id AND a.action = 'create')",
                postgres: "SELECT id FROM customer_addresses t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
                 WHERE a.entity_type = 'address' AND a.entity_id = t.id::text AND a.action = 'create')"
            ),
        ),
        (
            "interaction",
            sql!(
                sqlite: "SELECT id FROM customer_interactions t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
                 WHERE a.entity_type = 'interaction' AND a.entity_id = t.id AND a.action = 'create')",
                postgres: "SELECT id FROM customer_interactions t WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
                 WHERE a.entity_type = 'interaction' AND a.entity_id = t.id::text AND a.action = 'create')"
            ),
        ),
    ];
    for (entity, statement) in unaudited {
        conn.query_each(statement, &[], |r| {
            let id: AnyText = r.get(0)?;
            report.push(format!("audit: {entity} {} has no create entry", id.0));
            Ok(())
        })?;
    }
    Ok(())
}
