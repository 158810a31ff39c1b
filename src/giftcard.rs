//! Gift cards (docs/BALANCES.md): a code, a currency, a value and an
//! expiry; redeemed as a payment of an order
//! ([`Orders::pay_with_gift_card`](crate::Orders::pay_with_gift_card)),
//! credited again by a refund of that payment; an append-only ledger whose
//! running balance never goes below zero (a CHECK on every row and on the
//! card). custdb keeps a SHA-256 of each code and its last four
//! characters, never the code: the code is shown once, when the card is
//! issued.
//!
//! ```
//! use custdb::{Currency, Decimal, NewCustomer, NewGiftCard, NewOrder, NewOrderLine};
//! use custdb::{NewProduct, NewVariant, Store};
//!
//! let store = Store::open_in_memory()?;
//! let tea = NewVariant::new("TEA", Decimal::new(450, 2), Currency::GBP).track_stock(false);
//! store.catalog().create_product(NewProduct::new("Tea").variant(tea))?;
//! let ann = store.customers().create(NewCustomer::new("Ann"))?;
//! // Print `issued.code` on the card: custdb shows it this once.
//! let issued = store
//!     .gift_cards()
//!     .issue_gift_card(NewGiftCard::new(Currency::GBP, Decimal::new(2000, 2)))?;
//! let order = store.orders().place(
//!     NewOrder::for_customer(ann.id, Currency::GBP).line(NewOrderLine::new("TEA", 2)),
//! )?;
//! store
//!     .orders()
//!     .pay_with_gift_card(order.id, &issued.code, order.total.amount)?;
//! let card = store.gift_cards().gift_card_by_code(&issued.code)?;
//! assert_eq!(card.balance.to_string(), "11.00 GBP");
//! # Ok::<(), custdb::Error>(())
//! ```

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::audit::Change;
use crate::db::{sql, Conn, Row};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{GiftCardId, OrderId, PaymentId, RefundId};
use crate::money::{self, Currency, Money};
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// The provider of the payments custdb's gift cards make.
pub const PROVIDER: &str = "custdb";
/// Shortest gift card code, in letters and digits (the last four are
/// shown on screen and kept; the rest must be hard to guess).
pub const MIN_GIFT_CARD_CODE_LEN: usize = 12;
/// Longest gift card code, in letters and digits.
pub const MAX_GIFT_CARD_CODE_LEN: usize = 32;
/// Highest value of one card (and highest balance), in its currency.
pub const MAX_GIFT_CARD_VALUE: i64 = 1_000_000;
/// Longest note or reason, in characters.
pub const MAX_GIFT_CARD_NOTE_LEN: usize = 200;
/// The alphabet of generated codes: Crockford's base 32 (no I, L, O, U),
/// so that a code read aloud or typed from paper is not mistaken.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a generated code (80 random bits), shown in groups of 4.
const GENERATED_CODE_LEN: usize = 16;

/// A gift card to issue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewGiftCard {
    /// The code, when the application prints its own cards (make it
    /// random): [`MIN_GIFT_CARD_CODE_LEN`] to [`MAX_GIFT_CARD_CODE_LEN`] ASCII
    /// letters and digits (spaces and dashes are dropped, letters
    /// upper-cased). `None`: custdb draws one (16 characters of
    /// Crockford's base 32 from the operating system's random source).
    #[serde(default)]
    pub code: Option<String>,
    /// Its currency; it pays only orders in it.
    pub currency: Currency,
    /// Its value: more than 0, at most [`MAX_GIFT_CARD_VALUE`], in the
    /// currency's minor units (JSON: a decimal string).
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub amount: Decimal,
    /// It pays nothing from this instant on; `None`: never expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// A note for staff (who bought it, the campaign...), at most
    /// [`MAX_GIFT_CARD_NOTE_LEN`] characters; never personal data.
    #[serde(default)]
    pub note: Option<String>,
}
crate::input::strict_serde!(NewGiftCard);

impl NewGiftCard {
    /// A card of `amount` in `currency`, with a drawn code, never expiring.
    pub fn new(currency: Currency, amount: Decimal) -> Self {
        NewGiftCard {
            code: None,
            currency,
            amount,
            expires_at: None,
            note: None,
        }
    }

    /// With the application's own code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Expiring at `at`.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// With a note for staff.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// A gift card.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct GiftCard {
    /// Its id.
    pub id: GiftCardId,
    /// The code's last four characters, to tell cards apart on screen.
    pub code_last4: String,
    /// What it was issued for.
    pub initial: Money,
    /// What is left on it.
    pub balance: Money,
    /// When it stops paying.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it pays (an operator may switch it off: lost, stolen).
    pub active: bool,
    /// The note for staff.
    pub note: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When its balance or state last changed.
    pub updated_at: DateTime<Utc>,
    /// Raised by every change.
    pub version: i64,
}

/// A card just issued, with its code: the only time custdb shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct IssuedGiftCard {
    /// The card.
    pub card: GiftCard,
    /// Its code, in groups of four for a generated one.
    pub code: String,
}

crate::text_enum::text_enum!(
    /// What moved a gift card's balance.
    GiftCardEntryKind {
        /// Issued with its value.
        Issue = "issue",
        /// Paid (part of) an order.
        Redeem = "redeem",
        /// A refund of a payment it made came back to it.
        Refund = "refund",
        /// An operator's correction, with a reason.
        Adjust = "adjust",
    }
);

/// One line of a gift card's ledger.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct GiftCardEntry {
    /// The card.
    pub gift_card_id: GiftCardId,
    /// Its position in the card's ledger, from 1.
    pub seq: i64,
    /// What it was.
    pub kind: GiftCardEntryKind,
    /// The change of balance (negative for a redemption).
    pub amount: Money,
    /// The balance after it.
    pub balance: Money,
    /// The order it paid or was refunded from.
    pub order_id: Option<OrderId>,
    /// The payment it made (a redemption) or was refunded from.
    pub payment_id: Option<PaymentId>,
    /// The refund that came back (a refund).
    pub refund_id: Option<RefundId>,
    /// Why (an adjustment).
    pub reason: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Normalises a code: spaces and dashes dropped, letters upper-cased;
/// `field` named when what is left is not 12 to 32 letters and digits.
fn normalise(field: &str, code: &str) -> Result<String> {
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let n = code.chars().count();
    if !(MIN_GIFT_CARD_CODE_LEN..=MAX_GIFT_CARD_CODE_LEN).contains(&n) {
        return Err(Error::invalid(
            field,
            format!(
                "has {n} letters and digits, must have {MIN_GIFT_CARD_CODE_LEN} to \
                 {MAX_GIFT_CARD_CODE_LEN}"
            ),
        ));
    }
    if !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            field,
            "may hold only ASCII letters and digits (and spaces or dashes between them)",
        ));
    }
    Ok(code)
}

fn digest(code: &str) -> String {
    crate::schema::hex(&Sha256::digest(code.as_bytes()))
}

/// 16 characters from the operating system's random source.
fn draw_code() -> Result<String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; GENERATED_CODE_LEN];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
        Error::new(ErrorKind::Internal {
            reason: format!("the random source failed: {e}"),
        })
    })?;
    // 256 is a multiple of 32: every character is equally likely.
    Ok(bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(b % 32)] as char)
        .collect())
}

/// A drawn code in groups of four (`ABCD-EFGH-JKMN-PQRS`).
fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

macro_rules! select_card {
    () => {
        "SELECT id, code_last4, currency, initial_e4, balance_e4, expires_at, active, note, \
         created_at, updated_at, version FROM gift_cards "
    };
}

fn card_row(r: &Row<'_>) -> Result<GiftCard> {
    let currency = Currency::from_db(&r.get::<String>(2)?)?;
    Ok(GiftCard {
        id: r.get(0)?,
        code_last4: r.get(1)?,
        initial: Money::from_e4(r.get(3)?, currency),
        balance: Money::from_e4(r.get(4)?, currency),
        expires_at: r.get(5)?,
        active: r.get(6)?,
        note: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        version: r.get(10)?,
    })
}

/// Read access to gift cards.
#[derive(Debug)]
pub struct GiftCardReader<'a> {
    db: Conn<'a>,
}

impl<'a> GiftCardReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        GiftCardReader { db }
    }

    /// A gift card.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn gift_card(&self, id: GiftCardId) -> Result<GiftCard> {
        self.db
            .query_opt(
                sql!(concat!(select_card!(), "WHERE id = ?1")),
                &[&id],
                card_row,
            )?
            .ok_or_else(|| Error::not_found("gift card", id.to_string()))
    }

    /// The card of a code (as printed: any case, with or without spaces
    /// and dashes), e.g. to show its balance at checkout.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `code` when it cannot be a code;
    /// [`ErrorKind::NotFound`] when no card has it (the error does not
    /// repeat the code).
    pub fn gift_card_by_code(&self, code: &str) -> Result<GiftCard> {
        let code = normalise("code", code)?;
        self.db
            .query_opt(
                sql!(concat!(select_card!(), "WHERE code_sha256 = ?1")),
                &[&digest(&code)],
                card_row,
            )?
            .ok_or_else(|| Error::not_found("gift card", "with that code"))
    }

    /// A card's ledger, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown card.
    pub fn gift_card_entries(&self, id: GiftCardId) -> Result<Vec<GiftCardEntry>> {
        let card = self.gift_card(id)?;
        let currency = card.initial.currency;
        self.db.query_vec(
            sql!(
                "SELECT gift_card_id, seq, kind, amount_e4, balance_e4, order_id, payment_id, \
                 refund_id, reason, created_at FROM gift_card_entries WHERE gift_card_id = ?1 \
                 ORDER BY seq"
            ),
            &[&id],
            |r| {
                Ok(GiftCardEntry {
                    gift_card_id: r.get(0)?,
                    seq: r.get(1)?,
                    kind: r.get(2)?,
                    amount: Money::from_e4(r.get(3)?, currency),
                    balance: Money::from_e4(r.get(4)?, currency),
                    order_id: r.get(5)?,
                    payment_id: r.get(6)?,
                    refund_id: r.get(7)?,
                    reason: r.get(8)?,
                    created_at: r.get(9)?,
                })
            },
        )
    }
}

/// Gift cards inside a unit of work.
#[derive(Debug)]
pub struct GiftCards<'t> {
    tx: &'t WriteTx<'t>,
    reader: GiftCardReader<'t>,
}

impl<'t> std::ops::Deref for GiftCards<'t> {
    type Target = GiftCardReader<'t>;
    fn deref(&self) -> &GiftCardReader<'t> {
        &self.reader
    }
}

/// One movement of a card's balance, for [`post`].
pub(crate) struct Posting<'p> {
    pub(crate) kind: GiftCardEntryKind,
    pub(crate) amount_e4: i64,
    pub(crate) order_id: Option<OrderId>,
    pub(crate) payment_id: Option<PaymentId>,
    pub(crate) refund_id: Option<RefundId>,
    pub(crate) reason: Option<&'p str>,
}

/// Moves a card's balance by one ledger entry, the card's row locked (on
/// PostgreSQL) for the read of the balance and the write. A balance that
/// would go below zero or above the limit is refused naming `field`.
pub(crate) fn post(tx: &WriteTx<'_>, id: GiftCardId, field: &str, p: Posting<'_>) -> Result<i64> {
    let db = tx.db();
    db.lock_for_update(
        sql!(postgres_only: "SELECT id FROM gift_cards WHERE id = ?1 FOR UPDATE"),
        &[&id],
    )?;
    let (balance_e4, currency, active, expires_at, last4): (
        i64,
        String,
        bool,
        Option<DateTime<Utc>>,
        String,
    ) = db
        .query_opt(
            sql!(
                "SELECT balance_e4, currency, active, expires_at, code_last4 FROM gift_cards \
                 WHERE id = ?1"
            ),
            &[&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?
        .ok_or_else(|| Error::not_found("gift card", id.to_string()))?;
    let currency = Currency::from_db(&currency)?;
    // Read again under the lock: an operator may have switched the card off
    // since it was looked up.
    if p.kind == GiftCardEntryKind::Redeem {
        if !active {
            return Err(Error::invalid(
                "code",
                format!("gift card …{last4} is switched off"),
            ));
        }
        if let Some(e) = expires_at.filter(|e| tx.now() >= *e) {
            return Err(Error::invalid(
                "code",
                format!("gift card …{last4} expired at {}", e.to_rfc3339()),
            ));
        }
    }
    let after = balance_e4
        .checked_add(p.amount_e4)
        .ok_or_else(|| Error::invalid(field, "is out of range"))?;
    if after < 0 {
        return Err(Error::invalid(
            field,
            format!(
                "is more than the card's balance of {}",
                Money::from_e4(balance_e4, currency)
            ),
        ));
    }
    // What the card paid and may get back by refunds counts against the
    // limit of an adjustment, so that a refund always fits on the card.
    let returnable_e4: i64 = if p.kind == GiftCardEntryKind::Adjust && p.amount_e4 > 0 {
        db.query_row(
            sql!(
                "SELECT CAST(coalesce(-sum(amount_e4), 0) AS bigint) FROM gift_card_entries \
                 WHERE gift_card_id = ?1 AND kind IN ('redeem', 'refund')"
            ),
            &[&id],
            |r| r.get(0),
        )?
    } else {
        0
    };
    if after.saturating_add(returnable_e4) > MAX_GIFT_CARD_VALUE * 10_000 {
        return Err(Error::invalid(
            field,
            format!(
                "would take the card's balance above {MAX_GIFT_CARD_VALUE} (counting {} it \
                 may get back by refunds)",
                Money::from_e4(returnable_e4, currency)
            ),
        ));
    }
    let now = tx.now();
    db.execute(
        sql!(
            "INSERT INTO gift_card_entries (gift_card_id, seq, kind, amount_e4, balance_e4, \
             order_id, payment_id, refund_id, reason, created_at) VALUES (?1, \
             (SELECT count(*) + 1 FROM gift_card_entries WHERE gift_card_id = ?1), \
             ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        &[
            &id,
            &p.kind,
            &p.amount_e4,
            &after,
            &p.order_id,
            &p.payment_id,
            &p.refund_id,
            &p.reason,
            &now,
        ],
    )?;
    db.execute(
        sql!(
            "UPDATE gift_cards SET balance_e4 = ?2, updated_at = ?3, version = version + 1 \
             WHERE id = ?1"
        ),
        &[&id, &after, &now],
    )?;
    Ok(after)
}

impl<'t> GiftCards<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        GiftCards {
            tx,
            reader: GiftCardReader::new(tx.db()),
        }
    }

    /// Issues a gift card; the result holds its code, which custdb does
    /// not keep (only a SHA-256 of it and its last four characters).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `code` (12 to 32 letters and digits),
    /// `amount` (not above 0, more decimals than the currency has, above
    /// [`MAX_GIFT_CARD_VALUE`]), `expires_at` (not in the future) or
    /// `note`; [`ErrorKind::AlreadyExists`] for a code another card has.
    pub fn issue_gift_card(&self, new: NewGiftCard) -> Result<IssuedGiftCard> {
        self.tx.atomic(|| {
            let (code, shown) = match &new.code {
                Some(c) => {
                    let code = normalise("code", c)?;
                    (code.clone(), code)
                }
                None => {
                    let code = draw_code()?;
                    let shown = grouped(&code);
                    (code, shown)
                }
            };
            let amount_e4 = new.currency.payable("amount", new.amount)?;
            if amount_e4 == 0 {
                return Err(Error::invalid("amount", "must be above 0"));
            }
            if amount_e4 > MAX_GIFT_CARD_VALUE * 10_000 {
                return Err(Error::invalid(
                    "amount",
                    format!("is above {MAX_GIFT_CARD_VALUE}"),
                ));
            }
            let expires_at = crate::time::checked_opt("expires_at", new.expires_at)?;
            if expires_at.is_some_and(|e| e <= self.tx.now()) {
                return Err(Error::invalid("expires_at", "must be in the future"));
            }
            let note =
                validate::optional_text("note", new.note.as_deref(), MAX_GIFT_CARD_NOTE_LEN)?;
            let hash = digest(&code);
            let taken: bool = self.tx.db().query_row(
                sql!("SELECT EXISTS (SELECT 1 FROM gift_cards WHERE code_sha256 = ?1)"),
                &[&hash],
                |r| r.get(0),
            )?;
            if taken {
                return Err(Error::new(ErrorKind::AlreadyExists {
                    entity: "gift card",
                    field: "code",
                }));
            }
            let id = GiftCardId::new();
            let last4: String = code[code.len() - 4..].to_owned();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO gift_cards (id, code_sha256, code_last4, currency, \
                         initial_e4, balance_e4, expires_at, active, note, created_at, \
                         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 1, ?7, ?8, ?8)"
                    ),
                    &[
                        &id,
                        &hash,
                        &last4,
                        &new.currency.code(),
                        &amount_e4,
                        &expires_at,
                        &note,
                        &self.tx.now(),
                    ],
                )
                .map_err(|e| match e.violated_unique() {
                    Some(_) => Error::new(ErrorKind::AlreadyExists {
                        entity: "gift card",
                        field: "code",
                    }),
                    None => e,
                })?;
            post(
                self.tx,
                id,
                "amount",
                Posting {
                    kind: GiftCardEntryKind::Issue,
                    amount_e4,
                    order_id: None,
                    payment_id: None,
                    refund_id: None,
                    reason: None,
                },
            )?;
            self.tx.audit_change(Change {
                action: "issue",
                entity_type: "gift_card",
                entity_id: &id.to_string(),
                changed_fields: &["balance", "expires_at", "note"],
            })?;
            Ok(IssuedGiftCard {
                card: self.gift_card(id)?,
                code: shown,
            })
        })
    }

    /// Corrects a card's balance by `amount` (negative to take off), with a
    /// reason; an entry of kind `adjust`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown card; [`ErrorKind::Invalid`]
    /// naming `amount` (zero, more decimals than the currency has, more
    /// than the balance off, above [`MAX_GIFT_CARD_VALUE`] in all) or
    /// `reason`.
    pub fn adjust_gift_card(
        &self,
        id: GiftCardId,
        amount: Decimal,
        reason: &str,
    ) -> Result<GiftCard> {
        self.tx.atomic(|| {
            let card = self.gift_card(id)?;
            let reason = validate::required_text("reason", reason, MAX_GIFT_CARD_NOTE_LEN)?;
            let magnitude = card.initial.currency.payable("amount", amount.abs())?;
            if magnitude == 0 {
                return Err(Error::invalid("amount", "must not be 0"));
            }
            let amount_e4 = if amount.is_sign_negative() {
                -magnitude
            } else {
                magnitude
            };
            post(
                self.tx,
                id,
                "amount",
                Posting {
                    kind: GiftCardEntryKind::Adjust,
                    amount_e4,
                    order_id: None,
                    payment_id: None,
                    refund_id: None,
                    reason: Some(&reason),
                },
            )?;
            self.tx.audit_change(Change {
                action: "adjust",
                entity_type: "gift_card",
                entity_id: &id.to_string(),
                changed_fields: &["balance"],
            })?;
            self.gift_card(id)
        })
    }

    /// Switches a card on or off (lost, stolen, found again). A card that
    /// is off pays nothing; refunds still come back to it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown card.
    pub fn set_gift_card_active(&self, id: GiftCardId, active: bool) -> Result<GiftCard> {
        self.tx.atomic(|| {
            let card = self.gift_card(id)?;
            if card.active == active {
                return Ok(card);
            }
            self.tx.db().execute(
                sql!(
                    "UPDATE gift_cards SET active = ?2, updated_at = ?3, version = version + 1 \
                     WHERE id = ?1"
                ),
                &[&id, &active, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "gift_card",
                entity_id: &id.to_string(),
                changed_fields: &["active"],
            })?;
            self.gift_card(id)
        })
    }
}

/// The card a code opens for paying `amount_e4` of an order in
/// `currency` now; else why not, naming `code`.
pub(crate) fn usable(
    tx: &WriteTx<'_>,
    code: &str,
    currency: Currency,
    amount_e4: i64,
) -> Result<GiftCard> {
    let reader = GiftCardReader::new(tx.db());
    let card = match reader.gift_card_by_code(code) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound { .. }) => {
            return Err(Error::invalid("code", "no gift card has this code"))
        }
        Err(e) => return Err(e),
    };
    let refuse = |reason: String| {
        Err(Error::invalid(
            "code",
            format!("gift card …{} {reason}", card.code_last4),
        ))
    };
    if !card.active {
        return refuse("is switched off".to_owned());
    }
    if let Some(e) = card.expires_at.filter(|e| tx.now() >= *e) {
        return refuse(format!("expired at {}", e.to_rfc3339()));
    }
    if card.initial.currency != currency {
        return refuse(format!(
            "is in {}, the order in {currency}",
            card.initial.currency
        ));
    }
    if money::to_e4("amount", card.balance.amount)? < amount_e4 {
        return Err(Error::invalid(
            "amount",
            format!(
                "is more than the {} left on gift card …{}",
                card.balance, card.code_last4
            ),
        ));
    }
    Ok(card)
}

/// The card that made a payment, if custdb's gift card made it.
pub(crate) fn card_of_payment(db: Conn<'_>, payment: PaymentId) -> Result<Option<GiftCardId>> {
    db.query_opt(
        sql!(
            "SELECT gift_card_id FROM gift_card_entries WHERE payment_id = ?1 \
             AND kind = 'redeem'"
        ),
        &[&payment],
        |r| r.get(0),
    )
}

/// Gift card invariants for `check()`: each card's balance is the sum of
/// its ledger and its last entry's balance, its first entry issues its
/// initial value, every redemption is a gift-card payment of the same
/// amount and every refund entry a refund of the same amount.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT c.code_last4, c.initial_e4, c.balance_e4, \
             CAST(coalesce((SELECT sum(e.amount_e4) FROM gift_card_entries e \
             WHERE e.gift_card_id = c.id), 0) AS bigint), \
             (SELECT e.balance_e4 FROM gift_card_entries e WHERE e.gift_card_id = c.id \
             ORDER BY e.seq DESC LIMIT 1), \
             (SELECT e.amount_e4 FROM gift_card_entries e WHERE e.gift_card_id = c.id \
             AND e.seq = 1 AND e.kind = 'issue') FROM gift_cards c ORDER BY c.id"
        ),
        &[],
        |r| {
            let last4: String = r.get(0)?;
            let (initial, balance, sum): (i64, i64, i64) = (r.get(1)?, r.get(2)?, r.get(3)?);
            let last: Option<i64> = r.get(4)?;
            let issued: Option<i64> = r.get(5)?;
            if balance != sum || last != Some(balance) {
                report.push(format!(
                    "gift card …{last4}: balance {} but its ledger sums to {} (last entry {:?})",
                    money::from_e4(balance),
                    money::from_e4(sum),
                    last.map(money::from_e4)
                ));
            }
            if issued != Some(initial) {
                report.push(format!(
                    "gift card …{last4}: its ledger does not start by issuing {}",
                    money::from_e4(initial)
                ));
            }
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT e.gift_card_id, e.seq FROM gift_card_entries e \
             LEFT JOIN payments p ON p.id = e.payment_id \
             WHERE e.kind = 'redeem' AND (p.id IS NULL OR p.method <> 'gift_card' \
             OR p.amount_e4 <> -e.amount_e4 OR p.order_id IS DISTINCT FROM e.order_id) \
             ORDER BY e.gift_card_id, e.seq"
        ),
        &[],
        |r| {
            let (card, seq): (GiftCardId, i64) = (r.get(0)?, r.get(1)?);
            report.push(format!(
                "gift card {card} entry {seq}: a redemption without its gift-card payment"
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT e.gift_card_id, e.seq FROM gift_card_entries e \
             LEFT JOIN refunds f ON f.id = e.refund_id \
             WHERE e.kind = 'refund' AND (f.id IS NULL OR f.amount_e4 <> e.amount_e4 \
             OR f.payment_id IS DISTINCT FROM e.payment_id) ORDER BY e.gift_card_id, e.seq"
        ),
        &[],
        |r| {
            let (card, seq): (GiftCardId, i64) = (r.get(0)?, r.get(1)?);
            report.push(format!(
                "gift card {card} entry {seq}: a refund entry without its refund"
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT p.id FROM payments p WHERE p.provider = 'custdb' \
             AND p.method NOT IN ('store_credit', 'loyalty_points') AND NOT EXISTS \
             (SELECT 1 FROM gift_card_entries e WHERE e.payment_id = p.id AND e.kind = 'redeem') \
             ORDER BY p.id"
        ),
        &[],
        |r| {
            let payment: PaymentId = r.get(0)?;
            report.push(format!(
                "payment {payment}: custdb's gift card payment without its redemption"
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT f.id FROM refunds f WHERE f.destination = 'gift_card' AND NOT EXISTS \
             (SELECT 1 FROM gift_card_entries e WHERE e.refund_id = f.id AND e.kind = 'refund') \
             ORDER BY f.id"
        ),
        &[],
        |r| {
            let refund: RefundId = r.get(0)?;
            report.push(format!(
                "refund {refund}: onto a gift card, but no card's ledger has it"
            ));
            Ok(())
        },
    )?;
    Ok(())
}

/// Locks the gift cards an order was paid with, by id (on PostgreSQL), so
/// that a refund crediting several takes them in one fixed order.
pub(crate) fn lock_cards_of_order(db: Conn<'_>, order_id: OrderId) -> Result<()> {
    if !db.is_postgres() {
        return Ok(());
    }
    let cards: Vec<GiftCardId> = db.query_vec(
        sql!(
            "SELECT DISTINCT gift_card_id FROM gift_card_entries WHERE order_id = ?1 \
             AND kind = 'redeem' ORDER BY gift_card_id"
        ),
        &[&order_id],
        |r| r.get(0),
    )?;
    for card in cards {
        db.lock_for_update(
            sql!(postgres_only: "SELECT id FROM gift_cards WHERE id = ?1 FOR UPDATE"),
            &[&card],
        )?;
    }
    Ok(())
}

crate::one_shot::one_shot! {
    /// Gift cards for single operations, each its own unit of work:
    /// `store.gift_cards().issue_gift_card(new)`.
    StoreGiftCards => write gift_cards: GiftCards, read gift_cards: GiftCardReader;
    write {
        fn issue_gift_card(new: NewGiftCard) -> IssuedGiftCard;
        fn adjust_gift_card(id: GiftCardId, amount: Decimal, reason: &str) -> GiftCard;
        fn set_gift_card_active(id: GiftCardId, active: bool) -> GiftCard;
    }
    read {
        fn gift_card(id: GiftCardId) -> GiftCard;
        fn gift_card_by_code(code: &str) -> GiftCard;
        fn gift_card_entries(id: GiftCardId) -> Vec<GiftCardEntry>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Gift cards for one-shot calls.
    pub fn gift_cards(&self) -> StoreGiftCards<'_> {
        StoreGiftCards::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Gift cards inside this transaction.
    pub fn gift_cards(&self) -> GiftCards<'_> {
        GiftCards::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Gift cards, read-only.
    pub fn gift_cards(&self) -> GiftCardReader<'a> {
        GiftCardReader::new(self.db())
    }
}
