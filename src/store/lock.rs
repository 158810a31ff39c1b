//! The waits inside one process: for the writer connection and for a pooled
//! reader. Each wait is bounded (by [`Options::busy_timeout`]), and a wait
//! that could only end when the waiting thread itself let go is refused at
//! once instead of hanging forever.
//!
//! SQLite's own busy handler bounds the waits between processes; these
//! bound the waits between threads of one process, which never reach
//! SQLite because custdb serialises them first.
//!
//! [`Options::busy_timeout`]: crate::Options::busy_timeout

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
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
pub(crate) struct WriterLock {
    taken: Mutex<Gate>,
    freed: Condvar,
    conn: Mutex<Connection>,
}

/// Whether the writer is taken, and how many threads wait for it: a
/// release wakes a waiter only when there is one, since waking costs a
/// system call (std's condition variable always makes it) and most
/// releases have no one waiting.
#[derive(Default)]
struct Gate {
    taken: bool,
    waiting: usize,
}

impl WriterLock {
    pub(crate) fn new(conn: Connection) -> WriterLock {
        WriterLock {
            taken: Mutex::new(Gate::default()),
            freed: Condvar::new(),
            conn: Mutex::new(conn),
        }
    }

    /// Takes the writer connection for `operation` ("write", "read"...),
    /// waiting up to `timeout`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Reentrant`] when this thread already holds the writer of
    /// this store (the wait would never end); [`ErrorKind::Busy`] when
    /// another thread holds it past `timeout`.
    pub(crate) fn lock(
        &self,
        store: usize,
        operation: &'static str,
        timeout: Duration,
    ) -> Result<WriterGuard<'_>> {
        if holds(store, Hold::Writer) > 0 {
            return Err(reentrant(operation));
        }
        let deadline = Instant::now() + timeout;
        let mut gate = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        while gate.taken {
            let Some(left) = remaining(deadline) else {
                return Err(Error::new(ErrorKind::Busy));
            };
            gate.waiting += 1;
            gate = self
                .freed
                .wait_timeout(gate, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            gate.waiting -= 1;
        }
        gate.taken = true;
        drop(gate);
        // A panic inside an earlier unit of work poisons this mutex, but its
        // transaction was rolled back when it unwound, so the connection is
        // sound and the poison can be cleared.
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(WriterGuard {
            lock: self,
            conn: Some(conn),
            _registration: Registration::new(store, Hold::Writer),
        })
    }
}

/// The writer connection, held; released when dropped (also on a panic).
pub(crate) struct WriterGuard<'l> {
    lock: &'l WriterLock,
    conn: Option<MutexGuard<'l, Connection>>,
    _registration: Registration,
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
        drop(self.conn.take());
        let mut gate = self
            .lock
            .taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        gate.taken = false;
        let wake = gate.waiting > 0;
        drop(gate);
        if wake {
            self.lock.freed.notify_one();
        }
    }
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
