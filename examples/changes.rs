//! Keeping two other systems in step through the change feed
//! (docs/CHANGES.md), with a shop writing all the while:
//!
//! - a **mirror**: a read model of customers and orders in two JSON Lines
//!   files, rebuilt from scratch the supported way (an export and the
//!   feed's position in one snapshot, then the feed from that position);
//! - **webhooks**: every event posted to an HTTP endpoint (a receiver on
//!   127.0.0.1 started by this program) with an HMAC-SHA256 signature
//!   header, retried with exponential backoff, and set aside as a dead
//!   letter when it keeps failing. The receiver checks each signature,
//!   fails some first attempts on purpose, and refuses cancellations for
//!   good, so every path runs.
//!
//! The program starts everything, waits until both consumers have caught
//! up with the shop, checks the mirror against the store, and stops.
//!
//! Run: `cargo run --example changes`

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use custdb::{
    ArchiveState, ChangeEvent, ChangeKind, ConsumerStart, Currency, CustomerFilter, CustomerId,
    CustomerPatch, NewCustomer, NewOrder, NewOrderLine, NewPayment, NewProduct, NewShipment,
    NewVariant, NewWarehouse, OrderId, Page, PaymentMethod, Store,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The secret the sender and the receiver share (in a real deployment: from
/// the receiver's configuration, never in code).
const WEBHOOK_SECRET: &[u8] = b"example-shared-secret";
/// The header carrying `sha256=<hex of HMAC-SHA256(secret, body)>`.
const SIGNATURE_HEADER: &str = "x-custdb-signature";
/// Attempts per refused event before it becomes a dead letter.
const MAX_ATTEMPTS: u32 = 5;
/// Attempts while the receiver is failing before the consumer stops (and
/// resumes from the same event on its next run).
const MAX_OUTAGE_ATTEMPTS: u32 = 20;
/// The first retry's pause; each later one doubles it, up to
/// [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u64 = 20;
/// The longest pause between two attempts.
const MAX_BACKOFF_MS: u64 = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("shop.db"))?;
    let shop = Shop::stock(&store)?;
    // Some history before the mirror exists.
    for i in 0..5 {
        shop.sale(&store, i)?;
    }

    // The mirror is rebuilt from an export plus the feed from the export's
    // position; the webhooks start with what happens from now on.
    let mirror_dir = dir.path().join("mirror");
    std::fs::create_dir_all(&mirror_dir)?;
    let mut mirror = Mirror::from_export(&store, &mirror_dir)?;
    store
        .changes()
        .create_consumer("mirror", ConsumerStart::After(mirror.position))?;
    store
        .changes()
        .create_consumer("webhooks", ConsumerStart::Now)?;

    let receiver = Receiver::start()?;
    let dead_letters = dir.path().join("dead-letters.jsonl");
    let writing_done = AtomicBool::new(false);
    let (mirror_report, webhook_report) = std::thread::scope(|s| {
        let writer = s.spawn(|| -> custdb::Result<()> {
            for i in 5..25 {
                shop.sale(&store, i)?;
            }
            // A customer asks to be forgotten: the mirror must forget them
            // too, in their orders as well (their events carry no personal
            // data; the mirror reads the records again).
            let first = shop.customers.lock().expect("lock")[0];
            store.erase_customer(first)?;
            Ok(())
        });
        let mirror_thread = s.spawn(|| mirror.follow(&store, &writing_done));
        let webhook_thread =
            s.spawn(|| deliver_webhooks(&store, &receiver.url, &dead_letters, &writing_done));
        let written = writer.join().expect("writer");
        writing_done.store(true, Ordering::SeqCst);
        (
            written.and(mirror_thread.join().expect("mirror")),
            webhook_thread.join().expect("webhooks"),
        )
    });
    let mirror_events = mirror_report?;
    let webhooks = webhook_report?;
    let received = receiver.stop();

    // The mirror equals the store.
    mirror.check_against(&store)?;
    println!(
        "mirror: {} events applied; {} customers and {} orders in {}",
        mirror_events,
        mirror.customers.len(),
        mirror.orders.len(),
        mirror_dir.display()
    );
    println!(
        "webhooks: {} events delivered ({} retries), {} dead letters in {}; the receiver \
         accepted {} signed deliveries and saw {} with a bad signature",
        webhooks.delivered,
        webhooks.retries,
        webhooks.dead,
        dead_letters.display(),
        received.accepted,
        received.bad_signatures
    );
    assert_eq!(received.bad_signatures, 0);
    assert!(webhooks.dead > 0, "cancellations are refused for good");
    assert!(webhooks.retries > 0, "some first attempts fail");
    assert_eq!(received.accepted, webhooks.delivered);
    let status = store.changes().status()?;
    for c in &status.consumers {
        assert_eq!(c.position, status.head, "{} caught up", c.name);
    }
    println!(
        "both consumers at position {}; stopping (the files lived in a temporary directory, \
         removed now)",
        status.head
    );
    Ok(())
}

/// The shop: a catalog, stock, and a sale that writes a mix of changes.
struct Shop {
    customers: Mutex<Vec<CustomerId>>,
}

impl Shop {
    fn stock(store: &Store) -> custdb::Result<Shop> {
        store.write(|tx| {
            let product = tx
                .catalog()
                .create_product(NewProduct::new("Teapot").variant(NewVariant::new(
                    "POT",
                    "24.00".parse().expect("decimal"),
                    Currency::GBP,
                )))?;
            let warehouse = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("main", "Main"))?;
            tx.inventory()
                .receive(product.variants[0].id, warehouse.id, 1_000)?;
            Ok(())
        })?;
        Ok(Shop {
            customers: Mutex::new(Vec::new()),
        })
    }

    /// Sale `i`: a new customer (every other sale), an order, a payment,
    /// and then a shipment, or (every fifth sale) a cancellation.
    fn sale(&self, store: &Store, i: usize) -> custdb::Result<()> {
        let customer = {
            let mut known = self.customers.lock().expect("lock");
            if i.is_multiple_of(2) || known.is_empty() {
                let c = store.customers().create(
                    NewCustomer::new(format!("Customer {i}"))
                        .email(format!("customer{i}@example.com")),
                )?;
                known.push(c.id);
            }
            known[i % known.len()]
        };
        if i.is_multiple_of(3) {
            let c = store.customers().get(customer)?;
            store.customers().update(
                customer,
                c.version,
                CustomerPatch::default().company(format!("Company {i}")),
            )?;
        }
        let order = store.orders().place(
            NewOrder::for_customer(customer, Currency::GBP)
                .line(NewOrderLine::new("POT", 1 + (i as i64 % 3))),
        )?;
        if i % 5 == 4 {
            store.orders().cancel(order.id, "changed their mind")?;
        } else {
            store.orders().pay(
                order.id,
                NewPayment::new(PaymentMethod::Card, order.total.amount),
            )?;
            store
                .orders()
                .ship(order.id, NewShipment::everything("DHL", format!("T{i}")))?;
        }
        Ok(())
    }
}

/// A read model of customers and orders, kept as two JSON Lines files
/// (`customers.jsonl`, `orders.jsonl`: one current record per line).
struct Mirror {
    dir: PathBuf,
    position: i64,
    customers: BTreeMap<String, serde_json::Value>,
    orders: BTreeMap<String, serde_json::Value>,
}

impl Mirror {
    /// Rebuilds the mirror from an export: the records and the feed's
    /// position, read in one snapshot.
    fn from_export(store: &Store, dir: &Path) -> custdb::Result<Mirror> {
        let mirror = Mirror::export(store, dir)?;
        mirror.save()?;
        println!(
            "mirror: exported {} customers and {} orders at feed position {}",
            mirror.customers.len(),
            mirror.orders.len(),
            mirror.position
        );
        Ok(mirror)
    }

    /// The export itself, in memory.
    fn export(store: &Store, dir: &Path) -> custdb::Result<Mirror> {
        let mut mirror = Mirror {
            dir: dir.to_owned(),
            position: 0,
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
        };
        let position = store.read(|r| {
            let every = CustomerFilter::default().archived(ArchiveState::All);
            for c in Page::all(|after| r.customers().list(&every, after, 500)) {
                let c = c?;
                mirror.customers.insert(c.id.to_string(), json(&c));
            }
            r.orders().each_order(|o| {
                mirror.orders.insert(o.id.to_string(), json(&o));
                Ok(())
            })?;
            r.changes().head()
        })?;
        mirror.position = position;
        Ok(mirror)
    }

    /// Follows the feed until the shop has stopped writing and every event
    /// is applied; returns the number of events applied.
    fn follow(&mut self, store: &Store, writing_done: &AtomicBool) -> custdb::Result<usize> {
        let mut applied = 0;
        loop {
            let done = writing_done.load(Ordering::SeqCst);
            let events = store.changes().wait("mirror", 200, 200)?;
            if events.is_empty() {
                if done {
                    return Ok(applied);
                }
                continue;
            }
            for e in &events {
                self.apply(store, e)?;
            }
            // Saved before the acknowledgement: a crash in between applies
            // the batch again, which rewrites the same records.
            self.save()?;
            let last = events.last().expect("not empty").position;
            store.changes().ack("mirror", last)?;
            self.position = last;
            applied += events.len();
        }
    }

    /// Reads the record the event names (the feed carries ids and facts,
    /// no personal data) and stores its current state.
    ///
    /// Some events change other records too (docs/CHANGES.md, "Events
    /// that change other records"): an erasure or a merge also rewrites
    /// the customer's orders, so they are read again; a retention run may
    /// change many records, so the mirror is rebuilt from an export.
    fn apply(&mut self, store: &Store, e: &ChangeEvent) -> custdb::Result<()> {
        let kind = e.kind.as_str();
        if kind == "retention_rule.applied" {
            let fresh = Mirror::export(store, &self.dir)?;
            self.customers = fresh.customers;
            self.orders = fresh.orders;
        } else if kind.starts_with("customer.") {
            let id = CustomerId::parse(&e.entity_id, "entity_id")?;
            let c = store.customers().get(id)?;
            self.customers.insert(e.entity_id.clone(), json(&c));
            if matches!(
                e.kind,
                ChangeKind::CustomerErased
                    | ChangeKind::CustomerMerged
                    | ChangeKind::CustomerMergedInto
            ) {
                self.refresh_orders_of(store, id)?;
            }
        } else if kind.starts_with("order.") {
            let id = OrderId::parse(&e.entity_id, "entity_id")?;
            let o = store.orders().get(id)?;
            self.orders.insert(e.entity_id.clone(), json(&o));
        }
        Ok(())
    }

    /// Reads every order of a customer again.
    fn refresh_orders_of(&mut self, store: &Store, customer: CustomerId) -> custdb::Result<()> {
        let ids: Vec<OrderId> = store.read(|r| {
            Page::all(|after| r.orders().history(customer, after, 500))
                .map(|o| o.map(|o| o.id))
                .collect()
        })?;
        for id in ids {
            let o = store.orders().get(id)?;
            self.orders.insert(id.to_string(), json(&o));
        }
        Ok(())
    }

    fn save(&self) -> custdb::Result<()> {
        write_lines(&self.dir.join("customers.jsonl"), self.customers.values())?;
        write_lines(&self.dir.join("orders.jsonl"), self.orders.values())
    }

    /// The mirror holds exactly the store's customers and orders, as they
    /// are now.
    fn check_against(&self, store: &Store) -> custdb::Result<()> {
        let fresh = Mirror::export(store, &self.dir)?;
        assert_eq!(
            self.customers.keys().collect::<BTreeSet<_>>(),
            fresh.customers.keys().collect::<BTreeSet<_>>()
        );
        assert_eq!(self.customers, fresh.customers, "customers differ");
        assert_eq!(self.orders, fresh.orders, "orders differ");
        Ok(())
    }
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("custdb's records serialise")
}

/// Writes `lines` to `path` whole: to a temporary file first, renamed over
/// the old one, so a reader never sees half a mirror.
fn write_lines<'a>(
    path: &Path,
    lines: impl Iterator<Item = &'a serde_json::Value>,
) -> custdb::Result<()> {
    #[allow(clippy::redundant_closure)]
    let io = |e: std::io::Error| custdb::Error::other(e);
    let partial = path.with_extension("jsonl.partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
    for line in lines {
        serde_json::to_writer(&mut out, line).map_err(custdb::Error::other)?;
        out.write_all(b"\n").map_err(io)?;
    }
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

/// What the webhook consumer did.
#[derive(Default)]
struct Deliveries {
    delivered: usize,
    retries: usize,
    dead: usize,
}

/// `sha256=` and the hex of HMAC-SHA256 over `body` with the shared secret.
fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET).expect("any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// How one delivery attempt ended.
enum Attempt {
    Delivered,
    /// The receiver refused this event (a 4xx answer other than 408 and
    /// 429): sending it again will not help.
    Refused(String),
    /// The receiver or the network failed (5xx, 408, 429, a timeout, a
    /// refused connection): worth trying again later.
    Failed(String),
}

fn attempt(agent: &ureq::Agent, url: &str, body: &[u8], signed: &str) -> Attempt {
    match agent
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signed)
        .send(body)
    {
        Ok(r) if r.status().is_success() => Attempt::Delivered,
        Ok(r) if r.status().is_client_error() && ![408, 429].contains(&r.status().as_u16()) => {
            Attempt::Refused(format!("HTTP {}", r.status()))
        }
        Ok(r) => Attempt::Failed(format!("HTTP {}", r.status())),
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

/// Whether `header` is `sha256=<hex>` of the body's HMAC, compared in
/// constant time (`verify_slice`), so that the answer's timing tells an
/// attacker nothing about the expected signature.
fn signature_matches(body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let Ok(bytes) = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET).expect("any key length");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// Posts every event to `url`, in order, each with its signature.
///
/// - A refused event (4xx) is tried [`MAX_ATTEMPTS`] times, then written
///   to the dead letters with its last answer (synced to disk before the
///   acknowledgement, so a crash never loses it) and passed over.
/// - A failure of the receiver or the network is retried with exponential
///   backoff (from [`FIRST_BACKOFF_MS`], doubling, capped at
///   [`MAX_BACKOFF_MS`]) and never dead-lettered: an outage must not turn
///   every event sent meanwhile into a dead letter. After
///   [`MAX_OUTAGE_ATTEMPTS`] the consumer stops without acknowledging, and
///   resumes from the same event when it is started again.
///
/// Acknowledges after each event's outcome, so a restart resends at most
/// the event in flight (the receiver dedupes by position).
fn deliver_webhooks(
    store: &Store,
    url: &str,
    dead_letters: &Path,
    writing_done: &AtomicBool,
) -> custdb::Result<Deliveries> {
    #[allow(clippy::redundant_closure)]
    let io = |e: std::io::Error| custdb::Error::other(e);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut dead_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dead_letters)
        .map_err(io)?;
    let mut report = Deliveries::default();
    loop {
        let done = writing_done.load(Ordering::SeqCst);
        let events = store.changes().wait("webhooks", 50, 200)?;
        if events.is_empty() {
            if done {
                return Ok(report);
            }
            continue;
        }
        for event in &events {
            let body = serde_json::to_vec(event).map_err(custdb::Error::other)?;
            let signed = signature(&body);
            let (mut refusals, mut failures) = (0, 0);
            let mut backoff_ms = FIRST_BACKOFF_MS;
            loop {
                match attempt(&agent, url, &body, &signed) {
                    Attempt::Delivered => {
                        report.delivered += 1;
                        break;
                    }
                    Attempt::Refused(why) => {
                        refusals += 1;
                        if refusals == MAX_ATTEMPTS {
                            report.dead += 1;
                            let letter = serde_json::json!({
                                "event": event,
                                "attempts": refusals,
                                "last_failure": why,
                            });
                            writeln!(dead_file, "{letter}").map_err(io)?;
                            dead_file.sync_data().map_err(io)?;
                            break;
                        }
                    }
                    Attempt::Failed(why) => {
                        failures += 1;
                        if failures == MAX_OUTAGE_ATTEMPTS {
                            return Err(custdb::Error::other(std::io::Error::other(format!(
                                "the receiver is unreachable ({why}); event {} stays \
                                 unacknowledged for the next run",
                                event.position
                            ))));
                        }
                    }
                }
                report.retries += 1;
                std::thread::sleep(Duration::from_millis(backoff_ms));
                backoff_ms = (backoff_ms * 2).min(MAX_BACKOFF_MS);
            }
            store.changes().ack("webhooks", event.position)?;
        }
    }
}

/// The receiving end of the webhooks: an HTTP server on 127.0.0.1 in a
/// thread of its own, stopped by [`Receiver::stop`].
struct Receiver {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Received>,
}

/// What the receiver saw.
#[derive(Default, Clone)]
struct Received {
    accepted: usize,
    bad_signatures: usize,
    /// Positions accepted (a resent event is accepted once).
    positions: BTreeSet<i64>,
    /// Positions whose first attempt was refused on purpose.
    failed_once: BTreeSet<i64>,
}

impl Receiver {
    fn start() -> std::io::Result<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let seen = Arc::new(Mutex::new(Received::default()));
                let app = Router::new()
                    .route("/hooks", post(receive))
                    .with_state(seen.clone());
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("server");
                let received = seen.lock().expect("lock").clone();
                received
            })
        });
        Ok(Receiver { url, stop, thread })
    }

    fn stop(self) -> Received {
        let _ = self.stop.send(());
        self.thread.join().expect("receiver thread")
    }
}

/// One delivery: the signature must match the body (checked in constant
/// time); cancellations are refused for good (422); every third event's
/// first attempt fails (503),
/// as a busy system would; a resent event already accepted is accepted
/// again without counting twice.
async fn receive(
    State(seen): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut seen = seen.lock().expect("lock");
    if !signature_matches(&body, signed) {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<ChangeEvent>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if event.kind == ChangeKind::OrderCancelled {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    if event.position % 3 == 0 && seen.failed_once.insert(event.position) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if seen.positions.insert(event.position) {
        seen.accepted += 1;
    }
    StatusCode::NO_CONTENT
}
