//! The async facade (feature `tokio`): units of work awaited from many
//! tasks at once keep every guarantee of the synchronous store.
//! Run: `cargo test --features tokio,postgres --test async_store` (without
//! `postgres`, the PostgreSQL test is left out).

use custdb::{
    AsyncStore, Currency, Error, ErrorKind, NewCustomer, NewOrder, NewOrderLine, NewProduct,
    NewVariant, NewWarehouse, VariantId,
};

async fn scarce_shop(units: i64) -> (tempfile::TempDir, AsyncStore, VariantId) {
    let dir = tempfile::tempdir().unwrap();
    let store = AsyncStore::open(dir.path().join("shop.db")).await.unwrap();
    let variant = store
        .write(move |tx| {
            let p = tx
                .catalog()
                .create_product(NewProduct::new("Teapot").variant(NewVariant::new(
                    "POT",
                    "24.00".parse().unwrap(),
                    Currency::GBP,
                )))?;
            let w = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("main", "Main"))?;
            tx.inventory().receive(p.variants[0].id, w.id, units)?;
            Ok::<_, Error>(p.variants[0].id)
        })
        .await
        .unwrap();
    (dir, store, variant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_on_scarce_stock_sell_exactly_the_stock() {
    let (_dir, store, variant) = scarce_shop(5).await;
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| {
                        let c = tx.customers().create(
                            NewCustomer::new(format!("Buyer {n}"))
                                .email(format!("buyer{n}@example.com")),
                        )?;
                        tx.orders().place(
                            NewOrder::for_customer(c.id, Currency::GBP)
                                .line(NewOrderLine::new("POT", 1)),
                        )
                    })
                    .await
            })
        })
        .collect();
    let mut sold = 0;
    let mut short = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(order) => {
                assert_eq!(order.lines[0].quantity, 1);
                sold += 1;
            }
            Err(e) if e.is_shortfall() => short += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((sold, short), (5, 3));
    let available = store
        .read(move |r| r.inventory().available(variant))
        .await
        .unwrap();
    assert_eq!(available, 0);
    // A shortfall rolled back its whole unit of work, customer included.
    let customers = store
        .read(|r| r.customers().list(&Default::default(), None, 100))
        .await
        .unwrap();
    assert_eq!(customers.items.len(), 5);
    let report = store.run(|s| s.check()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[derive(Debug)]
enum AppError {
    Db(Error),
    Refused(&'static str),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_applications_own_error_aborts_and_comes_back() {
    let (_dir, store, _) = scarce_shop(1).await;
    let result = store
        .write(|tx| {
            tx.customers().create(NewCustomer::new("Ann"))?;
            Err::<(), _>(AppError::Refused("not today"))
        })
        .await;
    assert!(matches!(result, Err(AppError::Refused("not today"))));
    let err = store
        .run(|s| s.customers().get_by_email("ann@example.com"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "nothing was written: {err}");
    // custdb's errors arrive through the same type.
    let err = store
        .write(|tx| {
            tx.customers()
                .create(NewCustomer::new("Bob").email("not-an-email"))?;
            Ok::<_, AppError>(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Db(ref e) if e.field() == Some("email")));
}

#[tokio::test(flavor = "current_thread")]
async fn a_panic_in_a_unit_of_work_resumes_in_the_task_and_writes_nothing() {
    let (_dir, store, _) = scarce_shop(1).await;
    let inner = store.clone();
    let outcome = tokio::spawn(async move {
        inner
            .write(|tx| {
                tx.customers().create(NewCustomer::new("Ann"))?;
                panic!("handler bug");
                #[allow(unreachable_code)]
                Ok::<_, Error>(())
            })
            .await
    })
    .await;
    assert!(outcome.unwrap_err().is_panic());
    let customers = store
        .read(|r| r.customers().list(&Default::default(), None, 10))
        .await
        .unwrap();
    assert!(customers.items.is_empty());
    // The store is usable afterwards.
    store
        .write(|tx| tx.customers().create(NewCustomer::new("Bob")))
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_call_inside_an_async_unit_of_work_is_reentrant_not_a_hang() {
    let (_dir, store, _) = scarce_shop(1).await;
    let sync = store.store().clone();
    let err = store
        .write(move |_| sync.customers().create(NewCustomer::new("Inner")).map(drop))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Reentrant { .. }), "{err}");
}

/// The facade wraps either engine: eight tasks on a PostgreSQL store, one
/// email contested (run with `--features tokio,postgres`; skipped loudly
/// without PostgreSQL's server binaries, a failure under `CI=true`).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_on_a_postgres_store() {
    let Some(cluster) = custdb_pgcluster::cluster() else {
        return;
    };
    let database = cluster.empty_database();
    let store =
        AsyncStore::new(custdb::Store::open_postgres(&cluster.connection(&database)).unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| {
                        tx.customers()
                            .create(NewCustomer::new(format!("Task {n}")))?;
                        tx.customers().create(
                            NewCustomer::new(format!("Claimant {n}")).email("one@example.com"),
                        )
                    })
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) if e.is_already_exists() => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1, "one task got the email");
    let customers = store
        .read(|r| r.customers().list(&Default::default(), None, 100))
        .await
        .unwrap();
    // The losers' units of work rolled back whole.
    assert_eq!(customers.items.len(), 2);
    let fresh = store
        .read_fresh(|r| r.customers().list(&Default::default(), None, 100))
        .await
        .unwrap();
    assert_eq!(fresh.items, customers.items);
    let audit = store.run(|s| s.verify_audit()).await.unwrap();
    assert!(audit.is_ok());
    assert_eq!(audit.entries, 2);
}

/// The change feed from async code: a task waits for events while other
/// tasks write, acknowledges them, and sees each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_async_consumer_follows_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = AsyncStore::open(dir.path().join("feed.db")).await.unwrap();
    let feed = store.changes();
    feed.create_consumer("follower", custdb::ConsumerStart::Now)
        .await
        .unwrap();
    let writers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..5 {
                    store
                        .run(move |s| s.customers().create(NewCustomer::new(format!("T{n}-{i}"))))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < 20 && std::time::Instant::now() < deadline {
        let events = feed.wait("follower", 100, 1_000).await.unwrap();
        if let Some(last) = events.last() {
            feed.ack("follower", last.position).await.unwrap();
        }
        seen.extend(events.into_iter().map(|e| e.entity_id));
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(seen.len(), 20, "each event once");
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 20);
    assert!(feed.poll("follower", 10).await.unwrap().is_empty());
    let bad = feed.wait("follower", 0, 10).await.unwrap_err();
    assert_eq!(bad.field(), Some("limit"));
}
