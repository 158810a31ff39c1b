//! A small web shop on custdb's async facade (feature `tokio`): an axum
//! service on 127.0.0.1 that places orders from concurrent requests, then
//! a client in the same program that sends 40 requests at once for a
//! product with 12 units in stock, and stops the service when they are
//! answered. Exactly 12 orders succeed; the others get 409 Conflict.
//!
//! Run: `cargo run --features tokio --example axum_shop`

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custdb::{
    AsyncStore, Currency, ErrorKind, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewVariant,
    NewWarehouse,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The body of `POST /orders`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderRequest {
    email: String,
    sku: String,
    quantity: i64,
}

/// The handlers' error: custdb's, or the shop's own. A unit of work may
/// return it because it converts from `custdb::Error`.
#[derive(Debug)]
enum ShopError {
    Db(custdb::Error),
    UnknownCustomer,
}

impl From<custdb::Error> for ShopError {
    fn from(e: custdb::Error) -> Self {
        ShopError::Db(e)
    }
}

impl IntoResponse for ShopError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ShopError::UnknownCustomer => (StatusCode::NOT_FOUND, "no such customer".to_owned()),
            ShopError::Db(e) => {
                let status = match e.kind() {
                    ErrorKind::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorKind::NotFound { .. } => StatusCode::NOT_FOUND,
                    ErrorKind::Shortfall { .. }
                    | ErrorKind::Conflict { .. }
                    | ErrorKind::InvalidState { .. }
                    | ErrorKind::InvalidTransition { .. } => StatusCode::CONFLICT,
                    ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, e.to_string())
            }
        };
        (status, message).into_response()
    }
}

async fn place_order(
    State(store): State<AsyncStore>,
    Json(request): Json<OrderRequest>,
) -> Result<(StatusCode, String), ShopError> {
    let order = store
        .write(move |tx| {
            let customer = match tx.customers().get_by_email(&request.email) {
                Ok(c) => c,
                Err(e) if e.is_not_found() => return Err(ShopError::UnknownCustomer),
                Err(e) => return Err(e.into()),
            };
            let order = tx.orders().place(
                NewOrder::for_customer(customer.id, Currency::GBP)
                    .line(NewOrderLine::new(request.sku, request.quantity)),
            )?;
            Ok(order)
        })
        .await?;
    Ok((StatusCode::CREATED, format!("order {}", order.number)))
}

async fn available(
    State(store): State<AsyncStore>,
    Path(sku): Path<String>,
) -> Result<String, ShopError> {
    let units = store
        .read(move |r| {
            let variant = r.catalog().variant_by_sku(&sku)?;
            r.inventory().available(variant.id)
        })
        .await?;
    Ok(units.to_string())
}

/// One HTTP/1.1 request on its own connection; returns the status code.
async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("receive");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = AsyncStore::open(dir.path().join("axum_shop.db")).await?;
    store
        .write(|tx| {
            tx.customers()
                .create(NewCustomer::new("Ann").email("ann@example.com"))?;
            let product = tx
                .catalog()
                .create_product(NewProduct::new("Teapot").variant(NewVariant::new(
                    "POT",
                    "24.00".parse().expect("a price"),
                    Currency::GBP,
                )))?;
            let warehouse = tx
                .inventory()
                .create_warehouse(NewWarehouse::new("main", "Main"))?;
            tx.inventory()
                .receive(product.variants[0].id, warehouse.id, 12)?;
            Ok::<_, custdb::Error>(())
        })
        .await?;

    let app = Router::new()
        .route("/orders", post(place_order))
        .route("/stock/{sku}", get(available))
        .with_state(store.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let body = r#"{"email": "ann@example.com", "sku": "POT", "quantity": 1}"#;
    let requests: Vec<_> = (0..40)
        .map(|_| tokio::spawn(request(addr, "POST", "/orders", body)))
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for r in requests {
        match r.await? {
            201 => created += 1,
            409 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    let unknown = request(
        addr,
        "POST",
        "/orders",
        r#"{"email": "bob@example.com", "sku": "POT", "quantity": 1}"#,
    )
    .await;
    let typo = request(
        addr,
        "POST",
        "/orders",
        r#"{"emial": "ann@example.com", "sku": "POT", "quantity": 1}"#,
    )
    .await;
    let left = request(addr, "GET", "/stock/POT", "").await;

    stop.send(()).ok();
    server.await??;
    println!("{created} orders placed, {refused} refused for lack of stock");
    assert_eq!((created, refused), (12, 28), "exactly the stock was sold");
    assert_eq!(unknown, 404);
    assert_eq!(typo, 422, "an unknown field is refused");
    assert_eq!(left, 200);
    assert!(store.run(|s| s.check()).await?.is_ok());
    println!("the service stopped by itself; check() is clean");
    Ok(())
}
