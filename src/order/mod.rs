//! Orders: placement with stock reservation, payments, shipments, returns,
//! refunds, and the queries over them.
//!
//! # The state machine
//!
//! ```text
//!            pay (in full)          ship (some)               ship (rest)
//! pending ───────────────► paid ──────────────► partially_shipped ─────────► shipped ──► delivered
//!    │                       │    ship (all) ──────────────────────────────►   │            │
//!    │ cancel                │ cancel                                          └── return all┴──► returned
//!    ▼                       ▼
//! cancelled ◄────────────────┘
//!
//! any state with money paid ── refund (all of it) ──► refunded
//! ```
//!
//! - `pending`: placed, stock reserved, not paid in full. An order whose
//!   total is zero is `paid` at once.
//! - `paid`: captured payments equal the total. Reservations no longer
//!   expire.
//! - `partially_shipped` / `shipped`: some / all ordered units have left.
//! - `delivered`: the carrier delivered everything shipped.
//! - `cancelled`: from `pending` or `paid` only (not after shipping); every
//!   reservation is released. A paid order that is cancelled is then
//!   refunded.
//! - `returned`: every unit was shipped and every shipped unit came back.
//! - `refunded`: everything paid was refunded. Terminal: what the order
//!   still held for unshipped units is released by the refund that made
//!   it `refunded`.
//!
//! Partial returns and partial refunds are recorded without changing the
//! status. Every transition and every money or fulfilment event is a row of
//! `order_events`; an action the current status does not allow is an
//! [`ErrorKind::InvalidTransition`].
//!
//! # Money
//!
//! Amounts follow [`crate::money`]: each line's subtotal (quantity × unit
//! price) is rounded once to the currency's minor unit; the discount is an
//! amount of the line; tax is `tax_rate` × (subtotal − discount), rounded
//! the same way; the order's totals are exact sums of its lines plus
//! shipping. Card numbers are never stored: a payment keeps its method, the
//! provider and the provider's reference.

pub mod credit;
pub mod fulfilment;
pub mod historical;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::audit::Change;
use crate::catalog::{CatalogReader, Variant};
use crate::db::{sql, Conn, Json, Row, TimeBound};
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{CustomerId, OrderId, OrderLineId, VariantId, WarehouseId};
use crate::inventory::{Inventory, InventoryReader};
use crate::money::{self, Currency, Money};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::text_enum::text_enum;
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

pub use fulfilment::{
    NewPayment, NewRefund, NewReturn, NewReturnLine, NewShipment, Payment, PaymentMethod,
    PaymentStatus, Refund, RefundDestination, Return, ReturnLine, Shipment, ShipmentLine,
};

/// Most lines one order may have.
pub const MAX_LINES_PER_ORDER: usize = 500;
/// Largest quantity of one line.
pub const MAX_LINE_QUANTITY: i64 = 1_000_000;
/// Longest order note, in characters.
pub const MAX_NOTE_LEN: usize = 2000;
/// Longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;
/// Most orders one [`Orders::lock_orders`] call locks.
pub const MAX_ORDERS_LOCKED: usize = 1000;

/// The SQL condition, on an `orders` row aliased `o`, for an order that
/// counts as a sale: paid, or further along (shipped, delivered, returned,
/// refunded; refunds are subtracted where money is summed), and neither
/// pending (not paid yet) nor cancelled. The one definition that revenue
/// reports, RFM, segments, stock-out risk and sales by variant share; a
/// macro so that it joins the statements' text at compile time
/// (`concat!`).
macro_rules! counts_as_sale {
    () => {
        "o.status NOT IN ('pending', 'cancelled')"
    };
}
pub(crate) use counts_as_sale;

/// Decimals a tax rate may carry (as a fraction: 0.2 is 20 %).
pub const TAX_RATE_DECIMALS: u32 = 6;

text_enum!(
    /// Where an order is in its life; see the [module docs](crate::order).
    OrderStatus {
        /// Placed, stock reserved, not paid in full.
        Pending = "pending",
        /// Paid in full.
        Paid = "paid",
        /// Some units shipped.
        PartiallyShipped = "partially_shipped",
        /// Every unit shipped.
        Shipped = "shipped",
        /// Delivered.
        Delivered = "delivered",
        /// Cancelled before shipping.
        Cancelled = "cancelled",
        /// Everything shipped came back.
        Returned = "returned",
        /// Everything paid was refunded.
        Refunded = "refunded",
    }
);

/// The postal address copied into an order; it lives with addresses
/// ([`crate::customer::address`]) and is named here too, where orders use it.
pub use crate::customer::address::AddressSnapshot;

/// An order to place.
///
/// # Example
///
/// ```
/// use custdb::{Currency, Decimal, NewCustomer, NewOrder, NewOrderLine, NewProduct, NewVariant, NewWarehouse, Store};
///
/// let store = Store::open_in_memory()?;
/// let order = store.write(|tx| {
///     let ann = tx.customers().create(NewCustomer::new("Ann"))?;
///     let tea = tx.catalog().create_product(
///         NewProduct::new("Tea").variant(NewVariant::new("TEA-100G", Decimal::new(450, 2), Currency::GBP)),
///     )?;
///     let shop = tx.inventory().create_warehouse(NewWarehouse::new("SHOP", "The shop"))?;
///     tx.inventory().receive(tea.variants[0].id, shop.id, 10)?;
///     tx.orders().place(
///         NewOrder::for_customer(ann.id, Currency::GBP)
///             .line(NewOrderLine::new("TEA-100G", 3))
///             .shipping(Decimal::new(295, 2))
///             .idempotency_key("checkout-42"),
///     )
/// })?;
/// assert_eq!(order.total.amount, Decimal::new(1645, 2)); // 3 × 4.50 + 2.95
/// assert_eq!(order.total.to_string(), "16.45 GBP");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewOrder {
    /// The customer; exactly one of this and `guest_email`.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// A guest's email.
    #[serde(default)]
    pub guest_email: Option<String>,
    /// The currency of the whole order (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// Lines, 1 to [`MAX_LINES_PER_ORDER`], each SKU once.
    pub lines: Vec<NewOrderLine>,
    /// Shipping charge.
    #[serde(default, deserialize_with = "crate::money::amount_text::deserialize")]
    pub shipping: Decimal,
    /// Ship to; for a customer, their default shipping address when `None`.
    #[serde(default)]
    pub shipping_address: Option<AddressSnapshot>,
    /// Bill to; for a customer, their default billing address when `None`.
    #[serde(default)]
    pub billing_address: Option<AddressSnapshot>,
    /// A note.
    #[serde(default)]
    pub note: Option<String>,
    /// Placing twice with the same key returns the first order.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Hold the reservations only until then unless paid (see
    /// [`Inventory::release_expired`]).
    #[serde(default)]
    pub hold_until: Option<DateTime<Utc>>,
    /// Who prices the lines: the caller (`explicit`, the default: each
    /// line's `unit_price`, `discount` and `tax_rate`) or custdb
    /// (`catalog`: price lists, the customer's groups and tax exemption,
    /// tax by the shipping address; docs/PRICING.md).
    #[serde(default, skip_serializing_if = "OrderPricing::is_explicit")]
    pub pricing: OrderPricing,
    /// A coupon code (orders priced by the catalog only): its promotion
    /// applies, or the order is refused with the reason
    /// (docs/PRICING.md, "Promotions").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
}
crate::input::strict_serde!(NewOrder);

crate::text_enum::text_enum!(
    /// Who prices an order's lines.
    OrderPricing {
        /// The caller: each line's `unit_price` (else the variant's own
        /// price), `discount` and `tax_rate`, as given. Imports use this.
        Explicit = "explicit",
        /// custdb, by the rules of docs/PRICING.md; lines name only the
        /// SKU and quantity (and a warehouse), and each keeps where its
        /// price came from.
        Catalog = "catalog",
    }
);

// By hand: `text_enum!` makes the enum, and derives no Default.
#[allow(clippy::derivable_impls)]
impl Default for OrderPricing {
    fn default() -> Self {
        OrderPricing::Explicit
    }
}

impl OrderPricing {
    fn is_explicit(&self) -> bool {
        *self == OrderPricing::Explicit
    }
}

impl NewOrder {
    /// An order for a customer, in `currency`.
    pub fn for_customer(customer_id: CustomerId, currency: Currency) -> Self {
        NewOrder {
            customer_id: Some(customer_id),
            ..NewOrder::empty(currency)
        }
    }

    /// A guest order, in `currency`.
    pub fn for_guest(email: impl Into<String>, currency: Currency) -> Self {
        NewOrder {
            guest_email: Some(email.into()),
            ..NewOrder::empty(currency)
        }
    }

    fn empty(currency: Currency) -> Self {
        NewOrder {
            customer_id: None,
            guest_email: None,
            currency,
            lines: Vec::new(),
            shipping: Decimal::ZERO,
            shipping_address: None,
            billing_address: None,
            note: None,
            idempotency_key: None,
            hold_until: None,
            pricing: OrderPricing::Explicit,
            coupon: None,
        }
    }

    /// Uses a coupon code (an order priced by the catalog).
    pub fn coupon(mut self, code: impl Into<String>) -> Self {
        self.coupon = Some(code.into());
        self
    }

    /// custdb prices the lines (docs/PRICING.md): give each line only its
    /// SKU and quantity.
    pub fn priced_by_catalog(mut self) -> Self {
        self.pricing = OrderPricing::Catalog;
        self
    }

    /// Adds a line.
    pub fn line(mut self, line: NewOrderLine) -> Self {
        self.lines.push(line);
        self
    }

    /// Sets the shipping charge.
    pub fn shipping(mut self, amount: Decimal) -> Self {
        self.shipping = amount;
        self
    }

    /// Sets the shipping address.
    pub fn ship_to(mut self, address: AddressSnapshot) -> Self {
        self.shipping_address = Some(address);
        self
    }

    /// Sets the billing address.
    pub fn bill_to(mut self, address: AddressSnapshot) -> Self {
        self.billing_address = Some(address);
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Holds stock only until `at` unless paid.
    pub fn hold_until(mut self, at: DateTime<Utc>) -> Self {
        self.hold_until = Some(at);
        self
    }

    /// Sets the note.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.note = Some(text.into());
        self
    }
}

/// One line to order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewOrderLine {
    /// The variant's SKU.
    pub sku: String,
    /// Units, 1 to [`MAX_LINE_QUANTITY`].
    pub quantity: i64,
    /// Overrides the catalog price (in the order's currency).
    #[serde(default, deserialize_with = "crate::money::amount_text::option")]
    pub unit_price: Option<Decimal>,
    /// Discount on the line, an amount.
    #[serde(default, deserialize_with = "crate::money::amount_text::deserialize")]
    pub discount: Decimal,
    /// Tax rate as a fraction (0.2 for 20 %), applied to the discounted
    /// subtotal.
    #[serde(default, deserialize_with = "crate::money::amount_text::deserialize")]
    pub tax_rate: Decimal,
    /// Reserve from this warehouse (code) instead of the allocation rule.
    #[serde(default)]
    pub warehouse: Option<String>,
}
crate::input::strict_serde!(NewOrderLine);

impl NewOrderLine {
    /// `quantity` units of `sku` at the catalog price.
    pub fn new(sku: impl Into<String>, quantity: i64) -> Self {
        NewOrderLine {
            sku: sku.into(),
            quantity,
            ..NewOrderLine::default()
        }
    }

    /// Overrides the unit price.
    pub fn unit_price(mut self, price: Decimal) -> Self {
        self.unit_price = Some(price);
        self
    }

    /// Sets the line discount.
    pub fn discount(mut self, amount: Decimal) -> Self {
        self.discount = amount;
        self
    }

    /// Sets the tax rate.
    pub fn tax_rate(mut self, rate: Decimal) -> Self {
        self.tax_rate = rate;
        self
    }

    /// Reserves from this warehouse.
    pub fn warehouse(mut self, code: impl Into<String>) -> Self {
        self.warehouse = Some(code.into());
        self
    }
}

/// A placed order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Order {
    /// The id.
    pub id: OrderId,
    /// The human-readable number, unique, in the order orders were
    /// placed: 1, 2, 3... On SQLite without gaps; on PostgreSQL it comes
    /// from a sequence that several servers draw from at once, and a
    /// placement that fails leaves a gap (docs/SCALING.md, "Order
    /// numbers").
    pub number: i64,
    /// The customer, unless a guest order.
    pub customer_id: Option<CustomerId>,
    /// The guest's email, for guest orders.
    pub guest_email: Option<String>,
    /// The currency of every amount.
    pub currency: Currency,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// Sum of line subtotals.
    pub subtotal: Money,
    /// Sum of line discounts.
    pub discount_total: Money,
    /// Sum of line taxes.
    pub tax_total: Money,
    /// Shipping charge.
    pub shipping: Money,
    /// subtotal − discounts + tax + shipping.
    pub total: Money,
    /// Captured so far.
    pub paid: Money,
    /// Refunded so far.
    pub refunded: Money,
    /// Ship-to snapshot.
    pub shipping_address: Option<AddressSnapshot>,
    /// Bill-to snapshot.
    pub billing_address: Option<AddressSnapshot>,
    /// Note.
    pub note: Option<String>,
    /// The destination country (ISO 3166-1 alpha-2): the shipping
    /// address's, or the one an import knew without an address.
    #[serde(default)]
    pub country: Option<String>,
    /// When placed.
    pub placed_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
    /// The lines.
    pub lines: Vec<OrderLine>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct OrderLine {
    /// The id.
    pub id: OrderLineId,
    /// 1, 2, 3... within the order.
    pub line_no: i64,
    /// The variant.
    pub variant_id: VariantId,
    /// SKU at placement.
    pub sku: String,
    /// Product and variant title at placement.
    pub title: String,
    /// Units ordered.
    pub quantity: i64,
    /// Unit price at placement (up to four decimals).
    pub unit_price: Money,
    /// quantity × unit price, rounded to the minor unit.
    pub subtotal: Money,
    /// Discount.
    pub discount: Money,
    /// Tax rate (a fraction: 0.2 is 20 %; not an amount).
    pub tax_rate: Decimal,
    /// Tax.
    pub tax: Money,
    /// subtotal − discount + tax.
    pub total: Money,
    /// The warehouse asked for, if one was.
    pub warehouse_id: Option<WarehouseId>,
    /// Units shipped.
    pub quantity_shipped: i64,
    /// Units returned.
    pub quantity_returned: i64,
    /// Whether `unit_price` includes tax (a line priced from a gross
    /// price list); the amounts then follow the gross rule of
    /// docs/PRICING.md.
    pub prices_include_tax: bool,
    /// Where the price came from, for a line priced by the catalog.
    pub price_source: Option<LinePriceSource>,
}

/// An order without its lines, for listings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct OrderSummary {
    /// The id.
    pub id: OrderId,
    /// The number.
    pub number: i64,
    /// The customer.
    pub customer_id: Option<CustomerId>,
    /// Status.
    pub status: OrderStatus,
    /// Total.
    pub total: Money,
    /// Paid.
    pub paid: Money,
    /// Refunded.
    pub refunded: Money,
    /// When placed.
    pub placed_at: DateTime<Utc>,
}

/// One entry of an order's timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct OrderEvent {
    /// Position.
    pub seq: i64,
    /// The order.
    pub order_id: OrderId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor_id: String,
    /// What: `placed`, `payment_authorized`, `payment_captured`,
    /// `payment_failed`, `shipped`, `delivered`, `cancelled`, `returned`,
    /// `refunded`.
    pub kind: String,
    /// Status before (none for `placed`).
    pub from_status: Option<OrderStatus>,
    /// Status after.
    pub to_status: OrderStatus,
    /// Details (amounts, tracking, reasons) as JSON.
    pub detail: serde_json::Value,
}

/// Units and revenue of one variant over a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct VariantSales {
    /// The variant.
    pub variant_id: VariantId,
    /// Its SKU.
    pub sku: String,
    /// Units on orders placed in the period, cancelled orders excluded.
    pub quantity_sold: i64,
    /// Of those, units returned.
    pub quantity_returned: i64,
    /// Line subtotals less discounts (before tax and returns).
    pub revenue: Money,
}

macro_rules! select_order {
    () => {
        "SELECT id, number, customer_id, guest_email, currency, status, subtotal_e4, \
         discount_e4, tax_e4, shipping_e4, total_e4, paid_e4, refunded_e4, shipping_address, \
         billing_address, note, placed_at, updated_at, version, country FROM orders "
    };
}

fn order_from_row(row: &Row<'_>) -> Result<Order> {
    let currency = Currency::from_db(&row.get::<String>(4)?)?;
    let mut amounts = [0i64; 7];
    for (i, a) in amounts.iter_mut().enumerate() {
        *a = row.get(6 + i)?;
    }
    let [subtotal, discount_total, tax_total, shipping, total, paid, refunded] =
        amounts.map(|a| Money::from_e4(a, currency));
    let address = |index: usize| -> Result<Option<AddressSnapshot>> {
        row.get::<Option<String>>(index)?
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .stored()
    };
    Ok(Order {
        id: row.get(0)?,
        number: row.get(1)?,
        customer_id: row.get(2)?,
        guest_email: row.get(3)?,
        currency,
        status: row.get(5)?,
        subtotal,
        discount_total,
        tax_total,
        shipping,
        total,
        paid,
        refunded,
        shipping_address: address(13)?,
        billing_address: address(14)?,
        note: row.get(15)?,
        country: row.get(19)?,
        placed_at: row.get(16)?,
        updated_at: row.get(17)?,
        version: row.get(18)?,
        lines: Vec::new(),
    })
}

macro_rules! select_line {
    () => {
        "SELECT id, line_no, variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, \
         discount_e4, tax_rate_ppm, tax_e4, total_e4, warehouse_id, quantity_shipped, \
         quantity_returned, prices_include_tax, price_source FROM order_lines "
    };
}

/// An order line as read, its amounts still stored integers: a line is
/// read before the order whose currency they are in may be known (the
/// two streams of `each_order`).
struct RawLine {
    id: OrderLineId,
    line_no: i64,
    variant_id: VariantId,
    sku: String,
    title: String,
    quantity: i64,
    /// unit price, subtotal, discount, tax, total.
    amounts_e4: [i64; 5],
    tax_rate_ppm: i64,
    warehouse_id: Option<WarehouseId>,
    quantity_shipped: i64,
    quantity_returned: i64,
    prices_include_tax: bool,
    price_source: Option<LinePriceSource>,
}

fn line_from_row(row: &Row<'_>) -> Result<RawLine> {
    let source: Option<String> = row.get(16)?;
    Ok(RawLine {
        id: row.get(0)?,
        line_no: row.get(1)?,
        variant_id: row.get(2)?,
        sku: row.get(3)?,
        title: row.get(4)?,
        quantity: row.get(5)?,
        amounts_e4: [
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
            row.get(10)?,
            row.get(11)?,
        ],
        tax_rate_ppm: row.get(9)?,
        warehouse_id: row.get(12)?,
        quantity_shipped: row.get(13)?,
        quantity_returned: row.get(14)?,
        prices_include_tax: row.get(15)?,
        price_source: source
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .stored()?,
    })
}

impl RawLine {
    fn finish(self, currency: Currency) -> OrderLine {
        let [unit_price, subtotal, discount, tax, total] =
            self.amounts_e4.map(|a| Money::from_e4(a, currency));
        OrderLine {
            id: self.id,
            line_no: self.line_no,
            variant_id: self.variant_id,
            sku: self.sku,
            title: self.title,
            quantity: self.quantity,
            unit_price,
            subtotal,
            discount,
            tax_rate: Decimal::new(self.tax_rate_ppm, TAX_RATE_DECIMALS).normalize(),
            tax,
            total,
            warehouse_id: self.warehouse_id,
            quantity_shipped: self.quantity_shipped,
            quantity_returned: self.quantity_returned,
            prices_include_tax: self.prices_include_tax,
            price_source: self.price_source,
        }
    }
}

/// Where a line priced by the catalog (`pricing: catalog`) got its price
/// and tax: what a support agent reads to answer "why this price?".
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct LinePriceSource {
    /// The price list; `None` for the variant's own price.
    pub price_list_id: Option<crate::id::PriceListId>,
    /// The list's key when the line was placed.
    pub price_list_key: Option<String>,
    /// The quantity break the price started at.
    pub min_quantity: i64,
    /// The customer group whose list it was.
    pub customer_group_id: Option<crate::id::CustomerGroupId>,
    /// The tax rate applied; `None` when none was configured or the
    /// customer is exempt.
    pub tax_rate_id: Option<crate::id::TaxRateId>,
    /// Whether the customer was exempt from tax.
    pub tax_exempt: bool,
    /// The explanation in a sentence.
    pub explanation: String,
    /// The promotions that took something off the line, in the order they
    /// applied (the line's `discount` is their sum).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<crate::promotion::LineDiscount>,
}

macro_rules! select_summary {
    () => {
        "SELECT id, number, customer_id, status, currency, total_e4, paid_e4, refunded_e4, \
         placed_at FROM orders "
    };
}

fn summary_from_row(row: &Row<'_>) -> Result<OrderSummary> {
    let currency = Currency::from_db(&row.get::<String>(4)?)?;
    Ok(OrderSummary {
        id: row.get(0)?,
        number: row.get(1)?,
        customer_id: row.get(2)?,
        status: row.get(3)?,
        total: Money::from_e4(row.get(5)?, currency),
        paid: Money::from_e4(row.get(6)?, currency),
        refunded: Money::from_e4(row.get(7)?, currency),
        placed_at: row.get(8)?,
    })
}

/// Parses a listing cursor "<placed_at>|<id>"; no cursor is a bound
/// after every stored order.
fn listing_cursor(after: Option<&Cursor>) -> Result<(TimeBound, OrderId)> {
    match after {
        None => Ok((
            TimeBound(DateTime::<Utc>::MAX_UTC),
            OrderId::from_uuid(uuid::Uuid::max()),
        )),
        Some(c) => {
            let key = c.key()?;
            let (at, id) = key
                .split_once('|')
                .ok_or_else(|| Error::invalid("cursor", "is not an order cursor"))?;
            let at = crate::time::from_db(at)
                .map_err(|_| Error::invalid("cursor", "is not an order cursor"))?;
            Ok((TimeBound(at), OrderId::parse(id, "cursor")?))
        }
    }
}

/// Read access to orders.
#[derive(Debug)]
pub struct OrderReader<'a> {
    db: Conn<'a>,
}

/// Orders read per query by [`OrderReader::each_order`].
const EACH_ORDER_PAGE: usize = 1000;

impl<'a> OrderReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        OrderReader { db }
    }

    pub(crate) fn db(&self) -> Conn<'a> {
        self.db
    }

    /// An order with its lines.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn get(&self, id: OrderId) -> Result<Order> {
        let mut order = self
            .db
            .query_opt(sql!(sql::ORDER_BY_ID), &[&id], order_from_row)?
            .ok_or_else(|| Error::not_found("order", id))?;
        order.lines = self.lines(id, order.currency)?;
        Ok(order)
    }

    /// Calls `f` with every order, lines included, in id order (ids are
    /// UUIDv7: the order in which custdb recorded them), reading the orders
    /// in pages of [`EACH_ORDER_PAGE`] by id and each page's lines in one
    /// query by order id and line number, each in the order of an index:
    /// no sort, and one page of orders in memory at a time however many
    /// there are. (Ordering by placement time would make the database sort
    /// every line first: 15 GB at 50 million lines.)
    ///
    /// # Errors
    ///
    /// A database error, or the error `f` returns (which stops the walk).
    pub fn each_order(&self, mut f: impl FnMut(Order) -> Result<()>) -> Result<()> {
        let mut after = OrderId::from_uuid(uuid::Uuid::nil());
        loop {
            let mut page: Vec<Order> = self.db.query_vec(
                sql!(concat!(
                    select_order!(),
                    "WHERE id > ?1 ORDER BY id LIMIT ?2"
                )),
                &[&after, &EACH_ORDER_PAGE],
                order_from_row,
            )?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            let last = last.id;
            let mut at = 0;
            self.db.query_each(
                sql!(
                    "SELECT l.id, l.line_no, l.variant_id, l.sku, l.title, l.quantity, \
                     l.unit_price_e4, l.subtotal_e4, l.discount_e4, l.tax_rate_ppm, l.tax_e4, \
                     l.total_e4, l.warehouse_id, l.quantity_shipped, l.quantity_returned, \
                     l.prices_include_tax, l.price_source, l.order_id FROM order_lines l \
                     WHERE l.order_id > ?1 AND l.order_id <= ?2 ORDER BY l.order_id, l.line_no"
                ),
                &[&after, &last],
                |r| {
                    let order_id: OrderId = r.get(17)?;
                    while page.get(at).is_some_and(|o| o.id != order_id) {
                        at += 1;
                    }
                    let order = page.get_mut(at).ok_or_else(|| {
                        Error::corrupt(format!("order line of unknown order {order_id}"))
                    })?;
                    order.lines.push(line_from_row(r)?.finish(order.currency));
                    Ok(())
                },
            )?;
            let done = page.len() < EACH_ORDER_PAGE;
            for order in page {
                f(order)?;
            }
            if done {
                return Ok(());
            }
            after = last;
        }
    }

    /// An order by its number.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown number.
    pub fn by_number(&self, number: i64) -> Result<Order> {
        let id: OrderId = self
            .db
            .query_opt(
                sql!("SELECT id FROM orders WHERE number = ?1"),
                &[&number],
                |r| r.get(0),
            )?
            .ok_or_else(|| Error::not_found("order", format!("number {number}")))?;
        self.get(id)
    }

    fn lines(&self, id: OrderId, currency: Currency) -> Result<Vec<OrderLine>> {
        self.db.query_vec(sql!(sql::LINES_OF_ORDER), &[&id], |r| {
            Ok(line_from_row(r)?.finish(currency))
        })
    }

    /// The order's timeline, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub fn events(&self, id: OrderId) -> Result<Vec<OrderEvent>> {
        self.require(id)?;
        self.db.query_vec(
            sql!(
                "SELECT seq, order_id, at, actor_id, kind, from_status, to_status, detail \
                 FROM order_events WHERE order_id = ?1 ORDER BY seq"
            ),
            &[&id],
            |r| {
                Ok(OrderEvent {
                    seq: r.get(0)?,
                    order_id: r.get(1)?,
                    at: r.get(2)?,
                    actor_id: r.get(3)?,
                    kind: r.get(4)?,
                    from_status: r.get(5)?,
                    to_status: r.get(6)?,
                    detail: serde_json::from_str(&r.get::<String>(7)?).stored()?,
                })
            },
        )
    }

    pub(crate) fn require(&self, id: OrderId) -> Result<(OrderStatus, Currency)> {
        let (status, currency): (OrderStatus, String) = self
            .db
            .query_opt(sql!(sql::ORDER_STATE), &[&id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .ok_or_else(|| Error::not_found("order", id))?;
        Ok((status, Currency::from_db(&currency)?))
    }

    /// A customer's orders, newest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer; [`ErrorKind::Invalid`]
    /// for a bad cursor or limit.
    pub fn history(
        &self,
        customer_id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<OrderSummary>> {
        let limit = check_limit(limit)?;
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        let (at, id) = listing_cursor(after)?;
        let items = self.db.query_vec(
            sql!(sql::HISTORY),
            &[&customer_id, &at, &id, &(limit + 1)],
            summary_from_row,
        )?;
        Ok(into_page(items, limit, summary_key))
    }

    /// Orders in a status, newest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] for a bad cursor or limit.
    pub fn by_status(
        &self,
        status: OrderStatus,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<OrderSummary>> {
        let limit = check_limit(limit)?;
        let (at, id) = listing_cursor(after)?;
        let items = self.db.query_vec(
            sql!(concat!(
                select_summary!(),
                "WHERE status = ?1 AND (placed_at, id) < (?2, ?3) \
                 ORDER BY placed_at DESC, id DESC LIMIT ?4"
            )),
            &[&status, &at, &id, &(limit + 1)],
            summary_from_row,
        )?;
        Ok(into_page(items, limit, summary_key))
    }

    /// What a customer has paid, net of refunds, per currency (sorted by
    /// currency code; empty when nothing was paid).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown customer.
    pub fn lifetime_value(&self, customer_id: CustomerId) -> Result<Vec<Money>> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        self.db.query_vec(
            sql!(
                "SELECT currency, CAST(sum(paid_e4 - refunded_e4) AS bigint) FROM orders \
                 WHERE customer_id = ?1 AND paid_e4 > 0 GROUP BY currency ORDER BY currency"
            ),
            &[&customer_id],
            |r| {
                Ok(Money::from_e4(
                    r.get(1)?,
                    Currency::from_db(&r.get::<String>(0)?)?,
                ))
            },
        )
    }

    /// Units and revenue per variant and currency for the orders placed in
    /// `[from, to)` that count as sales (paid or further along; pending and
    /// cancelled orders are not sales); sorted by SKU. A bound
    /// outside the range of [`crate::time`] means no bound on that side.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `to` when it is not after `from`.
    pub fn sales_by_variant(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VariantSales>> {
        if to <= from {
            return Err(Error::invalid("to", "must be after from"));
        }
        self.db.query_vec(
            sql!(concat!(
                "SELECT l.variant_id, min(l.sku), o.currency, CAST(sum(l.quantity) AS bigint), \
                 CAST(sum(l.quantity_returned) AS bigint), \
                 CAST(sum(l.subtotal_e4 - l.discount_e4) AS bigint) \
                 FROM orders o JOIN order_lines l ON l.order_id = o.id \
                 WHERE o.placed_at >= ?1 AND o.placed_at < ?2 AND ",
                counts_as_sale!(),
                " GROUP BY l.variant_id, o.currency ORDER BY min(l.sku), o.currency"
            )),
            &[&TimeBound(from), &TimeBound(to)],
            |r| {
                Ok(VariantSales {
                    variant_id: r.get(0)?,
                    sku: r.get(1)?,
                    quantity_sold: r.get(3)?,
                    quantity_returned: r.get(4)?,
                    revenue: Money::from_e4(r.get(5)?, Currency::from_db(&r.get::<String>(2)?)?),
                })
            },
        )
    }
}

fn summary_key(s: &OrderSummary) -> String {
    format!("{}|{}", crate::time::to_db(&s.placed_at), s.id)
}

/// Orders inside a unit of work.
#[derive(Debug)]
pub struct Orders<'t> {
    tx: &'t WriteTx<'t>,
    reader: OrderReader<'t>,
}

impl<'t> std::ops::Deref for Orders<'t> {
    type Target = OrderReader<'t>;
    fn deref(&self) -> &OrderReader<'t> {
        &self.reader
    }
}

/// A line after validation, ready to write.
/// Where an order priced by the catalog goes, for tax, and whose it is.
struct CatalogPricing {
    /// The address tax is worked out from, as the order names it.
    address_field: &'static str,
    customer_id: Option<CustomerId>,
    country: String,
    region: Option<String>,
    /// The customer's groups and exemption, read once for the order.
    buyer: crate::pricing::Buyer,
}

struct PricedLine {
    variant: Variant,
    /// Whether the unit price includes tax (catalog pricing from a gross
    /// list).
    prices_include_tax: bool,
    /// Where a catalog-priced line's price came from.
    price_source: Option<LinePriceSource>,
    title: String,
    quantity: i64,
    unit_price_e4: i64,
    subtotal_e4: i64,
    discount_e4: i64,
    tax_rate_ppm: i64,
    tax_e4: i64,
    total_e4: i64,
    warehouse: Option<WarehouseId>,
}

/// A line's subtotal, tax and total by its basis: [`line_amounts`] for a
/// net price; for a gross price (docs/PRICING.md) the amount is
/// round(unit × quantity), tax = round((amount − discount) × rate ÷
/// (1 + rate)), subtotal = amount − tax, so that total = subtotal −
/// discount + tax = amount − discount, as on every line.
pub(crate) fn line_amounts_gross_or_net(
    currency: Currency,
    quantity: i64,
    unit_price_e4: i64,
    discount_e4: i64,
    tax_rate_ppm: i64,
    gross: bool,
) -> Option<(i64, i64, i64)> {
    if !gross {
        return line_amounts(currency, quantity, unit_price_e4, discount_e4, tax_rate_ppm);
    }
    let amount =
        currency.round(Decimal::from(quantity).checked_mul(money::from_e4(unit_price_e4))?);
    let rate = Decimal::new(tax_rate_ppm, TAX_RATE_DECIMALS);
    let payable = amount.checked_sub(money::from_e4(discount_e4))?;
    let tax = currency.round(
        payable
            .checked_mul(rate)?
            .checked_div(Decimal::ONE + rate)?,
    );
    let amount_e4 = money::to_e4("subtotal", amount).ok()?;
    let tax_e4 = money::to_e4("tax", tax).ok()?;
    Some((amount_e4 - tax_e4, tax_e4, amount_e4 - discount_e4))
}

/// Prices one line: the rule of [`crate::money`], shared with `check()`.
pub(crate) fn line_amounts(
    currency: Currency,
    quantity: i64,
    unit_price_e4: i64,
    discount_e4: i64,
    tax_rate_ppm: i64,
) -> Option<(i64, i64, i64)> {
    let gross = Decimal::from(quantity).checked_mul(money::from_e4(unit_price_e4))?;
    let subtotal = currency.round(gross);
    let taxable = subtotal.checked_sub(money::from_e4(discount_e4))?;
    let tax = currency.round(taxable.checked_mul(Decimal::new(tax_rate_ppm, TAX_RATE_DECIMALS))?);
    let subtotal_e4 = money::to_e4("subtotal", subtotal).ok()?;
    let tax_e4 = money::to_e4("tax", tax).ok()?;
    Some((subtotal_e4, tax_e4, subtotal_e4 - discount_e4 + tax_e4))
}

impl<'t> Orders<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Orders {
            tx,
            reader: OrderReader::new(tx.db()),
        }
    }

    pub(crate) fn tx(&self) -> &'t WriteTx<'t> {
        self.tx
    }

    fn inventory(&self) -> Inventory<'t> {
        Inventory::new(self.tx)
    }

    /// Reads an order's status and currency for an operation that changes
    /// it. On PostgreSQL, where several servers write at once, it first
    /// locks the order's row until the unit of work ends: a second
    /// operation on the same order waits and then sees the first one's
    /// result (no double capture, no refund of money refunded meanwhile).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub(crate) fn lock(&self, id: OrderId) -> Result<(OrderStatus, Currency)> {
        self.tx
            .db()
            .lock_for_update(sql!(postgres_only: sql::LOCK_ORDER), &[&id])?;
        self.require(id)
    }

    /// Locks several orders for a unit of work that goes on to change them
    /// all (ship a batch, cancel a batch): on PostgreSQL, their rows in id
    /// order and then every stock row their open reservations hold, by
    /// variant and then warehouse, until the unit of work ends. Each of
    /// custdb's operations locks what it changes in that same order, but a
    /// unit of work that chains several of them would take the second
    /// order's stock after the first's, and two such units of work (or one
    /// and a placement) could wait for each other: PostgreSQL would then
    /// abort one with [`ErrorKind::Contention`]. Locking the batch first
    /// leaves nothing to wait for in between. On SQLite, whose one writer
    /// already runs units of work one at a time, it only checks that the
    /// orders exist.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order; [`ErrorKind::Invalid`]
    /// on `orders` for more than [`MAX_ORDERS_LOCKED`].
    ///
    /// # Example
    ///
    /// ```
    /// # use custdb::{Currency, NewOrder, NewOrderLine, NewPayment, NewProduct, NewShipment,
    /// #              NewVariant, PaymentMethod, Store};
    /// # let store = Store::open_in_memory()?;
    /// # store.catalog().create_product(NewProduct::new("Card").variant(
    /// #     NewVariant::new("CARD", "5".parse().unwrap(), Currency::GBP).track_stock(false)))?;
    /// # let mut paid = Vec::new();
    /// # for n in 0..3 {
    /// #     let o = store.orders().place(NewOrder::for_guest(format!("g{n}@example.com"), Currency::GBP)
    /// #         .line(NewOrderLine::new("CARD", 1)))?;
    /// #     store.orders().pay(o.id, NewPayment::new(PaymentMethod::Card, o.total.amount))?;
    /// #     paid.push(o.id);
    /// # }
    /// // A delivery run: every paid order of the batch ships, or none does.
    /// store.write(|tx| {
    ///     tx.orders().lock_orders(&paid)?;
    ///     for &order in &paid {
    ///         tx.orders().ship(order, NewShipment::everything("post", "run-7"))?;
    ///     }
    ///     Ok::<_, custdb::Error>(())
    /// })?;
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn lock_orders(&self, orders: &[OrderId]) -> Result<()> {
        if orders.len() > MAX_ORDERS_LOCKED {
            return Err(Error::invalid(
                "orders",
                format!("names {} orders, at most {MAX_ORDERS_LOCKED}", orders.len()),
            ));
        }
        let mut ids = orders.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let db = self.tx.db();
        let mut balances = Vec::new();
        for id in &ids {
            self.lock(*id)?;
            if db.is_postgres() {
                balances.extend(db.query_vec(
                    sql!(
                        postgres_only: "SELECT variant_id, warehouse_id FROM stock_reservations \
                         WHERE order_id = $1 AND open_quantity > 0"
                    ),
                    &[id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?);
            }
        }
        balances.sort_unstable();
        balances.dedup();
        self.inventory().lock_balances(&mut balances)
    }

    /// [`lock`](Orders::lock) for an operation that also moves the order's
    /// stock (ship, cancel, refund): after the order's row, the stock rows
    /// its open reservations hold, by variant and then warehouse (the
    /// order every unit of work locks stock in), so that two such
    /// operations never wait for each other's stock.
    pub(crate) fn lock_with_stock(&self, id: OrderId) -> Result<(OrderStatus, Currency)> {
        let state = self.lock(id)?;
        self.tx.db().lock_for_update(
            sql!(
                postgres_only: "SELECT 1 FROM stock_levels l WHERE EXISTS (SELECT 1 FROM \
                 stock_reservations r WHERE r.order_id = $1 AND r.open_quantity > 0 \
                 AND r.variant_id = l.variant_id AND r.warehouse_id = l.warehouse_id) \
                 ORDER BY l.variant_id, l.warehouse_id FOR UPDATE OF l"
            ),
            &[&id],
        )?;
        Ok(state)
    }

    /// Places an order: checks every line, prices it, and reserves stock for
    /// every tracked line, all in one step. Either the whole order is placed
    /// or nothing is written.
    ///
    /// Stock allocation: a line that names a warehouse reserves there. Other
    /// lines take the first warehouse in priority order (then by code) that
    /// has the whole quantity available; when none has, the line is split
    /// across warehouses in that order; a variant that allows backorders
    /// reserves the rest in the first warehouse.
    ///
    /// With an idempotency key, placing the same request again returns the
    /// order the key first placed, and writes nothing.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Invalid`] naming the field: `customer_id` /
    ///   `guest_email` (neither or both, a bad email), `currency`, `lines`
    ///   (none, or more than [`MAX_LINES_PER_ORDER`]), `lines[i].sku` (unknown,
    ///   archived, twice in the order, priced in another currency),
    ///   `lines[i].quantity` (not 1 to [`MAX_LINE_QUANTITY`]),
    ///   `lines[i].unit_price` (more than four decimals, negative),
    ///   `lines[i].discount` (more decimals than the currency, above the
    ///   subtotal), `lines[i].tax_rate` (not 0 to 1), `lines[i].warehouse`,
    ///   `shipping`, addresses, `note`, `idempotency_key`, `hold_until` (not
    ///   in the future, or outside the range of [`crate::time`]);
    /// - [`ErrorKind::NotFound`] for an unknown customer,
    ///   [`ErrorKind::InvalidState`] for an archived one;
    /// - [`ErrorKind::Shortfall`] naming the SKU, the quantity asked and the
    ///   quantity available;
    /// - [`ErrorKind::IdempotencyMismatch`] when the key placed a different
    ///   request.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{Currency, NewOrder, NewOrderLine, NewPayment, NewProduct, NewVariant,
    ///              NewWarehouse, NewCustomer, PaymentMethod, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// let order = store.write(|tx| {
    ///     let ann = tx.customers().create(NewCustomer::new("Ann"))?;
    ///     let tea = tx.catalog().create_product(
    ///         NewProduct::new("Tea").variant(NewVariant::new("TEA", "4.50".parse().unwrap(), Currency::GBP)),
    ///     )?;
    ///     let main = tx.inventory().create_warehouse(NewWarehouse::new("main", "Main"))?;
    ///     tx.inventory().receive(tea.variants[0].id, main.id, 10)?;
    ///     // Prices come from the catalog unless a line names its own.
    ///     tx.orders().place(NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 3)))
    /// })?;
    /// assert_eq!(order.total.to_string(), "13.50 GBP");
    /// // The three units are held for the order until it ships or is cancelled.
    /// let short = store.write(|tx| {
    ///     tx.orders().place(NewOrder::for_guest("g@example.com", Currency::GBP).line(NewOrderLine::new("TEA", 8)))
    /// });
    /// assert!(short.unwrap_err().is_shortfall());
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn place(&self, new: NewOrder) -> Result<Order> {
        self.tx.atomic(|| self.place_inner(new))
    }

    fn place_inner(&self, new: NewOrder) -> Result<Order> {
        let key = validate::optional_text(
            "idempotency_key",
            new.idempotency_key.as_deref(),
            MAX_IDEMPOTENCY_KEY_LEN,
        )?;
        let request_hash = match &key {
            None => None,
            Some(key) => {
                let hash = crate::schema::hex(&Sha256::digest(serde_json::to_vec(&new).written()?));
                // On PostgreSQL two servers may place the same key at once:
                // the second waits here until the first commits, then finds
                // its order below (or places it, if the first rolled back).
                self.tx
                    .db()
                    .lock_for_update(sql!(postgres_only: sql::LOCK_IDEMPOTENCY_KEY), &[key])?;
                let found: Option<(OrderId, String)> = self.tx.db().query_opt(
                    sql!("SELECT id, request_hash FROM orders WHERE idempotency_key = ?1"),
                    &[key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if let Some((id, first_hash)) = found {
                    if first_hash == hash {
                        return self.get(id);
                    }
                    return Err(Error::new(ErrorKind::IdempotencyMismatch {
                        key: key.clone(),
                        order: id.to_string(),
                    }));
                }
                Some(hash)
            }
        };
        let currency = new.currency;
        let (customer_id, guest_email) = match (&new.customer_id, &new.guest_email) {
            (Some(id), None) => {
                crate::customer::CustomerReader::new(self.tx.db()).require_active(*id)?;
                (Some(*id), None)
            }
            (None, Some(email)) => (None, Some(validate::email("guest_email", email)?)),
            _ => {
                return Err(Error::invalid(
                    "customer_id",
                    "an order needs exactly one of customer_id and guest_email",
                ))
            }
        };
        if new.lines.is_empty() {
            return Err(Error::invalid("lines", "an order needs at least one line"));
        }
        if new.lines.len() > MAX_LINES_PER_ORDER {
            return Err(Error::invalid(
                "lines",
                format!(
                    "has {} lines, at most {MAX_LINES_PER_ORDER}",
                    new.lines.len()
                ),
            ));
        }
        let shipping_e4 = currency.payable("shipping", new.shipping)?;
        let note = validate::optional_long_text("note", new.note.as_deref(), MAX_NOTE_LEN)?;
        let hold_until = crate::time::checked_opt("hold_until", new.hold_until)?;
        if hold_until.is_some_and(|at| at <= self.tx.now()) {
            return Err(Error::invalid("hold_until", "must be in the future"));
        }
        let (default_shipping, default_billing) =
            if new.shipping_address.is_none() || new.billing_address.is_none() {
                self.default_addresses(customer_id)?
            } else {
                (None, None)
            };
        let shipping_address = match &new.shipping_address {
            Some(a) => Some(a.checked("shipping_address")?),
            None => default_shipping,
        };
        let billing_address = match &new.billing_address {
            Some(a) => Some(a.checked("billing_address")?),
            None => default_billing,
        };
        let catalog = match new.pricing {
            OrderPricing::Explicit => None,
            OrderPricing::Catalog => {
                let (address_field, to) = match (&shipping_address, &billing_address) {
                    (Some(a), _) => ("shipping_address", a),
                    (None, Some(b)) => ("billing_address", b),
                    (None, None) => {
                        return Err(Error::invalid(
                            "shipping_address",
                            "an order priced by the catalog needs an address to work out tax \
                             (the shipping address, else the billing address)",
                        ))
                    }
                };
                Some(CatalogPricing {
                    address_field,
                    customer_id,
                    country: to.country.clone(),
                    region: to.region.clone(),
                    buyer: crate::pricing::PricingReader::new(self.tx.db()).buyer(
                        customer_id,
                        &[],
                        self.tx.now(),
                    )?,
                })
            }
        };
        let mut lines = self.price_lines(currency, &new.lines, catalog.as_ref())?;
        let mut shipping_e4 = shipping_e4;
        let applied = match &catalog {
            None => {
                if new.coupon.is_some() {
                    return Err(Error::invalid(
                        "coupon",
                        "only an order priced by the catalog takes a coupon; an explicit order \
                         carries its discounts on its lines",
                    ));
                }
                crate::promotion::Applied::default()
            }
            Some(cp) => {
                let applied = self.apply_promotions(
                    currency,
                    cp,
                    &mut lines,
                    shipping_e4,
                    new.coupon.as_deref(),
                )?;
                shipping_e4 -= applied.shipping_discount_e4();
                applied
            }
        };
        let mut totals = [0i64; 3];
        for l in &lines {
            totals[0] = money::add_e4("subtotal", totals[0], l.subtotal_e4)?;
            totals[1] = money::add_e4("discount", totals[1], l.discount_e4)?;
            totals[2] = money::add_e4("tax", totals[2], l.tax_e4)?;
        }
        let [subtotal_e4, discount_e4, tax_e4] = totals;
        let total_e4 = money::add_e4("total", subtotal_e4 - discount_e4 + tax_e4, shipping_e4)?;

        let id = OrderId::new();
        let now = self.tx.now();
        let status = if total_e4 == 0 {
            OrderStatus::Paid
        } else {
            OrderStatus::Pending
        };
        let db = self.tx.db();
        // Several servers place orders at once on PostgreSQL: the stock
        // rows of every tracked line are locked in one fixed order, so
        // that two orders never wait for each other's stock (no deadlock)
        // and what allocation reads stays true until the reservations are
        // written (no oversell). The number comes from the order table's
        // identity there, which no placement waits for.
        let mut tracked: Vec<VariantId> = lines
            .iter()
            .filter(|l| l.variant.track_stock)
            .map(|l| l.variant.id)
            .collect();
        tracked.sort_unstable();
        for v in &tracked {
            db.lock_for_update(sql!(postgres_only: sql::LOCK_STOCK_OF_VARIANT), &[v])?;
        }
        let shipping_json = shipping_address
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .written()?;
        let billing_json = billing_address
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .written()?;
        db.execute(
            sql!(sqlite: sql::INSERT_ORDER, postgres: sql::INSERT_ORDER_PG),
            &[
                &id,
                &customer_id,
                &guest_email,
                &currency.code(),
                &status,
                &subtotal_e4,
                &discount_e4,
                &tax_e4,
                &shipping_e4,
                &total_e4,
                &shipping_json.as_deref().map(Json),
                &billing_json.as_deref().map(Json),
                &note,
                &key,
                &request_hash,
                &hold_until,
                &now,
                &shipping_address.as_ref().map(|a| a.country.as_str()),
            ],
        )?;
        let inventory = self.inventory();
        let hold = if status == OrderStatus::Pending {
            hold_until
        } else {
            None
        };
        for (i, l) in lines.iter().enumerate() {
            let line_id = OrderLineId::new();
            let columns: [&dyn crate::db::ToValue; 14] = [
                &line_id,
                &id,
                &(i + 1),
                &l.variant.id,
                &l.variant.sku,
                &l.title,
                &l.quantity,
                &l.unit_price_e4,
                &l.subtotal_e4,
                &l.discount_e4,
                &l.tax_rate_ppm,
                &l.tax_e4,
                &l.total_e4,
                &l.warehouse,
            ];
            match &l.price_source {
                // Lines priced by the caller: the statement of every
                // import and of the benchmarks' baselines.
                None => db.execute(sql!(sql::INSERT_LINE), &columns)?,
                Some(source) => {
                    let mut all: Vec<&dyn crate::db::ToValue> = columns.to_vec();
                    all.push(&l.prices_include_tax);
                    let text = serde_json::to_string(source).written()?;
                    let source = Json(&text);
                    all.push(&source);
                    db.execute(sql!(sql::INSERT_PRICED_LINE), &all)?
                }
            };
            if l.variant.track_stock {
                self.allocate(&inventory, l, id, line_id, hold)?;
            }
        }
        crate::promotion::record(self.tx, id, currency, customer_id, &applied)?;
        self.event(
            id,
            "placed",
            None,
            status,
            serde_json::json!({ "total": Money::from_e4(total_e4, currency).amount.to_string() }),
        )?;
        self.audit(id, "place", &["lines", "totals", "addresses", "status"])?;
        self.get(id)
    }

    /// The customer's default shipping and billing addresses, in one read.
    fn default_addresses(
        &self,
        customer_id: Option<CustomerId>,
    ) -> Result<(Option<AddressSnapshot>, Option<AddressSnapshot>)> {
        let Some(customer_id) = customer_id else {
            return Ok((None, None));
        };
        let (mut shipping, mut billing) = (None, None);
        self.tx
            .db()
            .query_each(sql!(sql::DEFAULT_ADDRESSES), &[&customer_id], |r| {
                let kind: String = r.get(0)?;
                let address = AddressSnapshot {
                    recipient: r.get(1)?,
                    company: r.get(2)?,
                    line1: r.get(3)?,
                    line2: r.get(4)?,
                    city: r.get(5)?,
                    region: r.get(6)?,
                    postal_code: r.get(7)?,
                    country: r.get(8)?,
                };
                match kind.as_str() {
                    "shipping" => shipping = Some(address),
                    _ => billing = Some(address),
                }
                Ok(())
            })?;
        Ok((shipping, billing))
    }

    /// Applies the promotions of docs/PRICING.md to lines priced by the
    /// catalog: each line's discount, amounts and price source are written
    /// again; the shipping discount is returned with the rest.
    fn apply_promotions(
        &self,
        currency: Currency,
        cp: &CatalogPricing,
        lines: &mut [PricedLine],
        shipping_e4: i64,
        coupon: Option<&str>,
    ) -> Result<crate::promotion::Applied> {
        // The sums promotions work on cannot overflow: the same check as
        // the order's totals, made first.
        let mut goods_e4 = 0i64;
        for l in lines.iter() {
            goods_e4 = money::add_e4(
                "subtotal",
                goods_e4,
                if l.prices_include_tax {
                    l.total_e4
                } else {
                    l.subtotal_e4
                },
            )?;
        }
        let cart: Vec<crate::promotion::CartLine> = lines
            .iter()
            .map(|l| crate::promotion::CartLine {
                product_id: l.variant.product_id,
                quantity: l.quantity,
                unit_price_e4: l.unit_price_e4,
                // Before any discount a line's total is its amount, with
                // tax on a gross line and without on a net one.
                amount_e4: if l.prices_include_tax {
                    l.total_e4
                } else {
                    l.subtotal_e4
                },
            })
            .collect();
        let applied = crate::promotion::apply(
            self.tx,
            currency,
            crate::promotion::Buyer {
                customer_id: cp.customer_id,
                groups: &cp.buyer.groups,
            },
            &cart,
            shipping_e4,
            coupon,
        )?;
        for (i, l) in lines.iter_mut().enumerate() {
            let discount_e4 = applied.line_discount_e4(i);
            if discount_e4 == 0 {
                continue;
            }
            let (subtotal_e4, tax_e4, total_e4) = line_amounts_gross_or_net(
                currency,
                l.quantity,
                l.unit_price_e4,
                discount_e4,
                l.tax_rate_ppm,
                l.prices_include_tax,
            )
            .ok_or_else(|| {
                Error::invalid(
                    format!("lines[{i}].quantity"),
                    "the line amount is too large",
                )
            })?;
            l.discount_e4 = discount_e4;
            l.subtotal_e4 = subtotal_e4;
            l.tax_e4 = tax_e4;
            l.total_e4 = total_e4;
            if let Some(source) = &mut l.price_source {
                source.discounts = applied.line_discounts(i, currency);
            }
        }
        Ok(applied)
    }

    /// A line's amounts when custdb prices it (`pricing: catalog`): the
    /// quote of docs/PRICING.md, with the fields of its errors named as the
    /// order's.
    #[allow(clippy::type_complexity)]
    fn catalog_amounts(
        &self,
        currency: Currency,
        i: usize,
        line: &NewOrderLine,
        variant: &Variant,
        cp: &CatalogPricing,
    ) -> Result<(
        i64,
        i64,
        i64,
        (i64, i64, i64),
        bool,
        Option<LinePriceSource>,
    )> {
        let f = |name: &str| format!("lines[{i}].{name}");
        if line.unit_price.is_some() {
            return Err(Error::invalid(
                f("unit_price"),
                "is worked out by the catalog in an order priced by the catalog; leave it out",
            ));
        }
        if !line.discount.is_zero() {
            return Err(Error::invalid(
                f("discount"),
                "is worked out by the catalog in an order priced by the catalog; leave it out",
            ));
        }
        if !line.tax_rate.is_zero() {
            return Err(Error::invalid(
                f("tax_rate"),
                "is worked out by the catalog in an order priced by the catalog; leave it out",
            ));
        }
        if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
            return Err(Error::invalid(
                f("quantity"),
                format!(
                    "is {}, must be between 1 and {MAX_LINE_QUANTITY}",
                    line.quantity
                ),
            ));
        }
        let request = crate::pricing::QuoteRequest {
            variant_id: variant.id,
            quantity: line.quantity,
            currency,
            country: cp.country.clone(),
            region: cp.region.clone(),
            customer_id: cp.customer_id,
            customer_group_ids: Vec::new(),
            at: Some(self.tx.now()),
        };
        let quote = crate::pricing::PricingReader::new(self.tx.db())
            .quote_variant(&request, variant, &cp.buyer, self.tx.now())
            .map_err(|e| match e.kind() {
                ErrorKind::Invalid { field, reason } => {
                    let field = match field.as_str() {
                        "country" => format!("{}.country", cp.address_field),
                        "region" => format!("{}.region", cp.address_field),
                        "currency" | "price" => f("sku"),
                        other => f(other),
                    };
                    Error::invalid(field, reason.clone())
                }
                _ => e,
            })?;
        let unit_price_e4 = money::to_e4(&f("unit_price"), quote.unit_price.amount)?;
        let tax_rate_ppm = i64::try_from((quote.tax_rate * Decimal::from(1_000_000)).trunc())
            .map_err(|_| Error::invalid(f("tax_rate"), "is out of range"))?;
        let amounts = (
            money::to_e4(&f("subtotal"), quote.subtotal.amount)?,
            money::to_e4(&f("tax"), quote.tax.amount)?,
            money::to_e4(&f("total"), quote.total.amount)?,
        );
        debug_assert_eq!(
            Some(amounts),
            line_amounts_gross_or_net(
                currency,
                line.quantity,
                unit_price_e4,
                0,
                tax_rate_ppm,
                quote.prices_include_tax
            ),
            "the quote and the order's rule agree"
        );
        let source = LinePriceSource {
            price_list_id: quote.source.price_list_id,
            price_list_key: quote.source.price_list_key,
            min_quantity: quote.source.min_quantity,
            customer_group_id: quote.source.customer_group_id,
            tax_rate_id: quote.tax_rate_id,
            tax_exempt: quote.tax_exempt,
            explanation: quote.explanation,
            discounts: Vec::new(),
        };
        Ok((
            unit_price_e4,
            0,
            tax_rate_ppm,
            amounts,
            quote.prices_include_tax,
            Some(source),
        ))
    }

    fn price_lines(
        &self,
        currency: Currency,
        lines: &[NewOrderLine],
        catalog_pricing: Option<&CatalogPricing>,
    ) -> Result<Vec<PricedLine>> {
        let catalog = CatalogReader::new(self.tx.db());
        let inventory = InventoryReader::new(self.tx.db());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut product_names: BTreeMap<crate::id::ProductId, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let f = |name: &str| format!("lines[{i}].{name}");
            let sku = crate::catalog::sku(&f("sku"), &line.sku)?;
            if let Some(first) = seen.insert(sku.clone(), i) {
                return Err(Error::invalid(
                    f("sku"),
                    format!(
                        "{sku:?} is already on line {first}; put the whole quantity on one line"
                    ),
                ));
            }
            let variant = catalog.find_by_sku(&sku)?.ok_or_else(|| {
                Error::not_found("variant", format!("with SKU {sku:?} ({})", f("sku")))
            })?;
            if variant.is_archived() {
                return Err(Error::invalid(f("sku"), format!("{sku:?} is archived")));
            }
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                return Err(Error::invalid(
                    f("quantity"),
                    format!(
                        "is {}, must be between 1 and {MAX_LINE_QUANTITY}",
                        line.quantity
                    ),
                ));
            }
            let (
                unit_price_e4,
                discount_e4,
                tax_rate_ppm,
                (subtotal_e4, tax_e4, total_e4),
                prices_include_tax,
                price_source,
            ) = if let Some(cp) = catalog_pricing {
                self.catalog_amounts(currency, i, line, &variant, cp)?
            } else {
                let unit_price_e4 = match line.unit_price {
                    Some(p) => money::unit_price(&f("unit_price"), p)?,
                    None => {
                        if variant.price.currency != currency {
                            return Err(Error::invalid(
                                f("sku"),
                                format!(
                                    "{sku:?} is priced in {}, the order is in {currency}; \
                                     one order has one currency",
                                    variant.price.currency
                                ),
                            ));
                        }
                        money::to_e4(&f("unit_price"), variant.price.amount)?
                    }
                };
                let discount_e4 = currency.payable(&f("discount"), line.discount)?;
                if line.tax_rate.is_sign_negative() && !line.tax_rate.is_zero()
                    || line.tax_rate > Decimal::ONE
                    || line.tax_rate.normalize().scale() > TAX_RATE_DECIMALS
                {
                    return Err(Error::invalid(
                        f("tax_rate"),
                        format!(
                            "is {}, must be a fraction from 0 to 1 with at most {TAX_RATE_DECIMALS} decimals",
                            line.tax_rate
                        ),
                    ));
                }
                let tax_rate_ppm =
                    i64::try_from((line.tax_rate * Decimal::from(1_000_000)).trunc())
                        .map_err(|_| Error::invalid(f("tax_rate"), "is out of range"))?;
                let subtotal = line_amounts(currency, line.quantity, unit_price_e4, 0, 0)
                    .ok_or_else(|| Error::invalid(f("quantity"), "the line amount is too large"))?
                    .0;
                if discount_e4 > subtotal {
                    return Err(Error::invalid(
                        f("discount"),
                        format!(
                            "{} is more than the line subtotal {}",
                            line.discount,
                            money::from_e4(subtotal)
                        ),
                    ));
                }
                let amounts = line_amounts(
                    currency,
                    line.quantity,
                    unit_price_e4,
                    discount_e4,
                    tax_rate_ppm,
                )
                .ok_or_else(|| Error::invalid(f("quantity"), "the line amount is too large"))?;
                (
                    unit_price_e4,
                    discount_e4,
                    tax_rate_ppm,
                    amounts,
                    false,
                    None,
                )
            };
            let warehouse = line
                .warehouse
                .as_deref()
                .map(|code| {
                    inventory
                        .warehouse_by_code(code)
                        .map(|w| w.id)
                        .map_err(|_| {
                            Error::invalid(
                                f("warehouse"),
                                format!("no warehouse has code {code:?}"),
                            )
                        })
                })
                .transpose()?;
            let product = match product_names.entry(variant.product_id) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let (name, status) = self.tx.db().query_row(
                        sql!(crate::catalog::sql::PRODUCT_NAME),
                        &[&variant.product_id],
                        |r| {
                            Ok((
                                r.get::<String>(0)?,
                                r.get::<crate::catalog::ProductStatus>(1)?,
                            ))
                        },
                    )?;
                    if status == crate::catalog::ProductStatus::Draft {
                        return Err(Error::invalid(
                            f("sku"),
                            format!(
                                "{sku:?} belongs to a draft product; make the product active \
                                 to sell it"
                            ),
                        ));
                    }
                    e.insert(name)
                }
            };
            let title = match &variant.title {
                Some(t) => format!("{product} – {t}"),
                None => product.clone(),
            };
            out.push(PricedLine {
                variant,
                prices_include_tax,
                price_source,
                title,
                quantity: line.quantity,
                unit_price_e4,
                subtotal_e4,
                discount_e4,
                tax_rate_ppm,
                tax_e4,
                total_e4,
                warehouse,
            });
        }
        Ok(out)
    }

    /// Reserves a line's stock by the allocation rule of [`place`](Orders::place).
    fn allocate(
        &self,
        inventory: &Inventory<'_>,
        line: &PricedLine,
        order_id: OrderId,
        line_id: OrderLineId,
        hold: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let v = &line.variant;
        if let Some(w) = line.warehouse {
            inventory.reserve_for(v, w, line.quantity, Some(order_id), Some(line_id), hold)?;
            return Ok(());
        }
        let warehouses = inventory.allocation_candidates(v.id, self.tx.now())?;
        if warehouses.is_empty() {
            return Err(Error::new(ErrorKind::Shortfall {
                sku: v.sku.clone(),
                warehouse: None,
                requested: line.quantity,
                available: 0,
            }));
        }
        if let Some((w, _)) = warehouses.iter().find(|(_, a)| *a >= line.quantity) {
            inventory.reserve_for(v, *w, line.quantity, Some(order_id), Some(line_id), hold)?;
            return Ok(());
        }
        let total: i64 = warehouses.iter().map(|(_, a)| (*a).max(0)).sum();
        if total < line.quantity && !v.allow_backorder {
            return Err(Error::new(ErrorKind::Shortfall {
                sku: v.sku.clone(),
                warehouse: None,
                requested: line.quantity,
                available: total,
            }));
        }
        let mut left = line.quantity;
        for (w, available) in &warehouses {
            let take = (*available).max(0).min(left);
            if take > 0 {
                inventory.reserve_for(v, *w, take, Some(order_id), Some(line_id), hold)?;
                left -= take;
            }
        }
        if left > 0 {
            // Backorder: the rest waits in the first warehouse.
            inventory.reserve_for(
                v,
                warehouses[0].0,
                left,
                Some(order_id),
                Some(line_id),
                hold,
            )?;
        }
        Ok(())
    }

    /// Appends an order event and, when the status changes, writes it.
    pub(crate) fn event(
        &self,
        id: OrderId,
        kind: &str,
        from: Option<OrderStatus>,
        to: OrderStatus,
        detail: serde_json::Value,
    ) -> Result<()> {
        let now = self.tx.now();
        let detail = detail.to_string();
        self.tx.db().execute(
            sql!(sql::INSERT_EVENT),
            &[
                &id,
                &now,
                &self.tx.actor().id(),
                &kind,
                &from,
                &to,
                &Json(&detail),
            ],
        )?;
        if from.is_some() {
            self.tx
                .db()
                .execute(sql!(sql::SET_STATUS), &[&id, &to, &now])?;
        }
        Ok(())
    }

    /// The audit entry of an order operation, whose change-feed event
    /// carries the order's state after it.
    pub(crate) fn audit(&self, id: OrderId, action: &str, fields: &[&str]) -> Result<()> {
        let facts = if crate::changes::writing() {
            change_facts(self.tx.db(), id)?
        } else {
            crate::changes::ChangeFacts::current()
        };
        self.tx.audit_change_with(
            Change {
                action,
                entity_type: "order",
                entity_id: &id.to_string(),
                changed_fields: fields,
            },
            facts,
        )
    }
}

/// An order's state for its change-feed events: status, customer, line
/// count and amounts (no address, no e-mail).
pub(crate) fn change_facts(db: Conn<'_>, id: OrderId) -> Result<crate::changes::ChangeFacts> {
    let mut facts = crate::changes::ChangeFacts::current();
    db.query_row(sql!(sql::ORDER_FACTS), &[&id], |r| {
        facts.status = Some(r.get(0)?);
        facts.currency = Some(r.get(1)?);
        facts.total = Some(crate::money::from_e4(r.get(2)?));
        facts.paid = Some(crate::money::from_e4(r.get(3)?));
        facts.refunded = Some(crate::money::from_e4(r.get(4)?));
        facts.customer_id = r.get::<Option<CustomerId>>(5)?.map(|c| c.to_string());
        facts.lines = Some(u32::try_from(r.get::<i64>(6)?).unwrap_or(u32::MAX));
        Ok(())
    })?;
    Ok(facts)
}

impl Orders<'_> {}

crate::bench_sql::sql_module! {
    /// The statements of order placement and payment, public only so that the
    /// benchmarks' raw-rusqlite baselines run exactly the same text. Not part
    /// of the API.
    mod sql {
    /// An order's state for its change-feed events.
    pub const ORDER_FACTS: &str = "SELECT status, currency, total_e4, paid_e4, refunded_e4, \
        customer_id, (SELECT count(*) FROM order_lines WHERE order_id = ?1) FROM orders \
        WHERE id = ?1";
    /// Inserts an order with the next number.
    pub const INSERT_ORDER: &str = "INSERT INTO orders (id, number, customer_id, guest_email, \
        currency, status, subtotal_e4, discount_e4, tax_e4, shipping_e4, total_e4, \
        shipping_address, billing_address, note, idempotency_key, request_hash, hold_until, \
        placed_at, updated_at, country) VALUES (?1, (SELECT coalesce(max(number), 0) + 1 FROM orders), \
        ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17, ?18)";
    /// [`INSERT_ORDER`] on PostgreSQL: the number is the table's identity.
    pub const INSERT_ORDER_PG: &str = "INSERT INTO orders (id, customer_id, guest_email, \
        currency, status, subtotal_e4, discount_e4, tax_e4, shipping_e4, total_e4, \
        shipping_address, billing_address, note, idempotency_key, request_hash, hold_until, \
        placed_at, updated_at, country) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
        ?12, ?13, ?14, ?15, ?16, ?17, ?17, ?18)";
    /// Inserts an order line.
    pub const INSERT_LINE: &str = "INSERT INTO order_lines (id, order_id, line_no, variant_id, \
        sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, tax_e4, \
        total_e4, warehouse_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
    /// A line priced by the catalog: [`INSERT_LINE`] with its basis and
    /// where its price came from.
    pub const INSERT_PRICED_LINE: &str = "INSERT INTO order_lines (id, order_id, line_no, \
        variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, \
        tax_e4, total_e4, warehouse_id, prices_include_tax, price_source) VALUES (?1, ?2, ?3, ?4, \
        ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
    /// A page of a customer's orders, newest first.
    pub const HISTORY: &str = "SELECT id, number, customer_id, status, currency, total_e4, \
        paid_e4, refunded_e4, placed_at FROM orders WHERE customer_id = ?1 \
        AND (placed_at, id) < (?2, ?3) ORDER BY placed_at DESC, id DESC LIMIT ?4";
    /// An order's status and currency.
    pub const ORDER_STATE: &str = "SELECT status, currency FROM orders WHERE id = ?1";
    /// Moves an order to a status.
    pub const SET_STATUS: &str =
        "UPDATE orders SET status = ?2, updated_at = ?3, version = version + 1 WHERE id = ?1";
    /// An order by id.
    pub const ORDER_BY_ID: &str = concat!(select_order!(), "WHERE id = ?1");
    /// An order's lines, in order.
    pub const LINES_OF_ORDER: &str =
        concat!(select_line!(), "WHERE order_id = ?1 ORDER BY line_no");
    /// A customer's default shipping and billing addresses.
    pub const DEFAULT_ADDRESSES: &str = "SELECT kind, recipient, company, line1, line2, city, \
        region, postal_code, country FROM customer_addresses WHERE customer_id = ?1 \
        AND is_default = 1 AND kind IN ('shipping', 'billing')";
    /// On PostgreSQL, the lock on one idempotency key (`$1`), held to
    /// commit, so that the same key placed on two servers at once places
    /// one order. (Two keys with the same hash only queue.)
    pub const LOCK_IDEMPOTENCY_KEY: &str =
        "SELECT pg_advisory_xact_lock(1668641653, hashtext($1))";
    /// On PostgreSQL, locks a variant's stock rows (`$1`) in warehouse
    /// order, until commit.
    pub const LOCK_STOCK_OF_VARIANT: &str =
        "SELECT 1 FROM stock_levels WHERE variant_id = $1 ORDER BY warehouse_id FOR UPDATE";
    /// On PostgreSQL, locks an order's row until commit, so that what an
    /// operation checks of it (its status, what is still due) stays true
    /// until it is written.
    pub const LOCK_ORDER: &str = "SELECT 1 FROM orders WHERE id = $1 FOR UPDATE";
    /// Appends an order event.
    pub const INSERT_EVENT: &str = "INSERT INTO order_events (order_id, at, actor_id, kind, \
        from_status, to_status, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    /// The one shipment of a historical order, delivered when shipped.
    pub const INSERT_HISTORICAL_SHIPMENT: &str = "INSERT INTO shipments (id, order_id, carrier, \
        tracking_number, shipped_at, delivered_at) VALUES (?1, ?2, 'historical', NULL, ?3, ?3)";
    /// A historical order line, shipped whole, at no discount and no tax.
    pub const INSERT_SHIPPED_LINE: &str = "INSERT INTO order_lines (id, order_id, line_no, \
        variant_id, sku, title, quantity, unit_price_e4, subtotal_e4, discount_e4, tax_rate_ppm, \
        tax_e4, total_e4, warehouse_id, quantity_shipped) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0, 0, ?9, NULL, ?7)";
    /// A historical order's paid amount, once its payment is written.
    pub const SET_PAID: &str = "UPDATE orders SET paid_e4 = ?2 WHERE id = ?1";
    }
}

::inventory::submit! {
    crate::inventory::OrderHoldExpiry { expire: expire_order }
}

/// Cancels a pending order whose hold expired; the stock ledger calls it
/// through [`crate::inventory::OrderHoldExpiry`] from
/// [`Inventory::release_expired`]. Returns the reservations released.
fn expire_order(tx: &WriteTx<'_>, id: OrderId) -> Result<usize> {
    let orders = Orders::new(tx);
    let (status, _) = orders.lock(id)?;
    if status != OrderStatus::Pending {
        // Only pending orders' holds expire; anything else keeps its stock.
        tx.db().execute(
            sql!(
                "UPDATE stock_reservations SET expires_at = NULL \
                 WHERE order_line_id IN (SELECT id FROM order_lines WHERE order_id = ?1)"
            ),
            &[&id],
        )?;
        orders.audit(id, "keep_reservations", &["expires_at"])?;
        return Ok(0);
    }
    orders.cancel_with(id, "the stock hold expired before payment", "expired")
}

/// Order invariants: totals equal the sums of their lines, each line is
/// priced by the rule, paid and refunded equal their payments and refunds,
/// shipped and returned quantities equal their shipment and return lines,
/// open reservations hold exactly what is still to ship.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    let mut push_rows = |sql: &crate::db::Sql, what: &str| -> Result<()> {
        conn.query_each(sql, &[], |r| {
            let id: OrderId = r.get(0)?;
            report.push(format!("order {id}: {what}"));
            Ok(())
        })
    };
    push_rows(
        sql!(
            "SELECT o.id FROM orders o LEFT JOIN (SELECT order_id, sum(subtotal_e4) s, \
             sum(discount_e4) d, sum(tax_e4) t FROM order_lines GROUP BY order_id) l \
             ON l.order_id = o.id \
             WHERE o.subtotal_e4 <> coalesce(l.s, 0) OR o.discount_e4 <> coalesce(l.d, 0) \
             OR o.tax_e4 <> coalesce(l.t, 0) \
             OR o.total_e4 <> o.subtotal_e4 - o.discount_e4 + o.tax_e4 + o.shipping_e4 \
             ORDER BY o.id"
        ),
        "totals differ from the sum of the lines",
    )?;
    push_rows(
        sql!(
            "SELECT o.id FROM orders o LEFT JOIN (SELECT order_id, \
             sum(CASE WHEN status IN ('captured', 'refunded') THEN amount_e4 ELSE 0 END) paid, \
             sum(refunded_e4) refunded FROM payments GROUP BY order_id) p ON p.order_id = o.id \
             WHERE o.paid_e4 <> coalesce(p.paid, 0) OR o.refunded_e4 <> coalesce(p.refunded, 0) \
             OR o.refunded_e4 > o.paid_e4 OR o.paid_e4 > o.total_e4 ORDER BY o.id"
        ),
        "paid or refunded differs from its payments, or refunded exceeds paid",
    )?;
    push_rows(
        sql!(
            "SELECT p.order_id FROM payments p LEFT JOIN (SELECT payment_id, sum(amount_e4) a \
             FROM refunds GROUP BY payment_id) r ON r.payment_id = p.id \
             WHERE p.refunded_e4 <> coalesce(r.a, 0) OR p.refunded_e4 > p.amount_e4 \
             ORDER BY p.order_id"
        ),
        "a payment's refunded amount differs from its refunds",
    )?;
    push_rows(
        sql!(
            "SELECT l.order_id FROM order_lines l \
             LEFT JOIN (SELECT order_line_id, sum(quantity) q FROM shipment_lines \
               GROUP BY order_line_id) s ON s.order_line_id = l.id \
             LEFT JOIN (SELECT order_line_id, sum(quantity) q FROM return_lines \
               GROUP BY order_line_id) r ON r.order_line_id = l.id \
             WHERE l.quantity_shipped <> coalesce(s.q, 0) \
             OR l.quantity_returned <> coalesce(r.q, 0) ORDER BY l.order_id"
        ),
        "shipped or returned quantities differ from shipments and returns",
    )?;
    push_rows(
        sql!(
            "SELECT l.order_id FROM order_lines l JOIN orders o ON o.id = l.order_id \
             JOIN product_variants v ON v.id = l.variant_id \
             LEFT JOIN (SELECT order_line_id, sum(open_quantity) q FROM stock_reservations \
               WHERE order_line_id IS NOT NULL GROUP BY order_line_id) r \
               ON r.order_line_id = l.id \
             WHERE coalesce(r.q, 0) <> CASE WHEN o.status IN ('cancelled', 'refunded') \
               OR v.track_stock = 0 THEN 0 \
               ELSE l.quantity - l.quantity_shipped END ORDER BY l.order_id"
        ),
        "open reservations differ from the quantity still to ship",
    )?;
    // Each line's amounts, recomputed by the pricing rule.
    let mut seen_currency: HashSet<String> = HashSet::new();
    conn.query_each(
        sql!(
            "SELECT l.order_id, l.line_no, o.currency, l.quantity, l.unit_price_e4, \
             l.discount_e4, l.tax_rate_ppm, l.subtotal_e4, l.tax_e4, l.total_e4, \
             l.prices_include_tax, l.price_source \
             FROM order_lines l JOIN orders o ON o.id = l.order_id"
        ),
        &[],
        |r| {
            let order_id: OrderId = r.get(0)?;
            let line_no: i64 = r.get(1)?;
            let code: String = r.get(2)?;
            let Ok(currency) = Currency::from_db(&code) else {
                if seen_currency.insert(code.clone()) {
                    report.push(format!("order {order_id}: unknown currency {code:?}"));
                }
                return Ok(());
            };
            let stored: (i64, i64, i64) = (r.get(7)?, r.get(8)?, r.get(9)?);
            let computed = line_amounts_gross_or_net(
                currency,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(10)?,
            );
            if let Some(source) = r.get::<Option<String>>(11)? {
                if let Err(e) = serde_json::from_str::<LinePriceSource>(&source) {
                    report.push(format!(
                        "order {order_id} line {line_no}: its price source does not read: {e}"
                    ));
                }
            }
            if computed != Some(stored) {
                report.push(format!(
                    "order {order_id} line {line_no}: stored amounts {stored:?}, the pricing \
                     rule gives {computed:?}"
                ));
            }
            Ok(())
        },
    )
}

crate::one_shot::one_shot! {
    /// Orders for single operations, each its own unit of work:
    /// `store.orders().pay(order_id, payment)`. Operations that must succeed
    /// together go in one [`Store::write`](crate::Store::write) instead.
    StoreOrders => write orders: Orders, read orders: OrderReader;
    write {
        fn place(new: NewOrder) -> Order;
        fn pay(order_id: OrderId, new: crate::NewPayment) -> crate::Payment;
        fn pay_with_gift_card(order_id: OrderId, code: &str, amount: Decimal) -> crate::Payment;
        fn pay_with_store_credit(order_id: OrderId, amount: Decimal) -> crate::Payment;
        fn pay_with_points(order_id: OrderId, points: i64) -> crate::Payment;
        fn authorize_payment(order_id: OrderId, new: crate::NewPayment) -> crate::Payment;
        fn capture_payment(payment_id: crate::PaymentId) -> crate::Payment;
        fn fail_payment(payment_id: crate::PaymentId) -> crate::Payment;
        fn ship(order_id: OrderId, new: crate::NewShipment) -> crate::Shipment;
        fn mark_delivered(order_id: OrderId) -> ();
        fn cancel(order_id: OrderId, reason: &str) -> ();
        fn return_items(order_id: OrderId, new: crate::NewReturn) -> crate::Return;
        fn refund(order_id: OrderId, new: crate::NewRefund) -> Vec<crate::Refund>;
        fn issue_credit_note(new: &crate::NewCreditNote) -> crate::CreditNote;
        fn record_historical(order: &crate::HistoricalOrder) -> OrderId;
    }
    read {
        fn get(id: OrderId) -> Order;
        fn by_number(number: i64) -> Order;
        fn events(id: OrderId) -> Vec<OrderEvent>;
        fn history(customer_id: CustomerId, after: Option<&Cursor>, limit: usize) -> Page<OrderSummary>;
        fn by_status(status: OrderStatus, after: Option<&Cursor>, limit: usize) -> Page<OrderSummary>;
        fn lifetime_value(customer_id: CustomerId) -> Vec<Money>;
        fn sales_by_variant(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<VariantSales>;
        fn payments(order_id: OrderId) -> Vec<crate::Payment>;
        fn payment(id: crate::PaymentId) -> crate::Payment;
        fn shipments(order_id: OrderId) -> Vec<crate::Shipment>;
        fn returns(order_id: OrderId) -> Vec<crate::Return>;
        fn refunds(order_id: OrderId) -> Vec<crate::Refund>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Orders for one-shot calls, each its own unit of work
    /// ([`StoreOrders`](crate::order::StoreOrders)).
    pub fn orders(&self) -> crate::order::StoreOrders<'_> {
        crate::order::StoreOrders::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Orders, payments and fulfilment inside this transaction.
    pub fn orders(&self) -> crate::order::Orders<'_> {
        crate::order::Orders::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Orders, read-only.
    pub fn orders(&self) -> crate::order::OrderReader<'a> {
        crate::order::OrderReader::new(self.db())
    }
}
