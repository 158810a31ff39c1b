//! What happens to an order after placement: payments, shipments,
//! delivery, cancellation, returns and refunds. See the state machine in
//! the [module docs](crate::order).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::{OrderReader, OrderStatus, Orders};
use crate::catalog::CatalogReader;
use crate::db::{sql, Row};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{OrderId, PaymentId, RefundId, ReturnId, ShipmentId, WarehouseId};
use crate::inventory::{Inventory, Move, MovementKind};
use crate::money::{self, Currency, Money};
use crate::text_enum::text_enum;
use crate::validate;

/// Longest carrier name, in characters.
pub const MAX_CARRIER_LEN: usize = 64;
/// Longest tracking number or provider reference, in characters.
pub const MAX_REFERENCE_LEN: usize = 128;
/// Longest reason (cancel, return, refund), in characters.
pub const MAX_REASON_LEN: usize = 200;

text_enum!(
    /// How a payment was made. custdb never stores card numbers: only the
    /// method, the provider and the provider's reference.
    PaymentMethod {
        /// A card, through a payment provider.
        Card = "card",
        /// A bank transfer.
        BankTransfer = "bank_transfer",
        /// Cash.
        Cash = "cash",
        /// A wallet (PayPal, Apple Pay, ...).
        Wallet = "wallet",
        /// A gift card (custdb's own, through
        /// [`pay_with_gift_card`](Orders::pay_with_gift_card), or another
        /// system's).
        GiftCard = "gift_card",
        /// The customer's store credit, only through
        /// [`pay_with_store_credit`](Orders::pay_with_store_credit).
        StoreCredit = "store_credit",
        /// The customer's loyalty points, only through
        /// [`pay_with_points`](Orders::pay_with_points).
        LoyaltyPoints = "loyalty_points",
        /// On invoice.
        Invoice = "invoice",
        /// Anything else.
        Other = "other",
    }
);

text_enum!(
    /// Where a refund's money went.
    RefundDestination {
        /// Back through the payment's provider (the card, the bank...).
        Payment = "payment",
        /// Onto the custdb gift card that made the payment.
        GiftCard = "gift_card",
        /// To the customer's store credit: asked for with
        /// [`NewRefund::to_store_credit`], and always for a payment made
        /// with store credit.
        StoreCredit = "store_credit",
        /// Back to the customer's loyalty points: always for a payment made
        /// with points.
        LoyaltyPoints = "loyalty_points",
    }
);

text_enum!(
    /// Where a payment is.
    PaymentStatus {
        /// Authorized, not yet captured: counts for nothing yet.
        Authorized = "authorized",
        /// Captured: counts as paid.
        Captured = "captured",
        /// Captured and then refunded in full.
        Refunded = "refunded",
        /// Declined or voided.
        Failed = "failed",
    }
);

/// A payment of an order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Payment {
    /// The id.
    pub id: PaymentId,
    /// The order.
    pub order_id: OrderId,
    /// Method.
    pub method: PaymentMethod,
    /// Provider (e.g. `stripe`).
    pub provider: Option<String>,
    /// The provider's reference (never a card number).
    pub provider_reference: Option<String>,
    /// Amount.
    pub amount: Money,
    /// Currency (the order's).
    pub currency: Currency,
    /// Status.
    pub status: PaymentStatus,
    /// Refunded from it so far.
    pub refunded: Money,
    /// When recorded.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// A payment to record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewPayment {
    /// Method.
    pub method: PaymentMethod,
    /// Amount, in the order's currency, at most what is still due.
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub amount: Decimal,
    /// Provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// The provider's reference.
    #[serde(default)]
    pub provider_reference: Option<String>,
}
crate::input::strict_serde!(NewPayment);

impl NewPayment {
    /// A payment of `amount` by `method`.
    pub fn new(method: PaymentMethod, amount: Decimal) -> Self {
        NewPayment {
            method,
            amount,
            provider: None,
            provider_reference: None,
        }
    }

    /// Sets the provider and its reference.
    pub fn provider(mut self, provider: impl Into<String>, reference: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self.provider_reference = Some(reference.into());
        self
    }
}

/// A shipment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Shipment {
    /// The id.
    pub id: ShipmentId,
    /// The order.
    pub order_id: OrderId,
    /// Carrier.
    pub carrier: String,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// When it left.
    pub shipped_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// What it holds.
    pub lines: Vec<ShipmentLine>,
}

/// Units of one order line in a shipment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ShipmentLine {
    /// The line's SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
}

/// A shipment to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewShipment {
    /// Carrier (required).
    pub carrier: String,
    /// Tracking number.
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// What it holds; empty means everything not yet shipped.
    #[serde(default)]
    pub lines: Vec<ShipmentLine>,
}
crate::input::strict_serde!(NewShipment);

impl NewShipment {
    /// A shipment of everything not yet shipped.
    pub fn everything(carrier: impl Into<String>, tracking_number: impl Into<String>) -> Self {
        NewShipment {
            carrier: carrier.into(),
            tracking_number: Some(tracking_number.into()),
            lines: Vec::new(),
        }
    }

    /// Adds units of a line.
    pub fn line(mut self, sku: impl Into<String>, quantity: i64) -> Self {
        self.lines.push(ShipmentLine {
            sku: sku.into(),
            quantity,
        });
        self
    }
}

/// A return of goods.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Return {
    /// The id.
    pub id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// What came back.
    pub lines: Vec<ReturnLine>,
}

/// Units of one line that came back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct ReturnLine {
    /// The line's SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// Put back into stock, in this warehouse; `None` when not restocked.
    pub restocked_into: Option<WarehouseId>,
}

/// A return to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewReturn {
    /// Why (required).
    pub reason: String,
    /// What came back (at least one line).
    pub lines: Vec<NewReturnLine>,
}
crate::input::strict_serde!(NewReturn);

impl NewReturn {
    /// A return for a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        NewReturn {
            reason: reason.into(),
            lines: Vec::new(),
        }
    }

    /// Adds a line: [`NewReturnLine::restocked`] or
    /// [`NewReturnLine::not_restocked`].
    pub fn line(mut self, line: NewReturnLine) -> Self {
        self.lines.push(line);
        self
    }
}

impl NewReturnLine {
    /// Units of a SKU that came back and go back on hand (a `return`
    /// movement), into the warehouse the line's stock was reserved in
    /// first unless [`warehouse`](NewReturnLine::warehouse) names another.
    pub fn restocked(sku: impl Into<String>, quantity: i64) -> Self {
        NewReturnLine {
            sku: sku.into(),
            quantity,
            restock: true,
            warehouse: None,
        }
    }

    /// Units of a SKU that came back and do not go back on hand (damaged,
    /// opened, disposed of).
    pub fn not_restocked(sku: impl Into<String>, quantity: i64) -> Self {
        NewReturnLine {
            sku: sku.into(),
            quantity,
            restock: false,
            warehouse: None,
        }
    }

    /// Restocks into this warehouse (its code).
    pub fn warehouse(mut self, code: impl Into<String>) -> Self {
        self.warehouse = Some(code.into());
        self
    }
}

/// One line of a return to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewReturnLine {
    /// The line's SKU.
    pub sku: String,
    /// Units, at most those shipped and not yet returned.
    pub quantity: i64,
    /// Put the units back into stock.
    pub restock: bool,
    /// Restock into this warehouse (code); by default the one the line's
    /// stock was reserved in first.
    #[serde(default)]
    pub warehouse: Option<String>,
}
crate::input::strict_serde!(NewReturnLine);

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Refund {
    /// The id.
    pub id: RefundId,
    /// The order.
    pub order_id: OrderId,
    /// The payment it returns money from.
    pub payment_id: PaymentId,
    /// Amount.
    pub amount: Money,
    /// Where the money went.
    pub destination: RefundDestination,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewRefund {
    /// Amount, at most what was paid and not yet refunded.
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub amount: Decimal,
    /// Why (required).
    pub reason: String,
    /// Refund from this payment; by default from the captured payments,
    /// newest first.
    #[serde(default)]
    pub payment_id: Option<PaymentId>,
    /// The money goes to the customer's store credit instead of back
    /// through the payments (docs/BALANCES.md); not for a guest's order.
    /// What store credit paid always goes back to store credit.
    #[serde(default)]
    pub to_store_credit: bool,
}
crate::input::strict_serde!(NewRefund);

impl NewRefund {
    /// A refund of `amount` for `reason`.
    pub fn new(amount: Decimal, reason: impl Into<String>) -> Self {
        NewRefund {
            amount,
            reason: reason.into(),
            payment_id: None,
            to_store_credit: false,
        }
    }

    /// The money goes to the customer's store credit (docs/BALANCES.md).
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{Currency, Decimal, NewCustomer, NewOrder, NewOrderLine, NewPayment};
    /// use custdb::{NewProduct, NewRefund, NewVariant, PaymentMethod, RefundDestination, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// let mug = NewVariant::new("MUG", Decimal::new(1000, 2), Currency::GBP).track_stock(false);
    /// store.catalog().create_product(NewProduct::new("Mug").variant(mug))?;
    /// let ann = store.customers().create(NewCustomer::new("Ann"))?;
    /// let first = store.orders().place(
    ///     NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("MUG", 1)),
    /// )?;
    /// store.orders().pay(first.id, NewPayment::new(PaymentMethod::Card, first.total.amount))?;
    /// // The mug came chipped: Ann takes 10.00 as store credit, not back on her card.
    /// let refunds = store.orders().refund(
    ///     first.id,
    ///     NewRefund::new(first.total.amount, "chipped").to_store_credit(),
    /// )?;
    /// assert_eq!(refunds[0].destination, RefundDestination::StoreCredit);
    /// let next = store.orders().place(
    ///     NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("MUG", 2)),
    /// )?;
    /// store.orders().pay_with_store_credit(next.id, Decimal::new(1000, 2))?;
    /// store.orders().pay(next.id, NewPayment::new(PaymentMethod::Card, Decimal::new(1000, 2)))?;
    /// let left = store.store_credit().store_credit_balance(ann.id, Currency::GBP)?;
    /// assert_eq!(left.to_string(), "0.00 GBP");
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn to_store_credit(mut self) -> Self {
        self.to_store_credit = true;
        self
    }
}

macro_rules! select_payment {
    () => {
        "SELECT id, order_id, method, provider, provider_reference, amount_e4, currency, \
         status, refunded_e4, created_at, updated_at FROM payments "
    };
}

fn payment_from_row(row: &Row<'_>) -> Result<Payment> {
    let currency = Currency::from_db(&row.get::<String>(6)?)?;
    Ok(Payment {
        id: row.get(0)?,
        order_id: row.get(1)?,
        method: row.get(2)?,
        provider: row.get(3)?,
        provider_reference: row.get(4)?,
        amount: Money::from_e4(row.get(5)?, currency),
        currency,
        status: row.get(7)?,
        refunded: Money::from_e4(row.get(8)?, currency),
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

fn illegal(id: OrderId, from: OrderStatus, action: &'static str) -> Error {
    Error::new(ErrorKind::InvalidTransition {
        entity: "order",
        id: id.to_string(),
        from: from.as_str().to_owned(),
        action,
    })
}

impl OrderReader<'_> {
    /// An order's payments, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub fn payments(&self, order_id: OrderId) -> Result<Vec<Payment>> {
        self.require(order_id)?;
        self.db().query_vec(
            sql!(concat!(
                select_payment!(),
                "WHERE order_id = ?1 ORDER BY created_at, id"
            )),
            &[&order_id],
            payment_from_row,
        )
    }

    /// A payment.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn payment(&self, id: PaymentId) -> Result<Payment> {
        self.db()
            .query_opt(sql!(sql::PAYMENT_BY_ID), &[&id], payment_from_row)?
            .ok_or_else(|| Error::not_found("payment", id))
    }

    /// An order's shipments, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub fn shipments(&self, order_id: OrderId) -> Result<Vec<Shipment>> {
        self.require(order_id)?;
        let mut out: Vec<Shipment> = Vec::new();
        self.db()
            .query_each(sql!(sql::SHIPMENTS_OF_ORDER), &[&order_id], |r| {
                let id: ShipmentId = r.get(0)?;
                if out.last().is_none_or(|s| s.id != id) {
                    out.push(Shipment {
                        id,
                        order_id,
                        carrier: r.get(1)?,
                        tracking_number: r.get(2)?,
                        shipped_at: r.get(3)?,
                        delivered_at: r.get(4)?,
                        lines: Vec::new(),
                    });
                }
                if let Some(s) = out.last_mut() {
                    s.lines.push(ShipmentLine {
                        sku: r.get(5)?,
                        quantity: r.get(6)?,
                    });
                }
                Ok(())
            })?;
        Ok(out)
    }

    /// An order's returns, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub fn returns(&self, order_id: OrderId) -> Result<Vec<Return>> {
        self.require(order_id)?;
        let mut out: Vec<Return> = Vec::new();
        self.db().query_each(
            sql!(
                "SELECT t.id, t.reason, t.created_at, l.sku, rl.quantity, rl.warehouse_id \
                 FROM returns t JOIN return_lines rl ON rl.return_id = t.id \
                 JOIN order_lines l ON l.id = rl.order_line_id \
                 WHERE t.order_id = ?1 ORDER BY t.created_at, t.id, l.line_no"
            ),
            &[&order_id],
            |r| {
                let id: ReturnId = r.get(0)?;
                if out.last().is_none_or(|t| t.id != id) {
                    out.push(Return {
                        id,
                        order_id,
                        reason: r.get(1)?,
                        created_at: r.get(2)?,
                        lines: Vec::new(),
                    });
                }
                if let Some(t) = out.last_mut() {
                    t.lines.push(ReturnLine {
                        sku: r.get(3)?,
                        quantity: r.get(4)?,
                        restocked_into: r.get(5)?,
                    });
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// An order's refunds, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown order.
    pub fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>> {
        let (_, currency) = self.require(order_id)?;
        self.db().query_vec(
            sql!(
                "SELECT id, payment_id, amount_e4, reason, created_at, destination FROM refunds \
                 WHERE order_id = ?1 ORDER BY created_at, id"
            ),
            &[&order_id],
            |r| {
                Ok(Refund {
                    id: r.get(0)?,
                    order_id,
                    payment_id: r.get(1)?,
                    amount: Money::from_e4(r.get(2)?, currency),
                    destination: r.get(5)?,
                    reason: r.get(3)?,
                    created_at: r.get(4)?,
                })
            },
        )
    }
}

impl Orders<'_> {
    fn amounts(&self, id: OrderId) -> Result<(i64, i64, i64)> {
        self.tx()
            .db()
            .query_row(sql!(sql::ORDER_AMOUNTS), &[&id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
    }

    /// Records a captured payment (the money is taken). When captured
    /// payments reach the total, the order becomes `paid` and its stock
    /// holds stop expiring.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is `pending`;
    /// [`ErrorKind::Invalid`] on `amount` (not above 0, more decimals than
    /// the currency, more than is still due), `provider`,
    /// `provider_reference`.
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
    /// let payment = store.write(|tx| {
    ///     tx.orders().pay(
    ///         order.id,
    ///         // The provider's reference, never a card number.
    ///         NewPayment::new(PaymentMethod::Card, order.total.amount).provider("stripe", "pi_3Mtw"),
    ///     )
    /// })?;
    /// assert_eq!(payment.amount, order.total);
    /// let paid = store.read(|r| r.orders().get(order.id))?;
    /// assert_eq!(paid.status, custdb::OrderStatus::Paid);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn pay(&self, order_id: OrderId, new: NewPayment) -> Result<Payment> {
        self.tx().atomic(|| {
            let (id, amount_e4, currency) =
                self.insert_payment(order_id, &new, PaymentStatus::Captured, None)?;
            self.captured(order_id, id, amount_e4, currency)?;
            self.payment(id)
        })
    }

    /// Pays (part of) a `pending` order with a custdb gift card
    /// (docs/BALANCES.md): a captured payment of method `gift_card`,
    /// provider `custdb`, reference `gift card …` and the code's last four
    /// characters, and a `redeem` entry on the card's ledger, in one unit
    /// of work. A refund of the payment goes back to the card.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is `pending`;
    /// [`ErrorKind::Invalid`] naming `code` (no card has it, switched
    /// off, expired, another currency) or `amount` (not above 0, more than
    /// still due, more than the card's balance).
    pub fn pay_with_gift_card(
        &self,
        order_id: OrderId,
        code: &str,
        amount: Decimal,
    ) -> Result<Payment> {
        self.tx().atomic(|| {
            let (_, currency) = self.lock(order_id)?;
            let amount_e4 = currency.payable("amount", amount)?;
            let card = crate::giftcard::usable(self.tx(), code, currency, amount_e4)?;
            let new = NewPayment::new(PaymentMethod::GiftCard, amount).provider(
                crate::giftcard::PROVIDER,
                format!("gift card …{}", card.code_last4),
            );
            let (id, amount_e4, currency) = self.insert_payment(
                order_id,
                &new,
                PaymentStatus::Captured,
                Some(PaymentMethod::GiftCard),
            )?;
            // The card's row is locked after the order's (a refund takes
            // them in the same order) and its balance read again there.
            crate::giftcard::post(
                self.tx(),
                card.id,
                "amount",
                crate::giftcard::Posting {
                    kind: crate::giftcard::GiftCardEntryKind::Redeem,
                    amount_e4: -amount_e4,
                    order_id: Some(order_id),
                    payment_id: Some(id),
                    refund_id: None,
                    reason: None,
                },
            )?;
            self.captured(order_id, id, amount_e4, currency)?;
            self.payment(id)
        })
    }

    /// Pays (part of) a `pending` order with its customer's store credit
    /// (docs/BALANCES.md): a captured payment of method `store_credit`,
    /// provider `custdb`, reference `store credit`, and a `spend` entry on
    /// the customer's store credit in the order's currency, in one unit of
    /// work. A refund of the payment goes back to store credit.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is `pending`;
    /// [`ErrorKind::Invalid`] naming `order_id` for a guest's order, or
    /// `amount` (not above 0, more decimals than the currency, more than
    /// still due, more than the customer's store credit).
    pub fn pay_with_store_credit(&self, order_id: OrderId, amount: Decimal) -> Result<Payment> {
        self.tx().atomic(|| {
            self.lock(order_id)?;
            let customer =
                crate::storecredit::customer_of_order(self.tx().db(), order_id, "order_id")?;
            let new = NewPayment::new(PaymentMethod::StoreCredit, amount)
                .provider(crate::giftcard::PROVIDER, "store credit");
            let (id, amount_e4, currency) = self.insert_payment(
                order_id,
                &new,
                PaymentStatus::Captured,
                Some(PaymentMethod::StoreCredit),
            )?;
            // The account's row is locked after the order's, as a refund
            // takes them; its balance is read there.
            let mut spend = crate::storecredit::Posting::new(
                crate::storecredit::StoreCreditEntryKind::Spend,
                -amount_e4,
            );
            spend.order_id = Some(order_id);
            spend.payment_id = Some(id);
            crate::storecredit::post(self.tx(), customer, currency, "amount", spend)?;
            self.captured(order_id, id, amount_e4, currency)?;
            self.payment(id)
        })
    }

    /// Pays (part of) a `pending` order with its customer's loyalty points
    /// (docs/BALANCES.md): `points` worth their value under the loyalty
    /// rule of the order's currency, as a captured payment of method
    /// `loyalty_points`, provider `custdb`, reference `N points`, and a
    /// `spend` entry taking the soonest-expiring points first, in one unit
    /// of work. A refund of the payment gives the points back.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is `pending`;
    /// [`ErrorKind::Invalid`] naming `order_id` for a guest's order,
    /// `points` (not 1 to [`MAX_LOYALTY_POINTS`](crate::loyalty::MAX_LOYALTY_POINTS),
    /// no loyalty rule in the order's currency, worth a fraction of its
    /// smallest unit, more than the customer has) or `amount` (worth more
    /// than still due).
    pub fn pay_with_points(&self, order_id: OrderId, points: i64) -> Result<Payment> {
        self.tx().atomic(|| {
            let (_, currency) = self.lock(order_id)?;
            let customer =
                crate::storecredit::customer_of_order(self.tx().db(), order_id, "order_id")?;
            let amount_e4 = crate::loyalty::points_value(self.tx(), currency, points)?;
            let new = NewPayment::new(PaymentMethod::LoyaltyPoints, money::from_e4(amount_e4))
                .provider(crate::giftcard::PROVIDER, format!("{points} points"));
            let (id, amount_e4, currency) = self.insert_payment(
                order_id,
                &new,
                PaymentStatus::Captured,
                Some(PaymentMethod::LoyaltyPoints),
            )?;
            // The account's row is locked after the order's, as a refund
            // takes them.
            crate::loyalty::debit(
                self.tx(),
                customer,
                crate::loyalty::LoyaltyEntryKind::Spend,
                points,
                "points",
                &crate::loyalty::Links {
                    order_id: Some(order_id),
                    payment_id: Some(id),
                    ..Default::default()
                },
                None,
                false,
            )?;
            self.captured(order_id, id, amount_e4, currency)?;
            self.payment(id)
        })
    }

    /// Records an authorized payment, to [`capture`](Orders::capture_payment)
    /// later. It counts for nothing until captured.
    ///
    /// # Errors
    ///
    /// As [`pay`](Orders::pay).
    pub fn authorize_payment(&self, order_id: OrderId, new: NewPayment) -> Result<Payment> {
        self.tx().atomic(|| {
            let (id, _, _) =
                self.insert_payment(order_id, &new, PaymentStatus::Authorized, None)?;
            let (status, currency) = self.require(order_id)?;
            self.event(
                order_id,
                "payment_authorized",
                Some(status),
                status,
                json!({ "payment_id": id, "amount": currency.present(new.amount).to_string() }),
            )?;
            self.audit(order_id, "authorize_payment", &["payments"])?;
            self.payment(id)
        })
    }

    /// Captures an authorized payment.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the payment is authorized
    /// and the order `pending`;
    /// [`ErrorKind::Invalid`] on `amount` when it is more than still due.
    pub fn capture_payment(&self, payment_id: PaymentId) -> Result<Payment> {
        self.tx().atomic(|| {
            let order_id = self.payment(payment_id)?.order_id;
            let (status, _) = self.lock(order_id)?;
            // Read again under the order's lock: another server may have
            // captured or failed it meanwhile.
            let p = self.payment(payment_id)?;
            if p.status != PaymentStatus::Authorized {
                return Err(payment_state(payment_id, p.status, "capture"));
            }
            if status != OrderStatus::Pending {
                return Err(illegal(p.order_id, status, "capture a payment"));
            }
            self.check_due(
                p.order_id,
                money::to_e4("amount", p.amount.amount)?,
                p.amount,
            )?;
            self.tx().db().execute(
                sql!("UPDATE payments SET status = 'captured', updated_at = ?2 WHERE id = ?1"),
                &[&payment_id, &self.tx().now()],
            )?;
            self.captured(
                p.order_id,
                payment_id,
                money::to_e4("amount", p.amount.amount)?,
                p.currency,
            )?;
            self.payment(payment_id)
        })
    }

    /// Marks an authorized payment failed (declined or voided).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the payment is authorized.
    pub fn fail_payment(&self, payment_id: PaymentId) -> Result<Payment> {
        self.tx().atomic(|| {
            let order_id = self.payment(payment_id)?.order_id;
            let (status, _) = self.lock(order_id)?;
            let p = self.payment(payment_id)?;
            if p.status != PaymentStatus::Authorized {
                return Err(payment_state(payment_id, p.status, "fail"));
            }
            self.tx().db().execute(
                sql!("UPDATE payments SET status = 'failed', updated_at = ?2 WHERE id = ?1"),
                &[&payment_id, &self.tx().now()],
            )?;
            self.event(
                p.order_id,
                "payment_failed",
                Some(status),
                status,
                json!({ "payment_id": payment_id }),
            )?;
            self.audit(p.order_id, "fail_payment", &["payments"])?;
            self.payment(payment_id)
        })
    }

    fn check_due(&self, order_id: OrderId, amount_e4: i64, amount: Money) -> Result<()> {
        let (total, paid, _) = self.amounts(order_id)?;
        if amount_e4 > total - paid {
            return Err(Error::invalid(
                "amount",
                format!(
                    "{amount} is more than the {} still due",
                    Money::from_e4(total - paid, amount.currency)
                ),
            ));
        }
        Ok(())
    }

    /// `own`: the payment is made by one of custdb's own instruments, a
    /// gift card ([`pay_with_gift_card`](Orders::pay_with_gift_card)) or
    /// store credit ([`pay_with_store_credit`](Orders::pay_with_store_credit)),
    /// the only payments with the provider `custdb`.
    fn insert_payment(
        &self,
        order_id: OrderId,
        new: &NewPayment,
        status: PaymentStatus,
        own: Option<PaymentMethod>,
    ) -> Result<(PaymentId, i64, Currency)> {
        debug_assert!(own.is_none_or(|m| m == new.method));
        let (order_status, currency) = self.lock(order_id)?;
        if order_status != OrderStatus::Pending {
            return Err(illegal(order_id, order_status, "take a payment"));
        }
        let provider = validate::optional_text("provider", new.provider.as_deref(), 64)?;
        let reference = validate::optional_text(
            "provider_reference",
            new.provider_reference.as_deref(),
            MAX_REFERENCE_LEN,
        )?;
        if let Some(provider) = &provider {
            validate::no_card_number("provider", provider)?;
        }
        if provider.as_deref() == Some(crate::giftcard::PROVIDER) && own.is_none() {
            return Err(Error::invalid(
                "provider",
                "\"custdb\" names custdb's own gift cards, store credit and loyalty points; \
                 pay with them through pay_with_gift_card, pay_with_store_credit or \
                 pay_with_points",
            ));
        }
        if own.is_none() {
            let through = match new.method {
                PaymentMethod::StoreCredit => Some("pay_with_store_credit"),
                PaymentMethod::LoyaltyPoints => Some("pay_with_points"),
                _ => None,
            };
            if let Some(through) = through {
                return Err(Error::invalid(
                    "method",
                    format!(
                        "{} is custdb's own balance; pay with it through {through}",
                        new.method.as_str()
                    ),
                ));
            }
        }
        if let Some(reference) = &reference {
            validate::no_card_number("provider_reference", reference)?;
        }
        let amount_e4 = currency.payable("amount", new.amount)?;
        if amount_e4 == 0 {
            return Err(Error::invalid("amount", "must be above 0"));
        }
        self.check_due(order_id, amount_e4, Money::new(new.amount, currency))?;
        let id = PaymentId::new();
        self.tx().db().execute(
            sql!(sql::INSERT_PAYMENT),
            &[
                &id,
                &order_id,
                &new.method,
                &provider,
                &reference,
                &amount_e4,
                &currency.code(),
                &status,
                &self.tx().now(),
            ],
        )?;
        Ok((id, amount_e4, currency))
    }

    /// Books a captured payment on the order and moves it to `paid` when
    /// it is paid in full.
    fn captured(
        &self,
        order_id: OrderId,
        payment_id: PaymentId,
        amount_e4: i64,
        currency: Currency,
    ) -> Result<()> {
        let amount = currency.present(money::from_e4(amount_e4));
        let (total, paid): (i64, i64) = self.tx().db().query_row(
            sql!(sql::ADD_PAID),
            &[&order_id, &amount_e4, &self.tx().now()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        debug_assert!(paid <= total, "check_due keeps payments within the total");
        let to = if paid == total {
            // Paid orders keep their stock: holds stop expiring.
            self.tx()
                .db()
                .execute(sql!(sql::KEEP_RESERVATIONS), &[&order_id])?;
            crate::loyalty::earn_for_order(self.tx(), order_id, currency)?;
            OrderStatus::Paid
        } else {
            OrderStatus::Pending
        };
        self.event(
            order_id,
            "payment_captured",
            Some(OrderStatus::Pending),
            to,
            json!({ "payment_id": payment_id, "amount": amount.to_string() }),
        )?;
        self.audit(order_id, "capture_payment", &["payments", "paid", "status"])
    }

    /// Ships units of the order: consumes their reservations (a `shipment`
    /// movement each) and moves the order to `partially_shipped` or
    /// `shipped`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is `paid` or
    /// `partially_shipped`; [`ErrorKind::Invalid`] on `carrier`,
    /// `tracking_number`, `lines[i].sku` (not on the order, twice),
    /// `lines[i].quantity` (not above 0, or more than is left to ship);
    /// [`ErrorKind::Shortfall`] when a backordered unit is not in stock yet.
    pub fn ship(&self, order_id: OrderId, new: NewShipment) -> Result<Shipment> {
        self.tx().atomic(|| self.ship_inner(order_id, new))
    }

    fn ship_inner(&self, order_id: OrderId, new: NewShipment) -> Result<Shipment> {
        self.lock_with_stock(order_id)?;
        let order = self.get(order_id)?;
        if !matches!(
            order.status,
            OrderStatus::Paid | OrderStatus::PartiallyShipped
        ) {
            return Err(illegal(order_id, order.status, "ship"));
        }
        let carrier = validate::required_text("carrier", &new.carrier, MAX_CARRIER_LEN)?;
        let tracking = validate::optional_text(
            "tracking_number",
            new.tracking_number.as_deref(),
            MAX_REFERENCE_LEN,
        )?;
        let wanted: Vec<(usize, i64)> = if new.lines.is_empty() {
            order
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.quantity > l.quantity_shipped)
                .map(|(i, l)| (i, l.quantity - l.quantity_shipped))
                .collect()
        } else {
            self.pick_lines(
                &order,
                new.lines.iter().map(|l| (&l.sku, l.quantity)),
                |l| l.quantity - l.quantity_shipped,
                "not yet shipped",
            )?
        };
        let id = ShipmentId::new();
        self.tx().db().execute(
            sql!(sql::INSERT_SHIPMENT),
            &[&id, &order_id, &carrier, &tracking, &self.tx().now()],
        )?;
        let inventory = Inventory::new(self.tx());
        let catalog = CatalogReader::new(self.tx().db());
        for &(i, quantity) in &wanted {
            let line = &order.lines[i];
            let variant = catalog.variant(line.variant_id)?;
            if variant.track_stock {
                let mut left = quantity;
                for r in inventory.open_reservations_of_line(line.id)? {
                    let take = r.open_quantity.min(left);
                    inventory.close_reservation(&variant, &r, take, "shipped")?;
                    left -= take;
                    if left == 0 {
                        break;
                    }
                }
                if left != 0 {
                    return Err(Error::corrupt(format!(
                        "order {order_id} line {}: reservations hold less than is left to ship",
                        line.line_no
                    )));
                }
            }
            self.tx()
                .db()
                .execute(sql!(sql::INSERT_SHIPMENT_LINE), &[&id, &line.id, &quantity])?;
            self.tx()
                .db()
                .execute(sql!(sql::ADD_SHIPPED), &[&line.id, &quantity])?;
        }
        let all_shipped: bool =
            self.tx()
                .db()
                .query_row(sql!(sql::ALL_SHIPPED), &[&order_id], |r| r.get(0))?;
        let to = if all_shipped {
            OrderStatus::Shipped
        } else {
            OrderStatus::PartiallyShipped
        };
        self.event(
            order_id,
            "shipped",
            Some(order.status),
            to,
            json!({ "shipment_id": id, "carrier": carrier, "tracking_number": tracking }),
        )?;
        self.audit(order_id, "ship", &["shipments", "status"])?;
        self.shipments(order_id)?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::corrupt("a shipment vanished inside its transaction"))
    }

    /// Resolves caller lines (SKU, quantity) to order lines, checking each
    /// against what is left (`left_of`).
    fn pick_lines<'a>(
        &self,
        order: &super::Order,
        lines: impl Iterator<Item = (&'a String, i64)>,
        left_of: impl Fn(&super::OrderLine) -> i64,
        left_word: &str,
    ) -> Result<Vec<(usize, i64)>> {
        let mut out: Vec<(usize, i64)> = Vec::new();
        for (n, (sku, quantity)) in lines.enumerate() {
            let f = |name: &str| format!("lines[{n}].{name}");
            let Some(i) = order.lines.iter().position(|l| l.sku == sku.trim()) else {
                // An unknown SKU is NotFound wherever it is named; a known
                // one that this order does not hold is a bad line.
                let catalog = crate::catalog::CatalogReader::new(self.tx().db());
                if catalog.find_by_sku(sku.trim())?.is_none() {
                    return Err(Error::not_found(
                        "variant",
                        format!("with SKU {:?} ({})", sku.trim(), f("sku")),
                    ));
                }
                return Err(Error::invalid(
                    f("sku"),
                    format!("{sku:?} is not on this order"),
                ));
            };
            if out.iter().any(|&(j, _)| j == i) {
                return Err(Error::invalid(f("sku"), format!("{sku:?} is listed twice")));
            }
            let left = left_of(&order.lines[i]);
            if quantity <= 0 {
                return Err(Error::invalid(
                    f("quantity"),
                    format!("is {quantity}, must be above 0"),
                ));
            }
            if quantity > left {
                return Err(Error::invalid(
                    f("quantity"),
                    format!("{quantity} is more than the {left} {left_word}"),
                ));
            }
            out.push((i, quantity));
        }
        if out.is_empty() {
            return Err(Error::invalid("lines", "name at least one line"));
        }
        Ok(out)
    }

    /// Marks a shipped order delivered (and its shipments).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is `shipped`.
    pub fn mark_delivered(&self, order_id: OrderId) -> Result<()> {
        self.tx().atomic(|| {
            let (status, _) = self.lock(order_id)?;
            if status != OrderStatus::Shipped {
                return Err(illegal(order_id, status, "mark delivered"));
            }
            self.tx().db().execute(
                sql!(
                    "UPDATE shipments SET delivered_at = ?2 WHERE order_id = ?1 \
                     AND delivered_at IS NULL"
                ),
                &[&order_id, &self.tx().now()],
            )?;
            self.event(
                order_id,
                "delivered",
                Some(status),
                OrderStatus::Delivered,
                json!({}),
            )?;
            self.audit(order_id, "deliver", &["status"])
        })
    }

    /// Cancels a `pending` or `paid` order and releases its reservations. A
    /// paid order is refunded separately.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] from any other status;
    /// [`ErrorKind::Invalid`] on an empty or too long `reason`.
    pub fn cancel(&self, order_id: OrderId, reason: &str) -> Result<()> {
        let reason = validate::required_text("reason", reason, MAX_REASON_LEN)?;
        self.tx()
            .atomic(|| self.cancel_with(order_id, &reason, "cancelled").map(drop))
    }

    pub(crate) fn cancel_with(
        &self,
        order_id: OrderId,
        reason: &str,
        closed_reason: &str,
    ) -> Result<usize> {
        self.lock_with_stock(order_id)?;
        let order = self.get(order_id)?;
        if !matches!(order.status, OrderStatus::Pending | OrderStatus::Paid) {
            return Err(illegal(order_id, order.status, "cancel"));
        }
        let released = self.release_holds(&order, closed_reason)?;
        crate::promotion::release(self.tx(), order_id)?;
        self.event(
            order_id,
            "cancelled",
            Some(order.status),
            OrderStatus::Cancelled,
            json!({ "reason": reason }),
        )?;
        self.audit(order_id, "cancel", &["status"])?;
        Ok(released)
    }

    /// Closes every open reservation of the order's lines with
    /// `closed_reason` (the ledger records a release per reservation).
    /// Returns how many were closed.
    fn release_holds(&self, order: &super::Order, closed_reason: &str) -> Result<usize> {
        let inventory = Inventory::new(self.tx());
        let catalog = CatalogReader::new(self.tx().db());
        let mut released = 0;
        for line in &order.lines {
            let reservations = inventory.open_reservations_of_line(line.id)?;
            if reservations.is_empty() {
                continue;
            }
            let variant = catalog.variant(line.variant_id)?;
            for r in reservations {
                inventory.close_reservation(&variant, &r, r.open_quantity, closed_reason)?;
                released += 1;
            }
        }
        Ok(released)
    }

    /// Records goods coming back. Restocked units go back on hand (a
    /// `return` movement). When every unit was shipped and every shipped
    /// unit is back, the order becomes `returned`. Money goes back through
    /// [`refund`](Orders::refund).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] unless the order is
    /// `partially_shipped`, `shipped` or `delivered`; [`ErrorKind::Invalid`]
    /// on `reason`, `lines` (none), `lines[i].sku`, `lines[i].quantity` (more
    /// than shipped and not yet returned), `lines[i].warehouse`.
    pub fn return_items(&self, order_id: OrderId, new: NewReturn) -> Result<Return> {
        self.tx().atomic(|| self.return_inner(order_id, new))
    }

    fn return_inner(&self, order_id: OrderId, new: NewReturn) -> Result<Return> {
        self.lock(order_id)?;
        let order = self.get(order_id)?;
        if !matches!(
            order.status,
            OrderStatus::PartiallyShipped | OrderStatus::Shipped | OrderStatus::Delivered
        ) {
            return Err(illegal(order_id, order.status, "return items"));
        }
        let reason = validate::required_text("reason", &new.reason, MAX_REASON_LEN)?;
        let picked = self.pick_lines(
            &order,
            new.lines.iter().map(|l| (&l.sku, l.quantity)),
            |l| l.quantity_shipped - l.quantity_returned,
            "shipped and not yet returned",
        )?;
        let id = ReturnId::new();
        self.tx().db().execute(
            sql!("INSERT INTO returns (id, order_id, reason, created_at) VALUES (?1, ?2, ?3, ?4)"),
            &[&id, &order_id, &reason, &self.tx().now()],
        )?;
        let inventory = Inventory::new(self.tx());
        let catalog = CatalogReader::new(self.tx().db());
        // Where each line goes back, first: the stock rows are then locked
        // in the one fixed order before any is written (PostgreSQL).
        let mut back = Vec::with_capacity(picked.len());
        for (n, &(i, _)) in picked.iter().enumerate() {
            let line = &order.lines[i];
            let asked = &new.lines[n];
            let variant = catalog.variant(line.variant_id)?;
            let warehouse = if asked.restock && variant.track_stock {
                Some(match &asked.warehouse {
                    Some(code) => {
                        inventory
                            .warehouse_by_code(code)
                            .map_err(|_| {
                                Error::invalid(
                                    format!("lines[{n}].warehouse"),
                                    format!("no warehouse has code {code:?}"),
                                )
                            })?
                            .id
                    }
                    None => inventory
                        .reservations_of_line(line.id)?
                        .first()
                        .map(|r| r.warehouse_id)
                        .ok_or_else(|| {
                            Error::invalid(
                                format!("lines[{n}].warehouse"),
                                "the line has no reservation to take a warehouse from; name one",
                            )
                        })?,
                })
            } else {
                None
            };
            back.push((variant, warehouse));
        }
        let mut balances: Vec<_> = back
            .iter()
            .filter_map(|(v, w)| w.map(|w| (v.id, w)))
            .collect();
        inventory.lock_balances(&mut balances)?;
        for (&(i, quantity), (variant, warehouse)) in picked.iter().zip(&back) {
            let line = &order.lines[i];
            let warehouse = *warehouse;
            if let Some(w) = warehouse {
                let mut mv = Move::new(variant, w, MovementKind::Return, quantity, 0);
                mv.order_id = Some(order_id);
                mv.reason = Some(&reason);
                inventory.record(mv)?;
            }
            self.tx().db().execute(
                sql!(
                    "INSERT INTO return_lines (return_id, order_line_id, quantity, restock, \
                     warehouse_id) VALUES (?1, ?2, ?3, ?4, ?5)"
                ),
                &[&id, &line.id, &quantity, &warehouse.is_some(), &warehouse],
            )?;
            self.tx().db().execute(
                sql!(
                    "UPDATE order_lines SET quantity_returned = quantity_returned + ?2 \
                     WHERE id = ?1"
                ),
                &[&line.id, &quantity],
            )?;
        }
        let all_back: bool = self.tx().db().query_row(
            sql!(
                "SELECT NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = ?1 \
                 AND (quantity_returned < quantity))"
            ),
            &[&order_id],
            |r| r.get(0),
        )?;
        let to = if all_back {
            OrderStatus::Returned
        } else {
            order.status
        };
        self.event(
            order_id,
            "returned",
            Some(order.status),
            to,
            json!({ "return_id": id, "reason": reason }),
        )?;
        self.audit(order_id, "return", &["returns", "status"])?;
        self.returns(order_id)?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| Error::corrupt("a return vanished inside its transaction"))
    }

    /// Gives money back, never more than was paid and not yet refunded.
    /// When everything paid is refunded the order becomes `refunded`, except
    /// a `cancelled` order, which stays `cancelled` (its goods were never
    /// sold; the refund is in its events and `refunded` amount). A
    /// `refunded` order never ships, so the stock it still held for its
    /// unshipped units is released in the same operation.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTransition`] for a `pending` or `refunded` order;
    /// [`ErrorKind::Invalid`] on `amount` (not above 0, more decimals than
    /// the currency, above what is refundable), `reason`, `payment_id` (not
    /// a captured payment of this order, or not enough left on it).
    pub fn refund(&self, order_id: OrderId, new: NewRefund) -> Result<Vec<Refund>> {
        self.tx().atomic(|| self.refund_inner(order_id, new))
    }

    fn refund_inner(&self, order_id: OrderId, new: NewRefund) -> Result<Vec<Refund>> {
        let (status, currency) = self.lock_with_stock(order_id)?;
        if matches!(status, OrderStatus::Pending | OrderStatus::Refunded) {
            return Err(illegal(order_id, status, "refund"));
        }
        let reason = validate::required_text("reason", &new.reason, MAX_REASON_LEN)?;
        let amount_e4 = currency.payable("amount", new.amount)?;
        if amount_e4 == 0 {
            return Err(Error::invalid("amount", "must be above 0"));
        }
        let (_, paid, refunded) = self.amounts(order_id)?;
        if amount_e4 > paid - refunded {
            return Err(Error::invalid(
                "amount",
                format!(
                    "{} is more than the {} paid and not yet refunded",
                    Money::new(new.amount, currency),
                    Money::from_e4(paid - refunded, currency)
                ),
            ));
        }
        let mut sources: Vec<Payment> = self
            .payments(order_id)?
            .into_iter()
            .filter(|p| p.status == PaymentStatus::Captured)
            .collect();
        sources.reverse();
        if let Some(pid) = new.payment_id {
            sources.retain(|p| p.id == pid);
            let left = sources
                .first()
                .map(|p| Money::new(p.amount.amount - p.refunded.amount, currency));
            match left {
                None => {
                    return Err(Error::invalid(
                        "payment_id",
                        "is not a captured payment of this order",
                    ))
                }
                Some(left) if money::to_e4("amount", left.amount)? < amount_e4 => {
                    return Err(Error::invalid(
                        "payment_id",
                        format!("only {left} is left to refund on this payment"),
                    ))
                }
                _ => {}
            }
        }
        // The gift cards this order was paid with are locked now, in one
        // fixed order, before any is credited: two refunds never hold one
        // card each while waiting for the other's.
        crate::giftcard::lock_cards_of_order(self.tx().db(), order_id)?;
        // Store credit goes to the order's customer (a guest has none).
        let paid_with_credit = sources.iter().any(|p| {
            p.method == PaymentMethod::StoreCredit
                && p.provider.as_deref() == Some(crate::giftcard::PROVIDER)
        });
        let credit_customer = if new.to_store_credit || paid_with_credit {
            let customer =
                crate::storecredit::customer_of_order(self.tx().db(), order_id, "to_store_credit")?;
            // New credit only for a customer who can still spend it; what
            // store credit paid goes back to it whatever the customer's state.
            if new.to_store_credit {
                crate::customer::CustomerReader::new(self.tx().db()).require_active(customer)?;
            }
            Some(customer)
        } else {
            None
        };
        let mut left = amount_e4;
        let mut ids = Vec::new();
        let mut points_refunds = Vec::new();
        for p in sources {
            if left == 0 {
                break;
            }
            let room = money::to_e4("amount", p.amount.amount - p.refunded.amount)?;
            let take = room.min(left);
            if take == 0 {
                continue;
            }
            let id = RefundId::new();
            let now = self.tx().now();
            let own = p.provider.as_deref() == Some(crate::giftcard::PROVIDER);
            // What custdb's store credit paid goes back to store credit; what
            // its gift card paid goes back onto the card unless the
            // customer takes store credit.
            let card = if own && p.method == PaymentMethod::GiftCard && !new.to_store_credit {
                crate::giftcard::card_of_payment(self.tx().db(), p.id)?
            } else {
                None
            };
            let destination = if own && p.method == PaymentMethod::LoyaltyPoints {
                RefundDestination::LoyaltyPoints
            } else if new.to_store_credit || (own && p.method == PaymentMethod::StoreCredit) {
                RefundDestination::StoreCredit
            } else if card.is_some() {
                RefundDestination::GiftCard
            } else {
                RefundDestination::Payment
            };
            self.tx().db().execute(
                sql!(
                    "INSERT INTO refunds (id, order_id, payment_id, amount_e4, reason, \
                     created_at, destination) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                &[&id, &order_id, &p.id, &take, &reason, &now, &destination],
            )?;
            self.tx().db().execute(
                sql!(
                    "UPDATE payments SET refunded_e4 = refunded_e4 + ?2, \
                     status = CASE WHEN refunded_e4 + ?2 = amount_e4 THEN 'refunded' \
                     ELSE status END, updated_at = ?3 WHERE id = ?1"
                ),
                &[&p.id, &take, &now],
            )?;
            if let Some(card) = card {
                crate::giftcard::post(
                    self.tx(),
                    card,
                    "amount",
                    crate::giftcard::Posting {
                        kind: crate::giftcard::GiftCardEntryKind::Refund,
                        amount_e4: take,
                        order_id: Some(order_id),
                        payment_id: Some(p.id),
                        refund_id: Some(id),
                        reason: None,
                    },
                )?;
            }
            if destination == RefundDestination::StoreCredit {
                let customer = credit_customer.ok_or_else(|| {
                    Error::corrupt("a refund to store credit without the order's customer")
                })?;
                let mut credit = crate::storecredit::Posting::new(
                    crate::storecredit::StoreCreditEntryKind::Refund,
                    take,
                );
                credit.order_id = Some(order_id);
                credit.payment_id = Some(p.id);
                credit.refund_id = Some(id);
                crate::storecredit::post(self.tx(), customer, currency, "amount", credit)?;
            }
            ids.push(id);
            if destination == RefundDestination::LoyaltyPoints {
                points_refunds.push((id, p.id));
            }
            left -= take;
        }
        if left != 0 {
            return Err(Error::corrupt(format!(
                "order {order_id}: payments hold less than the order says was paid"
            )));
        }
        self.tx().db().execute(
            sql!(
                "UPDATE orders SET refunded_e4 = refunded_e4 + ?2, updated_at = ?3, \
                 version = version + 1 WHERE id = ?1"
            ),
            &[&order_id, &amount_e4, &self.tx().now()],
        )?;
        // Points paid come back; points earned on what was refunded go.
        crate::loyalty::after_refund(
            self.tx(),
            order_id,
            currency,
            &points_refunds,
            ids.last().copied(),
        )?;
        // A cancelled order stays cancelled when its money goes back: its
        // goods were never sold, and reports and check() read `refunded` as
        // a sale that was paid back.
        let to = if refunded + amount_e4 == paid && status != OrderStatus::Cancelled {
            OrderStatus::Refunded
        } else {
            status
        };
        // A refunded order never ships again (`refunded` is terminal), so
        // whatever it still holds for shipping goes back to the shelf.
        if to == OrderStatus::Refunded {
            let order = self.get(order_id)?;
            self.release_holds(&order, "released")?;
        }
        self.event(
            order_id,
            "refunded",
            Some(status),
            to,
            json!({ "amount": currency.present(new.amount).to_string(), "reason": reason }),
        )?;
        self.audit(order_id, "refund", &["refunds", "refunded", "status"])?;
        let all = self.refunds(order_id)?;
        Ok(all.into_iter().filter(|r| ids.contains(&r.id)).collect())
    }
}

fn payment_state(id: PaymentId, status: PaymentStatus, action: &'static str) -> Error {
    Error::new(ErrorKind::InvalidTransition {
        entity: "payment",
        id: id.to_string(),
        from: status.as_str().to_owned(),
        action,
    })
}

crate::bench_sql::sql_module! {
    /// Payment statements, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// Inserts a payment.
    pub const INSERT_PAYMENT: &str = "INSERT INTO payments (id, order_id, method, provider, \
        provider_reference, amount_e4, currency, status, created_at, updated_at) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)";
    /// Adds a captured amount to the order; returns its total and what is
    /// now paid.
    pub const ADD_PAID: &str = "UPDATE orders SET paid_e4 = paid_e4 + ?2, updated_at = ?3, \
        version = version + 1 WHERE id = ?1 RETURNING total_e4, paid_e4";
    /// An order's total, paid and refunded amounts.
    pub const ORDER_AMOUNTS: &str =
        "SELECT total_e4, paid_e4, refunded_e4 FROM orders WHERE id = ?1";
    /// A payment by id.
    pub const PAYMENT_BY_ID: &str = concat!(select_payment!(), "WHERE id = ?1");
    /// Stops an order's holds from expiring. An order's holds are found
    /// through its lines (every one names its line): SQLite keeps no
    /// index on the order id of a reservation.
    pub const KEEP_RESERVATIONS: &str = "UPDATE stock_reservations SET expires_at = NULL \
        WHERE order_line_id IN (SELECT id FROM order_lines WHERE order_id = ?1) \
        AND expires_at IS NOT NULL";
    /// Records a shipment.
    pub const INSERT_SHIPMENT: &str =
        "INSERT INTO shipments (id, order_id, carrier, tracking_number, shipped_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)";
    /// Records what a shipment carries of one line.
    pub const INSERT_SHIPMENT_LINE: &str =
        "INSERT INTO shipment_lines (shipment_id, order_line_id, quantity) VALUES (?1, ?2, ?3)";
    /// Adds shipped units to a line.
    pub const ADD_SHIPPED: &str =
        "UPDATE order_lines SET quantity_shipped = quantity_shipped + ?2 WHERE id = ?1";
    /// Whether every line of an order is shipped in full.
    pub const ALL_SHIPPED: &str = "SELECT NOT EXISTS (SELECT 1 FROM order_lines \
        WHERE order_id = ?1 AND quantity_shipped < quantity)";
    /// An order's shipments with their lines.
    pub const SHIPMENTS_OF_ORDER: &str =
        "SELECT s.id, s.carrier, s.tracking_number, s.shipped_at, s.delivered_at, l.sku, \
         sl.quantity FROM shipments s JOIN shipment_lines sl ON sl.shipment_id = s.id \
         JOIN order_lines l ON l.id = sl.order_line_id \
         WHERE s.order_id = ?1 ORDER BY s.shipped_at, s.id, l.line_no";
    }
}
