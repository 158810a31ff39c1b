//! The waits inside one process: for the writer connection and for a pooled
//! reader. Each wait is bounded (by [`Options::busy_timeout`]), and a wait
//! that could only end when the waiting thread itself let go is refused at
//! once instead of hanging forever. A unit of work that shares a commit
//! (group commit) waits for it after its own work: for at most the
//! [`MAX_UNITS_PER_COMMIT`] one-shot calls that run after it, custdb's own
//! code that never waits for another thread.
//!
//! SQLite's own busy handler bounds the waits between processes; these
//! bound the waits between threads of one process, which never reach
//! SQLite because custdb serialises them first.
//!
//! [`Options::busy_timeout`]: crate::Options::busy_timeout

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{Error, ErrorKind, Result};

/// What a thread holds of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// The writer connection (a unit of work, or a read that shares it).
    Writer,
    /// A connection of the reader pool.
    Reader,
}

thread_local! {
    /// The holds of the current thread: (store identity, what it holds).
    static HELD: RefCell<Vec<(usize, Hold)>> = const { RefCell::new(Vec::new()) };
}

fn holds(store: usize, hold: Hold) -> usize {
    HELD.with(|held| {
        held.borrow()
            .iter()
            .filter(|&&(s, h)| s == store && h == hold)
            .count()
    })
}

/// Records a hold for as long as it lives.
struct Registration {
    store: usize,
    hold: Hold,
}

impl Registration {
    fn new(store: usize, hold: Hold) -> Registration {
        HELD.with(|held| held.borrow_mut().push((store, hold)));
        Registration { store, hold }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held
                .iter()
                .rposition(|&(s, h)| s == self.store && h == self.hold)
            {
                held.remove(i);
            }
        });
    }
}

fn reentrant(operation: &'static str) -> Error {
    Error::new(ErrorKind::Reentrant { operation })
}

fn remaining(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now())
}

/// The writer connection behind a lock whose wait is bounded: std's
/// `Mutex` has no timed lock, so a flag and a condition variable gate it,
/// and the connection's own mutex is only ever taken uncontended.
///
/// The lock also runs group commit (docs/RELIABILITY.md, "Group commit"):
/// a unit of work that ends while others wait for the writer may leave its
/// transaction open for them instead of committing; each of them runs in a
/// savepoint of that transaction, and the last one commits for all. A unit
/// that left its work in the open transaction (a *member* of the batch)
/// waits for that commit before it returns.
pub(crate) struct WriterLock {
    taken: Mutex<Gate>,
    freed: Condvar,
    /// Signalled when a batch's outcome is known, or when the writer is
    /// released with a batch open and no one waiting for it (one of the
    /// members then commits the batch itself).
    settled: Condvar,
    conn: Mutex<Connection>,
    /// Open only while this lock commits (see `commit_gate` in the store).
    commit_open: Arc<AtomicBool>,
    /// Whether units may share a commit ([`Options::group_commit`]).
    ///
    /// [`Options::group_commit`]: crate::Options::group_commit
    group_commit: bool,
    /// Told after every commit, for the change feed's waiting readers.
    pub(crate) commits: CommitSignal,
}

/// A count of commits that threads can wait on: the change feed's waiting
/// readers in the same process wake at a commit instead of polling.
#[derive(Debug, Default)]
pub(crate) struct CommitSignal {
    count: Mutex<u64>,
    committed: Condvar,
}

impl CommitSignal {
    /// The commits so far.
    pub(crate) fn count(&self) -> u64 {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a commit and wakes the waiting readers, if any.
    fn tell(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.committed.notify_all();
    }

    /// Waits until the count passes `seen` or `until` comes.
    pub(crate) fn wait_past(&self, seen: u64, until: std::time::Instant) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count == seen {
            let now = std::time::Instant::now();
            if now >= until {
                return;
            }
            count = self
                .committed
                .wait_timeout(count, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Units of work one commit may carry at most: a bound on how long the
/// first of them waits for its acknowledgement.
pub const MAX_UNITS_PER_COMMIT: usize = 64;

/// Whether the writer is taken, how many threads wait for it, and the
/// batch of group commit: a release wakes a waiter only when there is one,
/// since waking costs a system call (std's condition variable always makes
/// it) and most releases have no one waiting.
#[derive(Default)]
struct Gate {
    taken: bool,
    waiting: usize,
    /// Of those waiting, the units that may run inside an open batch: only
    /// for them is a batch left open (anyone else commits it at once).
    waiting_joinable: usize,
    /// The batch whose transaction is open on the writer, uncommitted.
    open_batch: Option<u64>,
    /// Units whose work the open batch holds (for the statistics).
    batch_units: usize,
    /// Units that ran in the open batch, kept or undone (for the cap).
    batch_ran: usize,
    /// Units of the open batch that wait for its commit.
    members: usize,
    next_batch: u64,
    /// Outcomes of ended batches that members have yet to read:
    /// (batch, outcome, members still to read it).
    outcomes: Vec<(u64, Result<()>, usize)>,
    stats: WriteStats,
}

/// How many units of work the writer committed, and in how many commits
/// ([`Store::write_stats`](crate::Store::write_stats)): with group commit,
/// under concurrent writes, fewer commits than units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Units of work committed since the store was opened.
    pub units: u64,
    /// Commits that carried them.
    pub commits: u64,
}

impl WriterLock {
    pub(crate) fn new(
        conn: Connection,
        commit_open: Arc<AtomicBool>,
        group_commit: bool,
    ) -> WriterLock {
        WriterLock {
            taken: Mutex::new(Gate::default()),
            freed: Condvar::new(),
            settled: Condvar::new(),
            conn: Mutex::new(conn),
            commit_open,
            group_commit,
            commits: CommitSignal::default(),
        }
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the writer has committed so far.
    pub(crate) fn stats(&self) -> WriteStats {
        self.gate().stats
    }

    /// Takes the writer connection for `operation` ("write", "read"...),
    /// waiting up to `timeout`. A transaction that group commit left open
    /// is committed first, so the caller finds none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Reentrant`] when this thread already holds the writer of
    /// this store (the wait would never end); [`ErrorKind::Busy`] when
    /// another thread holds it past `timeout`; the error of the open
    /// batch's commit.
    pub(crate) fn lock(
        &self,
        store: usize,
        operation: &'static str,
        timeout: Duration,
    ) -> Result<WriterGuard<'_>> {
        let mut guard = self.acquire(store, operation, timeout, false)?;
        if let Err(e) = guard.finish_batch() {
            // The batch's members have its outcome; the caller has no part
            // in it, and may go on if the connection is free again.
            if !guard.is_autocommit() {
                return Err(e);
            }
        }
        Ok(guard)
    }

    /// [`lock`](WriterLock::lock) that leaves an open batch open: for a
    /// unit of work that will run inside it ([`WriterGuard::begin_unit`]).
    pub(crate) fn lock_joining(
        &self,
        store: usize,
        operation: &'static str,
        timeout: Duration,
    ) -> Result<WriterGuard<'_>> {
        self.acquire(store, operation, timeout, true)
    }

    fn acquire(
        &self,
        store: usize,
        operation: &'static str,
        timeout: Duration,
        joinable: bool,
    ) -> Result<WriterGuard<'_>> {
        if holds(store, Hold::Writer) > 0 {
            return Err(reentrant(operation));
        }
        let deadline = Instant::now() + timeout;
        let mut gate = self.gate();
        while gate.taken {
            let Some(left) = remaining(deadline) else {
                return Err(Error::new(ErrorKind::Busy));
            };
            gate.waiting += 1;
            gate.waiting_joinable += usize::from(joinable);
            gate = self
                .freed
                .wait_timeout(gate, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            gate.waiting -= 1;
            gate.waiting_joinable -= usize::from(joinable);
        }
        gate.taken = true;
        let batch = gate.open_batch;
        drop(gate);
        // A panic inside an earlier unit of work poisons this mutex, but its
        // work was undone when it unwound (the guard's drop rolls back its
        // savepoint, or its transaction if it began one), so the
        // connection is sound and the poison can be cleared.
        Ok(self.held(store, batch))
    }

    /// The writer, once this thread set the gate's `taken`: its connection,
    /// with `batch` open on it or none.
    fn held(&self, store: usize, batch: Option<u64>) -> WriterGuard<'_> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        WriterGuard {
            lock: self,
            conn: Some(conn),
            batch,
            unit: None,
            _registration: Registration::new(store, Hold::Writer),
        }
    }

    /// Waits until `batch` is committed (or failed) and returns its
    /// outcome. When the writer is free with the batch still open and no
    /// one waiting to add to it, this member commits it.
    fn await_batch(&self, store: usize, batch: u64) -> Result<()> {
        let mut gate = self.gate();
        loop {
            if let Some(i) = gate.outcomes.iter().position(|(b, _, _)| *b == batch) {
                let entry = &mut gate.outcomes[i];
                entry.2 -= 1;
                let outcome = entry.1.clone();
                if entry.2 == 0 {
                    let _read_by_all = gate.outcomes.swap_remove(i);
                }
                return outcome;
            }
            if !gate.taken && gate.waiting == 0 && gate.open_batch == Some(batch) {
                gate.taken = true;
                drop(gate);
                let mut guard = self.held(store, Some(batch));
                // The outcome is published for every member, this one too.
                let _ = guard.finish_batch();
                drop(guard);
                gate = self.gate();
                continue;
            }
            gate = self
                .settled
                .wait(gate)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The writer connection, held; released when dropped (also on a panic).
pub(crate) struct WriterGuard<'l> {
    lock: &'l WriterLock,
    conn: Option<MutexGuard<'l, Connection>>,
    /// The batch whose transaction is open on the connection, if any.
    batch: Option<u64>,
    /// The unit of work running on it: whether it runs in a savepoint of
    /// an open batch (true) or began the transaction (false).
    unit: Option<bool>,
    _registration: Registration,
}

/// How a unit of work ended, for [`WriterGuard::end_unit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitEnd {
    /// Its work stays, to be committed.
    Keep,
    /// Its work is undone.
    Undo,
}

impl WriterGuard<'_> {
    /// Starts a unit of work: in a savepoint of the open batch when there
    /// is one, else in a new `BEGIN IMMEDIATE` transaction.
    ///
    /// # Errors
    ///
    /// The database's error (nothing was started then).
    pub(crate) fn begin_unit(&mut self) -> Result<()> {
        debug_assert!(self.unit.is_none(), "one unit at a time");
        let joined = self.batch.is_some();
        let statement = if joined {
            "SAVEPOINT custdb_unit"
        } else {
            "BEGIN IMMEDIATE"
        };
        self.execute(statement)?;
        if !joined {
            let mut gate = self.lock.gate();
            let batch = gate.next_batch;
            gate.next_batch += 1;
            gate.open_batch = Some(batch);
            gate.batch_units = 0;
            gate.batch_ran = 0;
            gate.members = 0;
            drop(gate);
            self.batch = Some(batch);
        }
        self.unit = Some(joined);
        Ok(())
    }

    fn execute(&self, statement: &str) -> Result<()> {
        self.conn
            .as_ref()
            .expect("writer held until drop")
            .execute_batch(statement)
            .map_err(Error::from_sqlite)
    }

    /// Ends the unit of work begun by [`begin_unit`](WriterGuard::begin_unit)
    /// and settles its batch: commits it, or, with group commit on, leaves
    /// it open for the units waiting for the writer when there are some.
    /// Consumes the guard: the writer is released on return. For a kept
    /// unit, returns once its work is committed.
    ///
    /// # Errors
    ///
    /// The commit's error (the unit's work is not kept then), or the error
    /// that ended the transaction under the unit (SQLite rolls a whole
    /// transaction back after some I/O and disk-full errors).
    pub(crate) fn end_unit(mut self, end: UnitEnd) -> Result<()> {
        let joined = self.unit.take().expect("a unit was begun");
        let store = self._registration.store;
        let batch = self.batch.expect("a unit runs in a batch");
        if self.is_autocommit() {
            // SQLite rolled the whole transaction back: the batch is gone,
            // with the work of every member.
            self.batch = None;
            let lost = Error::new(ErrorKind::Database {
                message: "SQLite rolled the transaction back after an I/O or disk-full error \
                          inside a unit of work that shared its commit; nothing of it was written"
                    .into(),
            });
            self.publish(batch, Err(lost.clone()));
            return Err(lost);
        }
        let undone = match (end, joined) {
            (UnitEnd::Keep, true) => self.execute("RELEASE custdb_unit"),
            (UnitEnd::Keep, false) => Ok(()),
            (UnitEnd::Undo, true) => self
                .execute("ROLLBACK TO custdb_unit")
                .and_then(|()| self.execute("RELEASE custdb_unit")),
            (UnitEnd::Undo, false) => {
                // The unit began the transaction: nothing else is in it.
                self.batch = None;
                let rolled_back = self.execute("ROLLBACK");
                self.close_batch(batch);
                return rolled_back;
            }
        };
        if let Err(e) = undone {
            // The savepoint could not be released or undone: abandon the
            // whole batch rather than commit something uncertain.
            let _ = self.execute("ROLLBACK");
            self.batch = None;
            self.publish(batch, Err(e.clone()));
            return Err(e);
        }
        let kept = end == UnitEnd::Keep;
        let mut gate = self.lock.gate();
        gate.batch_units += usize::from(kept);
        gate.batch_ran += 1;
        let leave_open = self.lock.group_commit
            && gate.waiting_joinable > 0
            && gate.batch_ran < MAX_UNITS_PER_COMMIT;
        if leave_open {
            // Every unit that ran in the batch waits for its outcome, an
            // undone one too: it saw the work of the units before it, and
            // its caller must not see the store without that work.
            gate.members += 1;
            drop(gate);
            // Released with the transaction open: the next unit joins it.
            let lock = self.lock;
            self.batch = None;
            drop(self);
            let outcome = lock.await_batch(store, batch);
            return if kept { outcome } else { Ok(()) };
        }
        let has_work = gate.batch_units > 0 || gate.members > 0;
        drop(gate);
        if has_work {
            self.finish_batch()
        } else {
            self.batch = None;
            let rolled_back = self.execute("ROLLBACK");
            self.close_batch(batch);
            rolled_back
        }
    }

    /// Whether the connection is outside any transaction.
    fn is_autocommit(&self) -> bool {
        self.conn.as_ref().is_some_and(|conn| conn.is_autocommit())
    }

    /// Commits the open batch, if any, and tells its members the outcome.
    ///
    /// # Errors
    ///
    /// The commit's error (the batch is rolled back then).
    pub(crate) fn finish_batch(&mut self) -> Result<()> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let lock = self.lock;
        lock.commit_open.store(true, Ordering::SeqCst);
        let committed = self.execute("COMMIT");
        lock.commit_open.store(false, Ordering::SeqCst);
        if committed.is_err() && !self.is_autocommit() {
            let _ = self.execute("ROLLBACK");
        }
        if committed.is_ok() {
            lock.commits.tell();
        }
        self.publish(batch, committed.clone());
        committed
    }

    /// Records `outcome` for the members of `batch` and wakes them.
    fn publish(&self, batch: u64, outcome: Result<()>) {
        let mut gate = self.lock.gate();
        let members = gate.members;
        if outcome.is_ok() {
            gate.stats.units += gate.batch_units as u64;
            gate.stats.commits += 1;
        }
        gate.open_batch = None;
        gate.batch_units = 0;
        gate.batch_ran = 0;
        gate.members = 0;
        if members > 0 {
            gate.outcomes.push((batch, outcome, members));
            drop(gate);
            self.lock.settled.notify_all();
        }
    }

    /// Forgets a batch that ended without a commit: it has no members
    /// (only the unit that began it ran in it); should it have any, they
    /// learn that nothing was written rather than wait for ever.
    fn close_batch(&self, batch: u64) {
        self.publish(batch, Err(ended_uncommitted()));
    }
}
impl Deref for WriterGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only emptied in drop.
        self.conn.as_ref().expect("writer held until drop")
    }
}

impl DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("writer held until drop")
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if let Some(joined) = self.unit.take() {
            // The unit never ended: its closure panicked. Undo its work
            // only; the batch it joined stays for its members, unless the
            // undo fails, which abandons the whole batch.
            let batch = self.batch.take();
            let undone = joined
                && self
                    .execute("ROLLBACK TO custdb_unit")
                    .and_then(|()| self.execute("RELEASE custdb_unit"))
                    .is_ok();
            if !undone {
                let _ = self.execute("ROLLBACK");
                if let Some(batch) = batch {
                    self.close_batch(batch);
                }
            }
        }
        let lost = self.is_autocommit();
        let open = self.lock.gate().open_batch;
        if let (Some(batch), true) = (open, lost) {
            // The open batch's transaction is gone: its members learn it.
            self.publish(batch, Err(ended_uncommitted()));
        }
        drop(self.conn.take());
        let mut gate = self.lock.gate();
        gate.taken = false;
        let wake = gate.waiting > 0;
        let orphaned = !wake && gate.open_batch.is_some();
        drop(gate);
        if wake {
            self.lock.freed.notify_one();
        } else if orphaned {
            // Released with a batch open and no one coming: one of its
            // members commits it.
            self.lock.settled.notify_all();
        }
    }
}

/// What the members of a batch whose transaction ended without its commit
/// learn.
fn ended_uncommitted() -> Error {
    Error::new(ErrorKind::Database {
        message: "the transaction of a shared commit ended before its commit; \
                  nothing of it was written"
            .into(),
    })
}

/// The idle connections, and how many threads wait for one (see [`Gate`]
/// for why the count is kept).
struct Idle {
    connections: Vec<Connection>,
    waiting: usize,
}

/// A fixed set of read-only connections shared by the threads that read.
pub(crate) struct ReaderPool {
    idle: Mutex<Idle>,
    returned: Condvar,
    pub(crate) size: usize,
}

impl ReaderPool {
    pub(crate) fn new(connections: Vec<Connection>) -> Self {
        ReaderPool {
            size: connections.len(),
            idle: Mutex::new(Idle {
                connections,
                waiting: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// Takes an idle connection, waiting up to `timeout` for one to be
    /// returned if all are busy.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Reentrant`] when this thread already holds every reader
    /// of this store (the wait would never end); [`ErrorKind::Busy`] when
    /// none comes back within `timeout`.
    pub(crate) fn get(&self, store: usize, timeout: Duration) -> Result<PooledReader<'_>> {
        if holds(store, Hold::Reader) >= self.size {
            return Err(reentrant("read"));
        }
        let deadline = Instant::now() + timeout;
        let mut idle = self.lock();
        loop {
            if let Some(conn) = idle.connections.pop() {
                return Ok(PooledReader {
                    pool: self,
                    conn: Some(conn),
                    _registration: Registration::new(store, Hold::Reader),
                });
            }
            let Some(left) = remaining(deadline) else {
                return Err(Error::new(ErrorKind::Busy));
            };
            idle.waiting += 1;
            idle = self
                .returned
                .wait_timeout(idle, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            idle.waiting -= 1;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection on loan from the pool; it goes back when dropped, even when
/// the reading closure panicked.
pub(crate) struct PooledReader<'p> {
    pool: &'p ReaderPool,
    conn: Option<Connection>,
    _registration: Registration,
}

impl Deref for PooledReader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // The option is only emptied in drop.
        self.conn
            .as_ref()
            .expect("pooled connection present until drop")
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A read transaction left open by a panic is rolled back by its
            // Transaction guard before we get here.
            let mut idle = self.pool.lock();
            idle.connections.push(conn);
            let wake = idle.waiting > 0;
            drop(idle);
            if wake {
                self.pool.returned.notify_one();
            }
        }
    }
}
