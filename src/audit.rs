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
    /// The last chained entry, when the trail is not empty.
    pub head: Option<AuditHead>,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
    /// Entries after the head that are not chained yet, counted in
    /// `entries`. Always 0 on SQLite, which chains each entry as it is
    /// written. On PostgreSQL a unit of work's entries join the chain in a
    /// short step just after its commit (docs/SCALING.md, "The audit
    /// chain"), so a few may be pending while units commit; entries that
    /// stay pending mean the chain step fails (for example, the
    /// application's role lacks `UPDATE (prev_hash, hash)` on `audit_log`,
    /// which [`Store::grant_runtime_privileges`](crate::Store) gives).
    #[serde(default)]
    pub pending: u64,
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

/// A unit of work's audit entries on PostgreSQL, held until its commit (or
/// until the unit of work reads its own trail, [`crate::WriteTx::audit`]),
/// then inserted unchained; the store's [`Chainer`] chains them after the
/// commit. Entries before `flushed` are in the table.
#[derive(Debug, Default)]
pub(crate) struct PendingAudit {
    entries: Vec<PendingEntry>,
    flushed: usize,
    /// The unit's change-feed events, inserted after its entries.
    events: Vec<crate::changes::PendingEvent>,
    events_flushed: usize,
    /// Some entry was inserted: the chainer has work after the commit.
    inserted: bool,
}

/// Where a savepoint began, to roll [`PendingAudit`] back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingMark {
    entries: usize,
    flushed: usize,
    events: usize,
    events_flushed: usize,
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
            events: self.events.len(),
            events_flushed: self.events_flushed,
        }
    }

    /// After `ROLLBACK TO` the savepoint taken at `mark`: the entries
    /// recorded since are gone, and so are the rows flushed since (the
    /// rollback removed them from the table), so those entries that came
    /// before the savepoint are flushed again later.
    pub(crate) fn roll_back_to(&mut self, mark: PendingMark) {
        self.entries.truncate(mark.entries);
        self.flushed = self.flushed.min(mark.flushed);
        self.events.truncate(mark.events);
        self.events_flushed = self.events_flushed.min(mark.events_flushed);
    }

    pub(crate) fn push_event(&mut self, event: crate::changes::PendingEvent) {
        self.events.push(event);
    }

    /// Inserts the entries not yet in the table, unchained.
    #[cfg(feature = "postgres")]
    pub(crate) fn flush(&mut self, conn: Conn<'_>, actor: &Actor, at: DateTime<Utc>) -> Result<()> {
        if self.flushed < self.entries.len() {
            append_unchained(conn, actor, at, &self.entries[self.flushed..])?;
            self.flushed = self.entries.len();
            self.inserted = true;
        }
        if self.events_flushed < self.events.len() {
            crate::changes::insert_pending(conn, actor, at, &self.events[self.events_flushed..])?;
            self.events_flushed = self.events.len();
            self.inserted = true;
        }
        Ok(())
    }

    /// Whether the unit of work inserted entries, for the chainer to chain
    /// once it has committed.
    pub(crate) fn inserted(&self) -> bool {
        self.inserted
    }
}

/// How long a chain step that waits for the chain's lock waits at most, in
/// milliseconds (see [`Chainer`]).
pub const CHAIN_WAIT_MS: u32 = 100;

/// Most entries one chain step chains; a longer tail takes several steps.
#[cfg(feature = "postgres")]
const CHAIN_CHUNK: usize = 1_000;

/// How long the chainer waits after a wake-up before its step, in
/// milliseconds, so that one step chains the entries of every unit of work
/// that commits meanwhile: the longest a committed entry waits for its
/// hashes while the lock is free. (At 5 ms, a step ran for every two or
/// three one-shot calls, and on a 2-core machine its work beside theirs
/// made them up to 1.4 times slower than the same statements without
/// chaining; at 100 ms, 1.0 to 1.12 times: docs/PERFORMANCE.md.)
#[cfg(feature = "postgres")]
const CHAIN_DELAY_MS: u64 = 100;

/// How many times the chainer tries the lock, a millisecond apart, before
/// it waits for it.
#[cfg(feature = "postgres")]
const CHAIN_TRIES: u32 = 10;

/// Most chain steps the chainer runs for one wake-up (so that it never
/// loops without end when the server refuses): with the pauses, about 15
/// seconds. The next wake-up, or the next verification, takes over.
#[cfg(feature = "postgres")]
const CHAIN_ATTEMPTS: u32 = 20;

/// Inserts a unit of work's entries unchained, each taking its position
/// from the column's identity, under the chain's lock held shared to the
/// commit (taken by the insert itself, before it draws the position).
#[cfg(feature = "postgres")]
pub(crate) fn append_unchained(
    conn: Conn<'_>,
    actor: &Actor,
    at: DateTime<Utc>,
    entries: &[PendingEntry],
) -> Result<()> {
    for e in entries {
        let fields = serde_json::to_string(&e.changed_fields).written()?;
        let seq: i64 = conn.query_row(
            sql!(postgres_only: sql::INSERT_UNCHAINED),
            &[
                &at,
                &actor.id(),
                &actor.name(),
                &e.action,
                &e.entity_type,
                &e.entity_id,
                &fields,
            ],
            |r| r.get(0),
        )?;
        debug_assert!(seq > 0);
    }
    Ok(())
}

/// On PostgreSQL, the store's audit chainer: a thread that gives committed
/// audit entries their place in the hash chain, a moment after their units
/// of work commit, in `seq` order. No unit of work ever waits for it.
///
/// The chain has a lock: the advisory lock whose key is "custdb-a" as
/// bytes (`x'6375737464622d61'`). A unit of work holds it shared from
/// inserting its entries to its commit, so units commit side by side and
/// the server flushes their commits together. A chain step holds it
/// exclusively, so when it reads the trail every entry inserted so far
/// belongs to a unit that has committed or rolled back, and a unit that
/// inserts later draws a larger `seq`: the chained entries are always a
/// prefix of the trail in `seq` order, and a step only appends after the
/// last chained entry.
///
/// Each unit of work that inserted entries wakes the chainer after its
/// commit; the chainer lets [`CHAIN_DELAY_MS`] pass, so that one step
/// chains every unit that commits meanwhile. A step only tries the lock (while units hold it shared, the
/// chainer tries again a millisecond later), and after [`CHAIN_TRIES`]
/// tries waits for it, up to [`CHAIN_WAIT_MS`]: meanwhile units that
/// reach their audit inserts queue behind it, so under a steady stream of
/// writers the chain still advances. Steps from several stores (servers)
/// on one database take turns on the same lock. A step's commit does not
/// wait for the disk (`synchronous_commit = off`): if a crash loses it,
/// its entries are unchained again and the next step chains them to the
/// same hashes, since the order and the contents are the same.
/// [`crate::Store::verify_audit`] and [`crate::Store::check`] run a step
/// first, so they see every committed entry chained.
#[cfg(feature = "postgres")]
pub(crate) struct Chainer {
    shared: std::sync::Arc<ChainerShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(feature = "postgres")]
#[derive(Default)]
struct ChainerShared {
    state: std::sync::Mutex<ChainerState>,
    wake: std::sync::Condvar,
}

#[cfg(feature = "postgres")]
#[derive(Default)]
struct ChainerState {
    /// Wake-ups so far: the thread has work while it has done fewer.
    requested: u64,
    stop: bool,
}

#[cfg(feature = "postgres")]
impl Chainer {
    /// Starts the thread. Without a thread (the system refused one),
    /// entries are chained by other stores' chainers and by every
    /// verification.
    pub(crate) fn start(pool: crate::db::postgres::PgPool) -> Chainer {
        let shared = std::sync::Arc::new(ChainerShared::default());
        let theirs = std::sync::Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("custdb-audit-chain".into())
            .spawn(move || chainer_loop(&theirs, &pool))
            .ok();
        Chainer { shared, thread }
    }

    /// A unit of work with audit entries has committed.
    pub(crate) fn wake(&self) {
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.requested += 1;
        drop(state);
        self.shared.wake.notify_one();
    }
}

#[cfg(feature = "postgres")]
impl Drop for Chainer {
    /// Chains what this store's units wrote, once more, and stops.
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(feature = "postgres")]
impl std::fmt::Debug for Chainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chainer")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

#[cfg(feature = "postgres")]
fn chainer_loop(shared: &ChainerShared, pool: &crate::db::postgres::PgPool) {
    let lock = || {
        shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut done = 0u64;
    loop {
        let mut state = lock();
        while state.requested == done && !state.stop {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        // Let the commits of the next moments join this step: one step then
        // chains many units' entries, and its cost (two round trips and a
        // small transaction on the server, and CPU beside the units) is
        // shared. Stopping cuts the pause short.
        if !state.stop {
            state = shared
                .wake
                .wait_timeout_while(
                    state,
                    std::time::Duration::from_millis(CHAIN_DELAY_MS),
                    |s| !s.stop,
                )
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        let (target, stop) = (state.requested, state.stop);
        drop(state);
        if stop {
            // One try for the units committed before the store went; what
            // it cannot chain, the next step of any store chains.
            if target != done {
                chain_until_done(pool, 1, 1, &mut |_| false);
            }
            return;
        }
        // Pauses between attempts end early when the store goes.
        let mut pause = |length: std::time::Duration| {
            let state = lock();
            let (state, _) = shared
                .wake
                .wait_timeout_while(state, length, |s| !s.stop)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            !state.stop
        };
        chain_until_done(pool, CHAIN_TRIES, CHAIN_ATTEMPTS, &mut pause);
        done = target;
    }
}

/// Runs chain steps until one has had the lock and chained the whole tail
/// it saw, or `attempts` have run: the first `tries` only try the lock, a
/// millisecond apart, the rest wait for it. A wait that times out is
/// followed by a pause as long as it, doubling each time (to 1.6 s):
/// while the chainer waits, units of work queue at their audit inserts,
/// so a unit that holds the lock long (one that read its own trail and
/// goes on) must not keep them queued. Errors are left to the next
/// wake-up: the units of work have committed, and verification reports
/// what stays unchained as pending. `pause` sleeps between attempts and
/// answers whether to go on.
#[cfg(feature = "postgres")]
pub(crate) fn chain_until_done(
    pool: &crate::db::postgres::PgPool,
    tries: u32,
    attempts: u32,
    pause: &mut dyn FnMut(std::time::Duration) -> bool,
) {
    let mut backoff = std::time::Duration::from_millis(u64::from(CHAIN_WAIT_MS));
    for attempt in 0..attempts {
        let wait = attempt >= tries;
        let length = match chain_step(pool, wait) {
            Ok(Some(chained)) if chained < CHAIN_CHUNK => return,
            // A full chunk: more behind it.
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) if !wait => std::time::Duration::from_millis(1),
            Ok(None) | Err(_) => {
                let length = backoff;
                backoff = (backoff * 2).min(std::time::Duration::from_millis(1_600));
                length
            }
        };
        if attempt + 1 < attempts && !pause(length) {
            return;
        }
    }
}

/// One chain step on a client of the pool, in two round trips (the
/// schema's `custdb_audit_unchained` and `custdb_audit_chain`,
/// schema/migrations/postgres/0009): the last chained entry and the
/// entries after it, then the hashes custdb computed for them, set if the
/// last chained entry is still the same. Returns the entries chained, or
/// `None` when the step did not have the lock (or another step chained
/// first).
#[cfg(feature = "postgres")]
fn chain_step(pool: &crate::db::postgres::PgPool, wait: bool) -> Result<Option<usize>> {
    use crate::db::postgres::{PgSession, SessionKind};
    let session = PgSession::open(pool, SessionKind::Autocommit)?;
    let wait_ms = if wait { CHAIN_WAIT_MS } else { 0 };
    let rows = session.simple_rows(&format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED; \
         SELECT * FROM custdb_audit_unchained({wait_ms}, {}); COMMIT",
        CHAIN_CHUNK + 1
    ))?;
    match rows.first() {
        // The lock was not had.
        None => return Ok(None),
        // The lock was had, and there is nothing to chain.
        Some(marker) if marker.get(1).is_none() => return Ok(Some(0)),
        Some(_) => {}
    }
    let mut rows = rows
        .iter()
        .map(RawEntry::from_text)
        .collect::<Result<Vec<_>>>()?;
    let (head_seq, mut prev) = match rows.first() {
        Some(first) if first.hash.is_some() => {
            let head = rows.remove(0);
            (head.seq, head.hash.unwrap_or_default())
        }
        _ => (0, GENESIS_HASH.to_owned()),
    };
    // The head's hash goes into the statement below as text: anything but
    // 64 hex digits (a hash set behind custdb's back) stops the step, and
    // verification reports the entry.
    if prev.len() != 64 || !prev.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::corrupt(format!(
            "audit entry {head_seq}'s hash is not 64 hex digits"
        )));
    }
    if rows.is_empty() {
        return Ok(Some(0));
    }
    let mut links = Vec::with_capacity(rows.len());
    for r in &rows {
        if r.hash.is_some() || r.prev_hash.is_some() {
            // Only an entry written behind custdb's back gets here;
            // verification reports it.
            return Err(Error::corrupt(format!(
                "audit entry {} is hashed after the chain's last entry",
                r.seq
            )));
        }
        let hash = r.hash_with(&prev);
        links.push(serde_json::json!({"seq": r.seq, "prev_hash": prev, "hash": hash}));
        prev = hash;
    }
    // Numbers, hex digits and JSON punctuation only (the head's hash is
    // checked above, every other hash is computed here): nothing to quote,
    // which this checks again, since the text is not a bound parameter.
    let links = serde_json::Value::Array(links).to_string();
    if !links
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"[]{}:,\"_".contains(&b))
    {
        return Err(Error::corrupt("the audit chain step's links are not plain"));
    }
    let done = session.simple_rows(&format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED; \
         SELECT custdb_audit_chain('{links}', {head_seq}, {wait_ms}); COMMIT"
    ))?;
    let chained: usize = done
        .first()
        .and_then(|r| r.get(0))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::corrupt("the audit chain step returned no count"))?;
    Ok((chained == rows.len()).then_some(chained))
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
    /// The last chained entry's position and hash: the trail's head.
    pub const LAST_CHAINED: &str =
        "SELECT seq, hash FROM audit_log WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1";
    /// PostgreSQL: appends an entry unchained, its position from the
    /// identity, after taking the chain's lock ("custdb-a") shared.
    pub const INSERT_UNCHAINED: &str = "INSERT INTO audit_log (at, actor_id, actor_name, \
        action, entity_type, entity_id, changed_fields) \
        SELECT $1, $2, $3, $4, $5, $6, $7 \
        FROM (SELECT pg_advisory_xact_lock_shared(x'6375737464622d61'::bigint)) AS chain_lock \
        RETURNING seq";
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
    /// An entry from the simple query protocol, where every value is text
    /// (`custdb_audit_unchained` returns the table's columns in
    /// [`raw_entry`]'s order).
    #[cfg(feature = "postgres")]
    fn from_text(row: &::postgres::SimpleQueryRow) -> Result<RawEntry> {
        let text = |i: usize| -> Result<String> {
            row.get(i)
                .map(str::to_owned)
                .ok_or_else(|| Error::corrupt(format!("audit entry column {i} is null")))
        };
        Ok(RawEntry {
            seq: text(0)?
                .parse()
                .map_err(|_| Error::corrupt("an audit entry's seq is not a number"))?,
            at: text(1)?,
            actor_id: text(2)?,
            actor_name: text(3)?,
            action: text(4)?,
            entity_type: text(5)?,
            entity_id: text(6)?,
            changed_fields: text(7)?,
            prev_hash: row.get(8).map(str::to_owned),
            hash: row.get(9).map(str::to_owned),
        })
    }

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

    /// Inserts the unit of work's held entries, if any.
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

    /// The last chained entry, to keep outside the database. On
    /// PostgreSQL, entries join the chain just after their unit of work
    /// commits, so inside a unit of work the head is before the unit's own
    /// entries.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn head(&self) -> Result<Option<AuditHead>> {
        self.ready()?;
        // On PostgreSQL through the schema's function, which walks back
        // from the newest entry by the primary key whatever the planner's
        // statistics say (the chain step finds the head the same way).
        let statement = sql!(
            sqlite: sql::LAST_CHAINED,
            postgres: "SELECT head_seq, head_hash FROM custdb_audit_head() WHERE head_seq > 0"
        );
        self.conn.query_opt(statement, &[], |r| {
            Ok(AuditHead {
                seq: r.get(0)?,
                hash: r.get(1)?,
            })
        })
    }

    /// Recomputes the whole chain and reports the first broken link. On
    /// PostgreSQL, entries not chained yet at the end of the trail are
    /// counted as [`pending`](AuditVerification::pending), not broken; an
    /// unchained entry before a chained one is a break.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn verify(&self) -> Result<AuditVerification> {
        self.ready()?;
        // SQLite chains each entry in the transaction that writes it.
        let tail_may_wait = self.conn.is_postgres();
        let mut expected_prev = GENESIS_HASH.to_owned();
        let mut entries = 0u64;
        let mut head = None;
        let mut broken = None;
        // The first unchained entry and how many followed it, while no
        // chained entry has come after it.
        let mut unchained: Option<(i64, u64)> = None;
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
                    if r.prev_hash.is_some() || r.hash.is_some() || !tail_may_wait {
                        broken = Some(BrokenLink {
                            seq: r.seq,
                            reason: BreakReason::Unhashed,
                        });
                    } else {
                        let (_, n) = unchained.get_or_insert((r.seq, 0));
                        *n += 1;
                    }
                    return Ok(());
                };
                if let Some((seq, _)) = unchained {
                    // A chained entry after an unchained one: the chain
                    // step never leaves such a gap.
                    broken = Some(BrokenLink {
                        seq,
                        reason: BreakReason::Unhashed,
                    });
                    return Ok(());
                }
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
            pending: if broken.is_some() {
                0
            } else {
                unchained.map_or(0, |(_, n)| n)
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of taking the chain's lock: tried, and waited for (up to
    /// CHAIN_WAIT_MS). While a unit of work holds it shared, neither
    /// chains; once it is free, either does, and the trail verifies.
    #[cfg(feature = "postgres")]
    #[test]
    fn the_chain_step_tries_or_waits_for_the_lock() {
        use crate::db::postgres::{PgSession, SessionKind};
        let Some(cluster) = custdb_pgcluster::cluster() else {
            return;
        };
        let store =
            crate::Store::open_postgres(&cluster.connection(&cluster.empty_database())).unwrap();
        let pool = store.postgres().unwrap().pool();
        // An empty trail: the lock is had, and there is nothing to chain.
        assert_eq!(chain_step(pool, false).unwrap(), Some(0));
        let holder = PgSession::open(pool, SessionKind::Write).unwrap();
        holder
            .batch("SELECT pg_advisory_xact_lock_shared(x'6375737464622d61'::bigint)")
            .unwrap();
        store
            .customers()
            .create(crate::NewCustomer::new("Waiting"))
            .unwrap();
        let pending = || store.read(|r| r.audit().verify()).unwrap().pending;
        assert_eq!(pending(), 1, "the store's chainer cannot chain it either");
        assert_eq!(chain_step(pool, false).unwrap(), None);
        let started = std::time::Instant::now();
        assert_eq!(chain_step(pool, true).unwrap(), None);
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(u64::from(CHAIN_WAIT_MS)),
            "it waited before giving up"
        );
        assert_eq!(pending(), 1);
        holder.commit().unwrap();
        // The store's chainer, woken by the create, may chain it first, even
        // between this step's two calls (which then writes nothing).
        let chained = (0..5).find_map(|_| chain_step(pool, true).unwrap());
        assert!(matches!(chained, Some(0 | 1)), "{chained:?}");
        // The chainer may still hold the lock for its own step (finding
        // nothing), so a single try could miss it: wait for the lock instead.
        let after = (0..5).find_map(|_| chain_step(pool, true).unwrap());
        assert_eq!(after, Some(0), "nothing is left to chain");
        let v = store.verify_audit().unwrap();
        assert!(v.is_ok() && v.pending == 0 && v.entries == 1, "{v:?}");
    }
}
