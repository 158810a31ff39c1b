//! Store credit (docs/BALANCES.md): money the shop owes a customer, kept
//! per customer and currency. It comes from a refund the customer takes as
//! credit ([`NewRefund::to_store_credit`](crate::NewRefund::to_store_credit)),
//! a credit note ([`NewCreditNote::to_store_credit`](crate::NewCreditNote))
//! or an operator's adjustment, and is spent as a payment
//! ([`Orders::pay_with_store_credit`](crate::Orders::pay_with_store_credit)).
//! Each account is an append-only ledger whose running balance never goes
//! below zero (a CHECK on every row and on the account).
//!
//! ```
//! use custdb::{Currency, Decimal, NewCustomer, NewOrder, NewOrderLine, NewProduct};
//! use custdb::{NewVariant, Store};
//!
//! let store = Store::open_in_memory()?;
//! let tea = NewVariant::new("TEA", Decimal::new(450, 2), Currency::GBP).track_stock(false);
//! store.catalog().create_product(NewProduct::new("Tea").variant(tea))?;
//! let ann = store.customers().create(NewCustomer::new("Ann"))?;
//! // A goodwill credit: the parcel came late.
//! store.store_credit().adjust_store_credit(
//!     ann.id,
//!     Currency::GBP,
//!     Decimal::new(500, 2),
//!     "late delivery",
//! )?;
//! let order = store.orders().place(
//!     NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 2)),
//! )?;
//! store
//!     .orders()
//!     .pay_with_store_credit(order.id, Decimal::new(500, 2))?;
//! let left = store.store_credit().store_credit_balance(ann.id, Currency::GBP)?;
//! assert_eq!(left.to_string(), "0.00 GBP");
//! # Ok::<(), custdb::Error>(())
//! ```

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::audit::Change;
use crate::db::{sql, Conn, Row};
use crate::error::{Error, Result};
use crate::id::{CreditNoteId, CustomerId, OrderId, PaymentId, RefundId};
use crate::money::{self, Currency, Money};
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// Highest store credit balance of one customer in one currency.
pub const MAX_STORE_CREDIT_BALANCE: i64 = 1_000_000;
/// Longest adjustment reason, in characters.
pub const MAX_STORE_CREDIT_REASON_LEN: usize = 200;

/// A customer's store credit in one currency.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct StoreCredit {
    /// The customer.
    pub customer_id: CustomerId,
    /// What the shop owes the customer, in this currency.
    pub balance: Money,
    /// When the account was opened (its first entry).
    pub created_at: DateTime<Utc>,
    /// When its balance last moved.
    pub updated_at: DateTime<Utc>,
    /// Raised by every movement.
    pub version: i64,
}

crate::text_enum::text_enum!(
    /// What moved a store credit balance.
    StoreCreditEntryKind {
        /// A credit note issued to store credit.
        CreditNote = "credit_note",
        /// A refund taken as store credit, or a refund of a store credit
        /// payment.
        Refund = "refund",
        /// Paid (part of) an order.
        Spend = "spend",
        /// An operator's correction or goodwill credit, with a reason.
        Adjust = "adjust",
        /// Moved by a customer merge, from the merged customer to the one
        /// it was merged into.
        Transfer = "transfer",
    }
);

/// One line of a store credit ledger.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct StoreCreditEntry {
    /// The customer.
    pub customer_id: CustomerId,
    /// Its position in the ledger of this customer and currency, from 1.
    pub seq: i64,
    /// What it was.
    pub kind: StoreCreditEntryKind,
    /// The change of balance (negative when spent).
    pub amount: Money,
    /// The balance after it.
    pub balance: Money,
    /// The order it paid or was refunded from.
    pub order_id: Option<OrderId>,
    /// The payment it made (spend) or was refunded from (refund).
    pub payment_id: Option<PaymentId>,
    /// The refund (refund).
    pub refund_id: Option<RefundId>,
    /// The credit note (credit_note).
    pub credit_note_id: Option<CreditNoteId>,
    /// The other customer of a merge (transfer).
    pub other_customer_id: Option<CustomerId>,
    /// Why (adjust, transfer).
    pub reason: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn account_row(r: &Row<'_>) -> Result<StoreCredit> {
    let currency = Currency::from_db(&r.get::<String>(1)?)?;
    Ok(StoreCredit {
        customer_id: r.get(0)?,
        balance: Money::from_e4(r.get(2)?, currency),
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        version: r.get(5)?,
    })
}

/// Read access to store credit.
#[derive(Debug)]
pub struct StoreCreditReader<'a> {
    db: Conn<'a>,
}

impl<'a> StoreCreditReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        StoreCreditReader { db }
    }

    /// A customer's store credit in every currency it has had any, by
    /// currency code (empty when it never had store credit).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn store_credit(&self, customer_id: CustomerId) -> Result<Vec<StoreCredit>> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        self.db.query_vec(
            sql!(
                "SELECT customer_id, currency, balance_e4, created_at, updated_at, version \
                 FROM store_credit_accounts WHERE customer_id = ?1 ORDER BY currency"
            ),
            &[&customer_id],
            account_row,
        )
    }

    /// A customer's store credit balance in `currency` (zero when it has
    /// none).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn store_credit_balance(
        &self,
        customer_id: CustomerId,
        currency: Currency,
    ) -> Result<Money> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        let balance_e4: Option<i64> = self.db.query_opt(
            sql!(
                "SELECT balance_e4 FROM store_credit_accounts WHERE customer_id = ?1 \
                 AND currency = ?2"
            ),
            &[&customer_id, &currency.code()],
            |r| r.get(0),
        )?;
        Ok(Money::from_e4(balance_e4.unwrap_or(0), currency))
    }

    /// A customer's store credit ledger in `currency`, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn store_credit_entries(
        &self,
        customer_id: CustomerId,
        currency: Currency,
    ) -> Result<Vec<StoreCreditEntry>> {
        crate::customer::CustomerReader::new(self.db).require(customer_id)?;
        self.db.query_vec(
            sql!(
                "SELECT customer_id, seq, kind, amount_e4, balance_e4, order_id, payment_id, \
                 refund_id, credit_note_id, other_customer_id, reason, created_at \
                 FROM store_credit_entries WHERE customer_id = ?1 AND currency = ?2 ORDER BY seq"
            ),
            &[&customer_id, &currency.code()],
            |r| {
                Ok(StoreCreditEntry {
                    customer_id: r.get(0)?,
                    seq: r.get(1)?,
                    kind: r.get(2)?,
                    amount: Money::from_e4(r.get(3)?, currency),
                    balance: Money::from_e4(r.get(4)?, currency),
                    order_id: r.get(5)?,
                    payment_id: r.get(6)?,
                    refund_id: r.get(7)?,
                    credit_note_id: r.get(8)?,
                    other_customer_id: r.get(9)?,
                    reason: r.get(10)?,
                    created_at: r.get(11)?,
                })
            },
        )
    }
}

/// Store credit inside a unit of work.
#[derive(Debug)]
pub struct StoreCredits<'t> {
    tx: &'t WriteTx<'t>,
    reader: StoreCreditReader<'t>,
}

impl<'t> std::ops::Deref for StoreCredits<'t> {
    type Target = StoreCreditReader<'t>;
    fn deref(&self) -> &StoreCreditReader<'t> {
        &self.reader
    }
}

/// One movement of a store credit balance, for [`post`].
pub(crate) struct Posting<'p> {
    pub(crate) kind: StoreCreditEntryKind,
    pub(crate) amount_e4: i64,
    pub(crate) order_id: Option<OrderId>,
    pub(crate) payment_id: Option<PaymentId>,
    pub(crate) refund_id: Option<RefundId>,
    pub(crate) credit_note_id: Option<CreditNoteId>,
    pub(crate) other_customer_id: Option<CustomerId>,
    pub(crate) reason: Option<&'p str>,
}

impl Posting<'_> {
    pub(crate) fn new(kind: StoreCreditEntryKind, amount_e4: i64) -> Self {
        Posting {
            kind,
            amount_e4,
            order_id: None,
            payment_id: None,
            refund_id: None,
            credit_note_id: None,
            other_customer_id: None,
            reason: None,
        }
    }
}

/// Moves a customer's balance in `currency` by one ledger entry, opening
/// the account on its first entry; the account's row is locked (on
/// PostgreSQL) for the read of the balance and the write. A balance that
/// would go below zero or above [`MAX_STORE_CREDIT_BALANCE`] is refused
/// naming `field`. Returns the balance after it, in units of 1/10,000.
pub(crate) fn post(
    tx: &WriteTx<'_>,
    customer_id: CustomerId,
    currency: Currency,
    field: &str,
    p: Posting<'_>,
) -> Result<i64> {
    let db = tx.db();
    let now = tx.now();
    // Two first movements of one account at once: one inserts, the other
    // finds the row (and waits for its lock on PostgreSQL).
    db.execute(
        sql!(
            "INSERT INTO store_credit_accounts (customer_id, currency, balance_e4, created_at, \
             updated_at) VALUES (?1, ?2, 0, ?3, ?3) ON CONFLICT (customer_id, currency) DO NOTHING"
        ),
        &[&customer_id, &currency.code(), &now],
    )?;
    db.lock_for_update(
        sql!(
            postgres_only: "SELECT customer_id FROM store_credit_accounts WHERE customer_id = ?1 \
             AND currency = ?2 FOR UPDATE"
        ),
        &[&customer_id, &currency.code()],
    )?;
    let balance_e4: i64 = db.query_row(
        sql!(
            "SELECT balance_e4 FROM store_credit_accounts WHERE customer_id = ?1 \
             AND currency = ?2"
        ),
        &[&customer_id, &currency.code()],
        |r| r.get(0),
    )?;
    let after = balance_e4
        .checked_add(p.amount_e4)
        .ok_or_else(|| Error::invalid(field, "is out of range"))?;
    if after < 0 {
        return Err(Error::invalid(
            field,
            format!(
                "is more than the customer's store credit of {}",
                Money::from_e4(balance_e4, currency)
            ),
        ));
    }
    if after > MAX_STORE_CREDIT_BALANCE * 10_000 {
        return Err(Error::invalid(
            field,
            format!(
                "would take the customer's store credit in {currency} above \
                 {MAX_STORE_CREDIT_BALANCE}"
            ),
        ));
    }
    db.execute(
        sql!(
            "INSERT INTO store_credit_entries (customer_id, currency, seq, kind, amount_e4, \
             balance_e4, order_id, payment_id, refund_id, credit_note_id, other_customer_id, \
             reason, created_at) VALUES (?1, ?2, \
             (SELECT coalesce(max(seq), 0) + 1 FROM store_credit_entries \
             WHERE customer_id = ?1 AND currency = ?2), \
             ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        &[
            &customer_id,
            &currency.code(),
            &p.kind,
            &p.amount_e4,
            &after,
            &p.order_id,
            &p.payment_id,
            &p.refund_id,
            &p.credit_note_id,
            &p.other_customer_id,
            &p.reason,
            &now,
        ],
    )?;
    db.execute(
        sql!(
            "UPDATE store_credit_accounts SET balance_e4 = ?3, updated_at = ?4, \
             version = version + 1 WHERE customer_id = ?1 AND currency = ?2"
        ),
        &[&customer_id, &currency.code(), &after, &now],
    )?;
    Ok(after)
}

impl<'t> StoreCredits<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        StoreCredits {
            tx,
            reader: StoreCreditReader::new(tx.db()),
        }
    }

    /// Corrects a customer's store credit in `currency` by `amount`
    /// (negative to take off), or gives a goodwill credit, with a reason:
    /// an entry of kind `adjust`. A credit the books should show as money
    /// given back is a credit note instead
    /// ([`NewCreditNote::to_store_credit`](crate::NewCreditNote)).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer; [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)
    /// for an archived or erased one when `amount` is positive (what it
    /// still has may be taken off); [`ErrorKind::Invalid`](crate::ErrorKind::Invalid)
    /// naming `amount` (zero, more decimals than the currency has, more
    /// than the balance off, above [`MAX_STORE_CREDIT_BALANCE`] in all) or
    /// `reason` (empty, over [`MAX_STORE_CREDIT_REASON_LEN`] characters).
    pub fn adjust_store_credit(
        &self,
        customer_id: CustomerId,
        currency: Currency,
        amount: Decimal,
        reason: &str,
    ) -> Result<StoreCredit> {
        self.tx.atomic(|| {
            let customers = crate::customer::CustomerReader::new(self.tx.db());
            if amount.is_sign_positive() && !amount.is_zero() {
                customers.require_active(customer_id)?;
            } else {
                customers.require(customer_id)?;
            }
            let reason = validate::required_text("reason", reason, MAX_STORE_CREDIT_REASON_LEN)?;
            let magnitude = currency.payable("amount", amount.abs())?;
            if magnitude == 0 {
                return Err(Error::invalid("amount", "must not be 0"));
            }
            let amount_e4 = if amount.is_sign_negative() {
                -magnitude
            } else {
                magnitude
            };
            let mut posting = Posting::new(StoreCreditEntryKind::Adjust, amount_e4);
            posting.reason = Some(&reason);
            post(self.tx, customer_id, currency, "amount", posting)?;
            let mut facts = crate::changes::ChangeFacts::current();
            facts.amount = Some(money::from_e4(amount_e4));
            facts.currency = Some(currency.code().to_owned());
            self.tx.audit_change_with(
                Change {
                    action: "adjust_store_credit",
                    entity_type: "customer",
                    entity_id: &customer_id.to_string(),
                    changed_fields: &["store_credit"],
                },
                facts,
            )?;
            self.account(customer_id, currency)
        })
    }

    fn account(&self, customer_id: CustomerId, currency: Currency) -> Result<StoreCredit> {
        self.tx
            .db()
            .query_opt(
                sql!(
                    "SELECT customer_id, currency, balance_e4, created_at, updated_at, version \
                     FROM store_credit_accounts WHERE customer_id = ?1 AND currency = ?2"
                ),
                &[&customer_id, &currency.code()],
                account_row,
            )?
            .ok_or_else(|| Error::corrupt("a store credit account vanished in its own write"))
    }
}

/// The customer whose store credit an order's store credit moves: the
/// order's customer; `field` named for a guest order.
pub(crate) fn customer_of_order(
    db: Conn<'_>,
    order_id: OrderId,
    field: &str,
) -> Result<CustomerId> {
    let customer: Option<CustomerId> = db
        .query_opt(
            sql!("SELECT customer_id FROM orders WHERE id = ?1"),
            &[&order_id],
            |r| r.get(0),
        )?
        .ok_or_else(|| Error::not_found("order", order_id.to_string()))?;
    customer.ok_or_else(|| {
        Error::invalid(
            field,
            "the order is a guest's; store credit belongs to a customer",
        )
    })
}

/// Moves the store credit of `merged` to `survivor` (a customer merge):
/// a `transfer` entry out of each of the merged customer's accounts that
/// holds anything and one into the survivor's, accounts locked in
/// customer id order.
pub(crate) fn transfer_on_merge(
    tx: &WriteTx<'_>,
    survivor: CustomerId,
    merged: CustomerId,
) -> Result<()> {
    // Both customers' accounts are locked (in customer id order) before
    // the merged customer's balances are read: nothing may move them
    // between the read and the transfer.
    let (first, second) = if merged < survivor {
        (merged, survivor)
    } else {
        (survivor, merged)
    };
    for customer in [first, second] {
        tx.db().lock_for_update(
            sql!(
                postgres_only: "SELECT currency FROM store_credit_accounts WHERE customer_id = ?1 \
                 ORDER BY currency FOR UPDATE"
            ),
            &[&customer],
        )?;
    }
    let accounts: Vec<(String, i64)> = tx.db().query_vec(
        sql!(
            "SELECT currency, balance_e4 FROM store_credit_accounts WHERE customer_id = ?1 \
             AND balance_e4 > 0 ORDER BY currency"
        ),
        &[&merged],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (currency, balance_e4) in accounts {
        let currency = Currency::from_db(&currency)?;
        let reason = "customer merge";
        let mut out = Posting::new(StoreCreditEntryKind::Transfer, -balance_e4);
        out.other_customer_id = Some(survivor);
        out.reason = Some(reason);
        let mut into = Posting::new(StoreCreditEntryKind::Transfer, balance_e4);
        into.other_customer_id = Some(merged);
        into.reason = Some(reason);
        if merged < survivor {
            post(tx, merged, currency, "store_credit", out)?;
            post(tx, survivor, currency, "store_credit", into)?;
        } else {
            post(tx, survivor, currency, "store_credit", into)?;
            post(tx, merged, currency, "store_credit", out)?;
        }
    }
    Ok(())
}

/// Store credit invariants for `check()`: each account's balance is the
/// sum of its ledger and its last entry's balance; every spend is a store
/// credit payment of the same amount and order and every such payment has
/// its spend; every refund entry is a refund to store credit of the same
/// amount and payment and every such refund has its entry; every credit
/// note entry is a credit note (to a customer) of the same currency and
/// amount (a merge moves the note to the survivor, not the entry);
/// transfers sum to zero in each currency.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT a.customer_id, a.currency, a.balance_e4, \
             CAST(coalesce((SELECT sum(e.amount_e4) FROM store_credit_entries e \
             WHERE e.customer_id = a.customer_id AND e.currency = a.currency), 0) AS bigint), \
             (SELECT e.balance_e4 FROM store_credit_entries e WHERE e.customer_id = a.customer_id \
             AND e.currency = a.currency ORDER BY e.seq DESC LIMIT 1) \
             FROM store_credit_accounts a ORDER BY a.customer_id, a.currency"
        ),
        &[],
        |r| {
            let (customer, currency): (CustomerId, String) = (r.get(0)?, r.get(1)?);
            let (balance, sum): (i64, i64) = (r.get(2)?, r.get(3)?);
            let last: Option<i64> = r.get(4)?;
            if balance != sum || last.unwrap_or(0) != balance {
                report.push(format!(
                    "store credit of customer {customer} in {currency}: balance {} but its \
                     ledger sums to {} (last entry {:?})",
                    money::from_e4(balance),
                    money::from_e4(sum),
                    last.map(money::from_e4)
                ));
            }
            Ok(())
        },
    )?;
    let mut broken = |sql: &'static crate::db::Sql, what: &'static str| {
        conn.query_each(sql, &[], |r| {
            let (id, seq): (String, Option<i64>) = (r.get(0)?, r.get(1)?);
            report.push(match seq {
                Some(seq) => format!("store credit of customer {id} entry {seq}: {what}"),
                None => format!("{id}: {what}"),
            });
            Ok(())
        })
    };
    broken(
        sql!(
            "SELECT CAST(e.customer_id AS text), e.seq FROM store_credit_entries e \
             LEFT JOIN payments p ON p.id = e.payment_id \
             WHERE e.kind = 'spend' AND (p.id IS NULL OR p.method <> 'store_credit' \
             OR p.amount_e4 <> -e.amount_e4 OR p.order_id IS DISTINCT FROM e.order_id) \
             ORDER BY e.customer_id, e.seq"
        ),
        "a spend without its store credit payment",
    )?;
    broken(
        sql!(
            "SELECT 'payment ' || CAST(p.id AS text), CAST(NULL AS bigint) FROM payments p \
             WHERE p.method = 'store_credit' AND NOT EXISTS (SELECT 1 FROM store_credit_entries e \
             WHERE e.payment_id = p.id AND e.kind = 'spend') ORDER BY p.id"
        ),
        "a store credit payment without its spend",
    )?;
    broken(
        sql!(
            "SELECT CAST(e.customer_id AS text), e.seq FROM store_credit_entries e \
             LEFT JOIN refunds f ON f.id = e.refund_id \
             WHERE e.kind = 'refund' AND (f.id IS NULL OR f.amount_e4 <> e.amount_e4 \
             OR f.payment_id IS DISTINCT FROM e.payment_id OR f.destination <> 'store_credit') \
             ORDER BY e.customer_id, e.seq"
        ),
        "a refund entry without its refund to store credit",
    )?;
    broken(
        sql!(
            "SELECT 'refund ' || CAST(f.id AS text), CAST(NULL AS bigint) FROM refunds f \
             WHERE f.destination = 'store_credit' AND NOT EXISTS (SELECT 1 \
             FROM store_credit_entries e WHERE e.refund_id = f.id AND e.kind = 'refund') \
             ORDER BY f.id"
        ),
        "a refund to store credit without its entry",
    )?;
    broken(
        sql!(
            "SELECT CAST(e.customer_id AS text), e.seq FROM store_credit_entries e \
             LEFT JOIN credit_notes n ON n.id = e.credit_note_id \
             WHERE e.kind = 'credit_note' AND (n.id IS NULL OR n.amount_e4 <> e.amount_e4 \
             OR n.customer_id IS NULL OR n.currency <> e.currency) \
             ORDER BY e.customer_id, e.seq"
        ),
        "a credit entry without its credit note",
    )?;
    broken(
        sql!(
            "SELECT 'transfers in ' || currency, CAST(NULL AS bigint) \
             FROM store_credit_entries WHERE kind = 'transfer' GROUP BY currency \
             HAVING sum(amount_e4) <> 0 ORDER BY currency"
        ),
        "store credit moved by merges does not sum to zero",
    )?;
    Ok(())
}

crate::one_shot::one_shot! {
    /// Store credit for single operations, each its own unit of work:
    /// `store.store_credit().adjust_store_credit(...)`.
    StoreStoreCredit => write store_credit: StoreCredits, read store_credit: StoreCreditReader;
    write {
        fn adjust_store_credit(customer_id: CustomerId, currency: Currency, amount: Decimal, reason: &str) -> StoreCredit;
    }
    read {
        fn store_credit(customer_id: CustomerId) -> Vec<StoreCredit>;
        fn store_credit_balance(customer_id: CustomerId, currency: Currency) -> Money;
        fn store_credit_entries(customer_id: CustomerId, currency: Currency) -> Vec<StoreCreditEntry>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Store credit for one-shot calls.
    pub fn store_credit(&self) -> StoreStoreCredit<'_> {
        StoreStoreCredit::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Store credit inside this transaction.
    pub fn store_credit(&self) -> StoreCredits<'_> {
        StoreCredits::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Store credit, read-only.
    pub fn store_credit(&self) -> StoreCreditReader<'a> {
        StoreCreditReader::new(self.db())
    }
}
