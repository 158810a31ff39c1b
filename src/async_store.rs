//! The async facade (feature `tokio`): [`AsyncStore`] runs custdb's
//! synchronous units of work on tokio's blocking pool, so that an async web
//! handler can `await` one without stalling the runtime's worker threads.
//!
//! custdb itself stays synchronous: SQLite calls block, and a unit of work
//! is short (microseconds to milliseconds). Moving each one to a blocking
//! thread is what tokio recommends for such work, and it keeps one
//! implementation of every operation. docs/ASYNC.md says how to use it.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Options, Store};
use crate::unit::{Actor, ReadTx, WriteTx};

/// A [`Store`] for async code: every call runs the synchronous store on
/// tokio's blocking pool ([`tokio::task::spawn_blocking`]) and awaits it.
///
/// It is cheap to clone (a clone shares the store, as [`Store`] clones do):
/// give one to every handler. The closures must be `Send + 'static`, so
/// move owned data into them (an order parsed from a request), not
/// borrows.
///
/// A unit of work that has started is not cancelled when its future is
/// dropped (a client that disconnects, a `select!` that takes another
/// branch): it runs to its end on the blocking thread, committing or
/// rolling back as usual, and only its result is lost. Read the record
/// again (or use an idempotency key, as order placement does) to learn
/// what happened.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), custdb::Error> {
/// use custdb::{AsyncStore, NewCustomer};
///
/// let store = AsyncStore::open_in_memory().await?;
/// let ann = store
///     .write(|tx| tx.customers().create(NewCustomer::new("Ann")))
///     .await?;
/// let again = store.read(move |r| r.customers().get(ann.id)).await?;
/// assert_eq!(again.display_name, "Ann");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncStore {
    store: Store,
}

impl AsyncStore {
    /// Wraps an open store.
    pub fn new(store: Store) -> AsyncStore {
        AsyncStore { store }
    }

    /// Opens (creating and migrating if needed) the file at `path` with
    /// default options, as [`Store::open`], on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Store::open`].
    pub async fn open(path: impl AsRef<Path>) -> Result<AsyncStore> {
        let path = path.as_ref().to_owned();
        blocking(move || Store::open(path))
            .await
            .map(AsyncStore::new)
    }

    /// Opens the file at `path` with `options`, as [`Store::open_with`].
    ///
    /// # Errors
    ///
    /// As [`Store::open_with`].
    pub async fn open_with(path: impl AsRef<Path>, options: Options) -> Result<AsyncStore> {
        let path = path.as_ref().to_owned();
        blocking(move || Store::open_with(path, options))
            .await
            .map(AsyncStore::new)
    }

    /// A fresh in-memory store, as [`Store::open_in_memory`].
    ///
    /// # Errors
    ///
    /// As [`Store::open_in_memory`].
    pub async fn open_in_memory() -> Result<AsyncStore> {
        blocking(Store::open_in_memory).await.map(AsyncStore::new)
    }

    /// The synchronous store, for code that is already on a blocking
    /// thread. Calling it from async code blocks a runtime worker.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs `f` as one write transaction ([`Store::write`]) on the blocking
    /// pool.
    ///
    /// # Errors
    ///
    /// As [`Store::write`]; [`ErrorKind::Internal`] when the runtime shut
    /// down before the unit of work could run (nothing was written). A
    /// panic inside `f` resumes in the awaiting task.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.clone();
        flatten(blocking(move || Ok(store.write(f))).await)
    }

    /// Runs `f` as one write transaction recorded under `actor`
    /// ([`Store::write_as`]) on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`write`](AsyncStore::write).
    pub async fn write_as<T, E, F>(&self, actor: Actor, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&WriteTx<'_>) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.clone();
        flatten(blocking(move || Ok(store.write_as(&actor, f))).await)
    }

    /// Runs `f` in a read transaction ([`Store::read`]) on the blocking
    /// pool.
    ///
    /// # Errors
    ///
    /// As [`write`](AsyncStore::write).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.clone();
        flatten(blocking(move || Ok(store.read(f))).await)
    }

    /// [`Store::read_fresh`] on the blocking pool: a read that sees every
    /// write that returned before it, on the primary when reads otherwise
    /// go to a standby.
    ///
    /// # Errors
    ///
    /// As [`read`](AsyncStore::read).
    pub async fn read_fresh<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&ReadTx<'_>) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.clone();
        flatten(blocking(move || Ok(store.read_fresh(f))).await)
    }

    /// Runs any synchronous call on the store (a one-shot
    /// `store.customers().create(..)`, `check()`, a backup, an import) on
    /// the blocking pool.
    ///
    /// # Errors
    ///
    /// The error `f` returns; as [`write`](AsyncStore::write) when the
    /// runtime shut down.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
    {
        let store = self.store.clone();
        flatten(blocking(move || Ok(f(&store))).await)
    }
}

impl From<Store> for AsyncStore {
    fn from(store: Store) -> AsyncStore {
        AsyncStore::new(store)
    }
}

/// Runs `f` on the blocking pool; a panic in it resumes here.
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => Err(Error::new(ErrorKind::Internal {
            reason: "the tokio runtime shut down before the call could run; nothing was done"
                .into(),
        })),
    }
}

fn flatten<T, E: From<Error>>(outer: Result<Result<T, E>>) -> Result<T, E> {
    outer.map_err(E::from)?
}
