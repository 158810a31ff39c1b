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

impl AsyncStore {
    /// The change feed for async code (docs/CHANGES.md): each call runs
    /// the synchronous [`StoreChanges`](crate::StoreChanges) call on the
    /// blocking pool.
    pub fn changes(&self) -> AsyncChanges {
        AsyncChanges {
            store: self.store.clone(),
        }
    }
}

/// The change feed of an [`AsyncStore`]: [`StoreChanges`](crate::StoreChanges)
/// on tokio's blocking pool. A [`wait`](AsyncChanges::wait) whose future is
/// dropped keeps its blocking thread until its timeout; prefer short
/// timeouts in a loop.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), custdb::Error> {
/// use custdb::{AsyncStore, ConsumerStart, NewCustomer};
///
/// let store = AsyncStore::open_in_memory().await?;
/// let feed = store.changes();
/// feed.create_consumer("mailer", ConsumerStart::Now).await?;
/// store.run(|s| s.customers().create(NewCustomer::new("Ann"))).await?;
/// let events = feed.wait("mailer", 100, 5_000).await?;
/// assert_eq!(events[0].kind.as_str(), "customer.created");
/// feed.ack("mailer", events[0].position).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncChanges {
    store: Store,
}

impl AsyncChanges {
    async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        blocking(move || f(&store)).await
    }

    /// [`StoreChanges::create_consumer`](crate::StoreChanges::create_consumer).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn create_consumer(
        &self,
        name: impl Into<String>,
        start: crate::ConsumerStart,
    ) -> Result<crate::Consumer> {
        let name = name.into();
        self.call(move |s| s.changes().create_consumer(&name, start))
            .await
    }

    /// [`StoreChanges::drop_consumer`](crate::StoreChanges::drop_consumer).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn drop_consumer(&self, name: impl Into<String>) -> Result<()> {
        let name = name.into();
        self.call(move |s| s.changes().drop_consumer(&name)).await
    }

    /// [`StoreChanges::poll`](crate::StoreChanges::poll).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn poll(
        &self,
        name: impl Into<String>,
        limit: usize,
    ) -> Result<Vec<crate::ChangeEvent>> {
        let name = name.into();
        self.call(move |s| s.changes().poll(&name, limit)).await
    }

    /// [`StoreChanges::wait`](crate::StoreChanges::wait).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn wait(
        &self,
        name: impl Into<String>,
        limit: usize,
        timeout_ms: u64,
    ) -> Result<Vec<crate::ChangeEvent>> {
        let name = name.into();
        self.call(move |s| s.changes().wait(&name, limit, timeout_ms))
            .await
    }

    /// [`StoreChanges::ack`](crate::StoreChanges::ack).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn ack(&self, name: impl Into<String>, position: i64) -> Result<crate::Consumer> {
        let name = name.into();
        self.call(move |s| s.changes().ack(&name, position)).await
    }

    /// [`StoreChanges::status`](crate::StoreChanges::status).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn status(&self) -> Result<crate::FeedStatus> {
        self.call(|s| s.changes().status()).await
    }

    /// [`StoreChanges::consumer`](crate::StoreChanges::consumer).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn consumer(&self, name: impl Into<String>) -> Result<crate::Consumer> {
        let name = name.into();
        self.call(move |s| s.changes().consumer(&name)).await
    }

    /// [`StoreChanges::head`](crate::StoreChanges::head).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn head(&self) -> Result<i64> {
        self.call(|s| s.changes().head()).await
    }

    /// [`StoreChanges::after`](crate::StoreChanges::after).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn after(&self, after: i64, limit: usize) -> Result<Vec<crate::ChangeEvent>> {
        self.call(move |s| s.changes().after(after, limit)).await
    }

    /// [`StoreChanges::set_retention`](crate::StoreChanges::set_retention).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn set_retention(
        &self,
        retention: crate::FeedRetention,
    ) -> Result<crate::FeedRetention> {
        self.call(move |s| s.changes().set_retention(retention))
            .await
    }

    /// [`StoreChanges::prune`](crate::StoreChanges::prune).
    ///
    /// # Errors
    ///
    /// As the synchronous call.
    pub async fn prune(&self, max_events: usize) -> Result<crate::PruneReport> {
        self.call(move |s| s.changes().prune(max_events)).await
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
