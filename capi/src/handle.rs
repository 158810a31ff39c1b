//! The store handle, its per-thread error slots and units of work, and
//! `Cx`, through which every function reaches the database: inside the
//! calling thread's unit of work when one is open, else in its own.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use custdb_core as db;
use db::Store;

use crate::status::*;

/// Which thread a call comes from: a number given to each thread on its
/// first call, never reused. (Not `std::thread::current()`: on a thread
/// that C started, that allocates a handle the thread never frees, which
/// valgrind reports as possibly lost.)
type ThreadKey = u64;

fn thread_key() -> ThreadKey {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static KEY: ThreadKey = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    KEY.with(|k| *k)
}

/// The last error message of each thread that failed a call on a handle:
/// a thread reads its own, whatever the others do meanwhile.
#[derive(Default)]
pub(crate) struct ErrorSlots(Mutex<HashMap<ThreadKey, CString>>);

impl ErrorSlots {
    /// Keeps `message` as the calling thread's last error.
    pub(crate) fn remember(&self, message: CString) {
        if let Ok(mut slots) = self.0.lock() {
            slots.insert(thread_key(), message);
        }
    }

    /// The calling thread's last error, if it had one.
    ///
    /// The pointer stays valid until this thread's next failing call on
    /// the handle: another thread's failure writes another slot, and a
    /// `CString`'s bytes do not move when the map grows.
    pub(crate) fn last_ptr(&self) -> Option<*const c_char> {
        let slots = self.0.lock().ok()?;
        slots.get(&thread_key()).map(|m| m.as_ptr())
    }

    /// A copy of the calling thread's last error ("" when none).
    pub(crate) fn last_copy(&self) -> CString {
        self.0
            .lock()
            .ok()
            .and_then(|slots| slots.get(&thread_key()).cloned())
            .unwrap_or_default()
    }
}

/// The open units of work of a handle, by thread.
pub(crate) type Units = Arc<Mutex<HashMap<ThreadKey, Unit>>>;

/// An open database. Create with `custdb_open`, release with
/// `custdb_close`. One handle may be used from several threads at once.
pub struct custdb_store {
    pub(crate) store: Arc<Store>,
    pub(crate) errors: ErrorSlots,
    /// The open unit of work of each thread that began one (shared with
    /// the actor handles made from this handle, which refuse to run on a
    /// thread that has one open).
    pub(crate) units: Units,
}

/// Settings for `custdb_open`. Not thread-safe; free with
/// `custdb_options_free`.
pub struct custdb_options {
    pub(crate) options: db::Options,
}

impl custdb_store {
    pub(crate) fn new(store: Store) -> custdb_store {
        custdb_store {
            store: Arc::new(store),
            errors: ErrorSlots::default(),
            units: Units::default(),
        }
    }

    /// The calling thread's open unit of work, if any (its job channel and
    /// its state).
    fn unit(&self) -> Result<Option<UnitLink>, Failure> {
        let units = self.units.lock().map_err(|_| poisoned())?;
        Ok(units.get(&thread_key()).map(|u| UnitLink {
            jobs: u.jobs.clone(),
            ended: Arc::clone(&u.ended),
        }))
    }

    /// Begins a unit of work for the calling thread.
    pub(crate) fn begin(&self) -> Result<(), Failure> {
        let me = thread_key();
        let mut units = self.units.lock().map_err(|_| poisoned())?;
        if units.contains_key(&me) {
            return Err(failure(
                CUSTDB_ERR_INVALID_STATE,
                "a unit of work is already open on this thread: commit or roll it back \
                 first (units of work do not nest)",
            ));
        }
        let unit = Unit::begin(Arc::clone(&self.store))?;
        units.insert(me, unit);
        Ok(())
    }

    /// Commits the calling thread's unit of work.
    pub(crate) fn commit(&self) -> Result<(), Failure> {
        let unit = self.take_unit("commit")?;
        unit.commit()
    }

    /// Rolls the calling thread's unit of work back.
    pub(crate) fn rollback(&self) -> Result<(), Failure> {
        self.take_unit("roll back")?;
        // Dropping the unit closes its job channel: the worker returns an
        // error from the write closure, which rolls the transaction back,
        // and the drop waits for it.
        Ok(())
    }

    fn take_unit(&self, what: &str) -> Result<Unit, Failure> {
        let mut units = self.units.lock().map_err(|_| poisoned())?;
        units.remove(&thread_key()).ok_or_else(|| {
            failure(
                CUSTDB_ERR_INVALID_STATE,
                format!(
                    "no unit of work is open on this thread to {what}: call custdb_begin first"
                ),
            )
        })
    }
}

/// Refuses a call that would wait for the unit of work the calling
/// thread has open in `units`.
pub(crate) fn refuse_inside_unit(units: &Units, operation: &str) -> Result<(), Failure> {
    let units = units.lock().map_err(|_| poisoned())?;
    if units.contains_key(&thread_key()) {
        return Err(failure(
            CUSTDB_ERR_REENTRANT,
            format!(
                "{operation} cannot run inside the unit of work this thread began on \
                 this store: commit or roll it back first; nothing was done"
            ),
        ));
    }
    Ok(())
}

fn poisoned() -> Failure {
    failure(
        CUSTDB_ERR_INTERNAL,
        "a lock inside the C API was poisoned by an earlier panic",
    )
}

/// What a function runs on the database, sent to a unit's worker thread.
/// It answers its caller itself and returns whether it panicked.
type Job = Box<dyn FnOnce(&db::WriteTx<'_>) -> bool + Send>;

enum Message {
    Run(Job),
    Commit(mpsc::SyncSender<Result<(), Failure>>),
}

/// How a unit of work ended before its commit, when it did.
type Ended = Arc<Mutex<Option<Failure>>>;

/// A unit of work across calls. The Rust library's unit of work is a
/// closure (`Store::write`); to keep one open across C calls, a worker
/// thread runs that closure and executes, one after another, the calls the
/// owning thread sends it, until the owner commits (the closure returns
/// `Ok`) or rolls back (the channel closes, the closure returns `Err`).
pub(crate) struct Unit {
    jobs: mpsc::Sender<Message>,
    ended: Ended,
    worker: Option<JoinHandle<()>>,
}

/// The part of a unit a call needs, taken out under the map's lock.
struct UnitLink {
    jobs: mpsc::Sender<Message>,
    ended: Ended,
}

/// The worker's reason to leave the write closure: asked to roll back, or
/// a failure that rolled the unit back.
enum Leave {
    RolledBack,
    Lost,
    Failed(Failure),
}

impl From<db::Error> for Leave {
    fn from(e: db::Error) -> Leave {
        Leave::Failed(e.into())
    }
}

impl Unit {
    fn begin(store: Arc<Store>) -> Result<Unit, Failure> {
        let (jobs, inbox) = mpsc::channel::<Message>();
        let (began_tx, began_rx) = mpsc::sync_channel::<Result<(), Failure>>(1);
        let ended: Ended = Arc::new(Mutex::new(None));
        let worker_ended = Arc::clone(&ended);
        let worker = std::thread::Builder::new()
            .name("custdb-unit-of-work".into())
            .spawn(move || Unit::work(&store, &inbox, began_tx, &worker_ended))
            .map_err(|e| {
                failure(
                    CUSTDB_ERR_OTHER,
                    format!("cannot start the unit of work's thread: {e}"),
                )
            })?;
        let unit = Unit {
            jobs,
            ended,
            worker: Some(worker),
        };
        match began_rx.recv() {
            Ok(Ok(())) => Ok(unit),
            Ok(Err(f)) => Err(f),
            Err(_) => Err(failure(
                CUSTDB_ERR_PANIC,
                "custdb panicked while beginning the unit of work",
            )),
        }
    }

    /// The worker thread's body: one `Store::write` around every call of
    /// the unit.
    fn work(
        store: &Store,
        inbox: &mpsc::Receiver<Message>,
        began: mpsc::SyncSender<Result<(), Failure>>,
        ended: &Ended,
    ) {
        let mut began = Some(began);
        let mut commit_reply = None;
        let outcome: Result<(), Leave> = store.write(|tx| {
            if let Some(b) = began.take() {
                let _ = b.send(Ok(()));
            }
            loop {
                match inbox.recv() {
                    Ok(Message::Run(job)) => {
                        let panicked = catch_unwind(AssertUnwindSafe(|| job(tx))).unwrap_or(true);
                        let lost = if panicked {
                            Some("custdb panicked inside it")
                        } else if !tx.is_open() {
                            Some("SQLite rolled it back after an I/O or disk-full error inside it")
                        } else {
                            None
                        };
                        if let Some(reason) = lost {
                            // Recorded before the closure returns, so a call
                            // that finds the channel closed finds the reason.
                            let f = failure(CUSTDB_ERR_INVALID_STATE, reason);
                            if let Ok(mut slot) = ended.lock() {
                                *slot = Some(f);
                            }
                            return Err(Leave::Lost);
                        }
                    }
                    Ok(Message::Commit(reply)) => {
                        commit_reply = Some(reply);
                        return Ok(());
                    }
                    Err(_) => return Err(Leave::RolledBack),
                }
            }
        });
        let failed = match outcome {
            Ok(()) => None,
            Err(Leave::RolledBack | Leave::Lost) => return,
            Err(Leave::Failed(f)) => Some(f),
        };
        if let Some(b) = began.take() {
            // The write never started (busy, read-only, reentrant...).
            let _ = b.send(Err(failed.unwrap_or_else(|| {
                failure(
                    CUSTDB_ERR_INTERNAL,
                    "the unit of work ended before it began",
                )
            })));
            return;
        }
        match (commit_reply, failed) {
            (Some(reply), failed) => {
                let _ = reply.send(failed.map_or(Ok(()), Err));
            }
            // A failure without a commit or a job is the write's own
            // (none today): keep it for the next call.
            (None, Some(f)) => {
                if let Ok(mut slot) = ended.lock() {
                    *slot = Some(f);
                }
            }
            (None, None) => {}
        }
    }

    fn commit(mut self) -> Result<(), Failure> {
        if let Some(f) = self.ended_failure() {
            // The unit is over either way: the caller took it out.
            return Err(failure(
                f.status,
                f.message
                    .replace("custdb_rollback ends it", "it is over now"),
            ));
        }
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let sent = self.jobs.send(Message::Commit(reply_tx));
        let result = match (sent, reply_rx.recv()) {
            (Ok(()), Ok(result)) => result,
            _ => Err(self.ended_failure().unwrap_or_else(|| {
                failure(
                    CUSTDB_ERR_PANIC,
                    "custdb panicked while committing; nothing was committed",
                )
            })),
        };
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        result
    }

    /// Why the unit ended early, as the failure of a call made after it.
    fn ended_failure(&self) -> Option<Failure> {
        ended_failure(&self.ended)
    }
}

fn ended_failure(ended: &Ended) -> Option<Failure> {
    let slot = ended.lock().ok()?;
    slot.as_ref().map(|f| {
        failure(
            CUSTDB_ERR_INVALID_STATE,
            format!(
                "the unit of work was rolled back ({}); nothing of it was written, and \
                 custdb_rollback ends it",
                f.message
            ),
        )
    })
}

impl Drop for Unit {
    fn drop(&mut self) {
        // Close the channel (the worker rolls back), then wait for it, so
        // the writer lock is free when the drop returns.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Where a call runs: the calling thread's unit of work on this handle
/// when one is open, else a unit of work of its own.
pub(crate) struct Cx<'h> {
    handle: &'h custdb_store,
}

impl<'h> Cx<'h> {
    pub(crate) fn new(handle: &'h custdb_store) -> Cx<'h> {
        Cx { handle }
    }

    /// The handle (for its units of work).
    pub(crate) fn handle(&self) -> &'h custdb_store {
        self.handle
    }

    /// The store, for operations that read committed data on a connection
    /// of their own and so may run while the thread has a unit open
    /// (backup, vacuum).
    pub(crate) fn store(&self) -> &'h Store {
        &self.handle.store
    }

    /// Runs a write: inside the thread's unit of work, or as its own.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&db::WriteTx<'_>) -> db::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        match self.handle.unit()? {
            // One C call: it may share a commit with other threads' calls.
            None => Ok(self.handle.store.write_call(f)?),
            Some(unit) => run_in(&unit, f),
        }
    }

    /// Runs a read: inside the thread's unit of work (seeing its writes),
    /// or on a snapshot of its own.
    pub(crate) fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&db::ReadTx<'_>) -> db::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        match self.handle.unit()? {
            None => Ok(self.handle.store.read(f)?),
            Some(unit) => run_in(&unit, move |tx| f(&tx.reads())),
        }
    }

    /// The store itself, for operations that are a unit of work (or
    /// several) on their own and so cannot join one: backup, erasure,
    /// retention, import, check.
    pub(crate) fn outside_unit(&self, operation: &str) -> Result<&'h Store, Failure> {
        refuse_inside_unit(&self.handle.units, operation)?;
        Ok(&self.handle.store)
    }
}

/// Sends `f` to a unit's worker and waits for its answer.
fn run_in<T: Send + 'static>(
    unit: &UnitLink,
    f: impl FnOnce(&db::WriteTx<'_>) -> db::Result<T> + Send + 'static,
) -> Result<T, Failure> {
    if let Some(f) = ended_failure(&unit.ended) {
        return Err(f);
    }
    let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<T, Failure>>(1);
    let job: Job = Box::new(move |tx| match catch_unwind(AssertUnwindSafe(|| f(tx))) {
        Ok(result) => {
            let _ = reply_tx.send(result.map_err(Failure::from));
            false
        }
        Err(_) => {
            let _ = reply_tx.send(Err(failure(
                CUSTDB_ERR_PANIC,
                "custdb panicked; the unit of work this call was part of was rolled back",
            )));
            true
        }
    });
    if unit.jobs.send(Message::Run(job)).is_err() {
        return Err(ended_failure(&unit.ended).unwrap_or_else(|| {
            failure(
                CUSTDB_ERR_INVALID_STATE,
                "the unit of work ended; end it with custdb_rollback",
            )
        }));
    }
    match reply_rx.recv() {
        Ok(result) => result,
        Err(_) => Err(ended_failure(&unit.ended).unwrap_or_else(|| {
            failure(
                CUSTDB_ERR_PANIC,
                "custdb panicked inside the unit of work, which was rolled back",
            )
        })),
    }
}
