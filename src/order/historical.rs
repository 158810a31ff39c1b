//! Orders that already happened elsewhere: an import writes each one as it
//! ended up (placed at its own time, paid, shipped and delivered), with
//! every row the live flow would have written, so that reports, lifetime
//! values, returns and `check()` treat it like any other order.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{line_amounts, sql, OrderStatus, Orders, MAX_LINES_PER_ORDER, MAX_LINE_QUANTITY};
use crate::db::Json;
use crate::error::{Error, Result};
use crate::id::{CustomerId, OrderId, OrderLineId, PaymentId, ProductId, ShipmentId, VariantId};
use crate::money::{self, Currency, Money};
use crate::validate;

/// A completed order to record as history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct HistoricalOrder {
    /// The customer, or `None` for a guest (then `guest_email` is needed).
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// A guest's email.
    #[serde(default)]
    pub guest_email: Option<String>,
    /// The currency (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// Destination country, ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
    /// When it was placed (also when it was paid and shipped).
    pub placed_at: DateTime<Utc>,
    /// Its lines: 1 to [`MAX_LINES_PER_ORDER`], each variant once.
    pub lines: Vec<HistoricalLine>,
    /// The shipping charge.
    #[serde(default, deserialize_with = "crate::money::amount_text::deserialize")]
    pub shipping: rust_decimal::Decimal,
}
crate::input::strict_serde!(HistoricalOrder);

/// One line of a [`HistoricalOrder`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct HistoricalLine {
    /// The variant sold.
    pub variant_id: VariantId,
    /// Units, 1 to [`MAX_LINE_QUANTITY`].
    pub quantity: i64,
    /// The price it was sold at (up to four decimals; never rounded).
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub unit_price: rust_decimal::Decimal,
}
crate::input::strict_serde!(HistoricalLine);

impl<'t> Orders<'t> {
    /// Records a completed order: placed at `placed_at`, paid in full (a
    /// captured payment with method `other`, provider `import`, unless the
    /// total is zero), shipped whole (one shipment, carrier `historical`)
    /// and delivered. Stock is not moved: history is recorded for variants
    /// that do not track stock, or after the fact.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming the field
    /// (`customer_id`/`guest_email`, `currency`, `placed_at` (outside the
    /// range of [`crate::time`]), `country`, `lines`,
    /// `lines[i].variant_id` (unknown, another currency, twice, tracks
    /// stock), `lines[i].quantity`, `lines[i].unit_price`, `shipping`);
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn record_historical(&self, order: &HistoricalOrder) -> Result<OrderId> {
        self.tx().atomic(|| self.record_historical_inner(order))
    }

    fn record_historical_inner(&self, order: &HistoricalOrder) -> Result<OrderId> {
        let db = self.tx().db();
        let currency = order.currency;
        let placed_at = crate::time::checked("placed_at", order.placed_at)?;
        let guest_email = match (&order.customer_id, &order.guest_email) {
            (Some(id), None) => {
                crate::customer::CustomerReader::new(db).require(*id)?;
                None
            }
            (None, Some(email)) => Some(validate::email("guest_email", email)?),
            _ => {
                return Err(Error::invalid(
                    "customer_id",
                    "an order needs exactly one of customer_id and guest_email",
                ))
            }
        };
        let country = order
            .country
            .as_deref()
            .map(|c| validate::country("country", c))
            .transpose()?;
        if order.lines.is_empty() || order.lines.len() > MAX_LINES_PER_ORDER {
            return Err(Error::invalid(
                "lines",
                format!("an order has 1 to {MAX_LINES_PER_ORDER} lines"),
            ));
        }
        let shipping_e4 = currency.payable("shipping", order.shipping)?;
        let mut priced = Vec::with_capacity(order.lines.len());
        let mut seen = std::collections::BTreeSet::new();
        let (mut subtotal_e4, mut total_e4) = (0i64, 0i64);
        for (i, line) in order.lines.iter().enumerate() {
            let f = |name: &str| format!("lines[{i}].{name}");
            // Two point reads per line (the variant, its product's name),
            // decoding only the columns a line needs: measured faster on
            // the retail import than one read joining the two, and than
            // decoding the whole variant (its options, its timestamps).
            let variant: Option<(ProductId, String, Option<String>, String, bool)> = db.query_opt(
                sql!(crate::catalog::sql::VARIANT_BY_ID),
                &[&line.variant_id],
                |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(7)?, r.get(8)?)),
            )?;
            let (product_id, sku, variant_title, variant_currency, track_stock) =
                variant.ok_or_else(|| Error::invalid(f("variant_id"), "no such variant"))?;
            if !seen.insert(line.variant_id) {
                return Err(Error::invalid(f("variant_id"), "is on an earlier line"));
            }
            if track_stock {
                return Err(Error::invalid(
                    f("variant_id"),
                    "tracks stock; history is recorded for untracked variants",
                ));
            }
            if variant_currency != currency.code() {
                return Err(Error::invalid(
                    f("variant_id"),
                    "is priced in another currency",
                ));
            }
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                return Err(Error::invalid(
                    f("quantity"),
                    format!("must be 1 to {MAX_LINE_QUANTITY}"),
                ));
            }
            let unit_price_e4 = money::unit_price(&f("unit_price"), line.unit_price)?;
            let (sub, _, total) = line_amounts(currency, line.quantity, unit_price_e4, 0, 0)
                .ok_or_else(|| Error::invalid(f("quantity"), "the line amount is too large"))?;
            subtotal_e4 = money::add_e4("subtotal", subtotal_e4, sub)?;
            total_e4 = money::add_e4("total", total_e4, total)?;
            let product_name: String = db.query_row(
                sql!(crate::catalog::sql::PRODUCT_NAME),
                &[&product_id],
                |r| r.get(0),
            )?;
            let title = match variant_title {
                Some(t) => format!("{product_name} – {t}"),
                None => product_name,
            };
            priced.push((
                line.variant_id,
                sku,
                line.quantity,
                unit_price_e4,
                sub,
                title,
            ));
        }
        let total_e4 = money::add_e4("total", total_e4, shipping_e4)?;
        let id = OrderId::new();
        let no_text: Option<&str> = None;
        db.execute(
            sql!(sqlite: sql::INSERT_ORDER, postgres: sql::INSERT_ORDER_PG),
            &[
                &id,
                &order.customer_id,
                &guest_email,
                &currency.code(),
                &OrderStatus::Delivered,
                &subtotal_e4,
                &0i64,
                &0i64,
                &shipping_e4,
                &total_e4,
                &None::<Json<'_>>,
                &None::<Json<'_>>,
                &no_text,
                &no_text,
                &no_text,
                &None::<DateTime<Utc>>,
                &placed_at,
                &country,
            ],
        )?;
        let shipment = ShipmentId::new();
        db.execute(
            sql!(sql::INSERT_HISTORICAL_SHIPMENT),
            &[&shipment, &id, &placed_at],
        )?;
        for (n, (variant_id, sku, quantity, unit_price_e4, sub, title)) in priced.iter().enumerate()
        {
            let line_id = OrderLineId::new();
            db.execute(
                sql!(sql::INSERT_SHIPPED_LINE),
                &[
                    &line_id,
                    &id,
                    &(n + 1),
                    variant_id,
                    sku,
                    title,
                    quantity,
                    unit_price_e4,
                    sub,
                ],
            )?;
            db.execute(
                sql!(super::fulfilment::sql::INSERT_SHIPMENT_LINE),
                &[&shipment, &line_id, quantity],
            )?;
        }
        if total_e4 > 0 {
            db.execute(
                sql!(super::fulfilment::sql::INSERT_PAYMENT),
                &[
                    &PaymentId::new(),
                    &id,
                    &"other",
                    &"import",
                    &no_text,
                    &total_e4,
                    &currency.code(),
                    &"captured",
                    &placed_at,
                ],
            )?;
            db.execute(sql!(sql::SET_PAID), &[&id, &total_e4])?;
        }
        let detail =
            json!({ "total": Money::from_e4(total_e4, currency).amount.to_string() }).to_string();
        db.execute(
            sql!(sql::INSERT_EVENT),
            &[
                &id,
                &placed_at,
                &self.tx().actor().id(),
                &"imported",
                &no_text,
                &OrderStatus::Delivered,
                &Json(&detail),
            ],
        )?;
        self.audit(id, "import", &["lines", "totals", "status"])?;
        Ok(id)
    }
}
