//! Credit notes: money given back without an order line to return it
//! against (a cancellation whose original sale is not in the database, a
//! goodwill credit). Reports subtract them from revenue.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::Orders;
use crate::audit::Change;
use crate::db::{sql, Json};
use crate::error::JsonResult;
use crate::error::{Error, Result};
use crate::id::{CreditNoteId, CustomerId};
use crate::money::Currency;
use crate::unit::WriteTx;
use crate::validate;

/// A credit note to issue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewCreditNote {
    /// The customer, or `None` for a guest.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// The currency (JSON: its ISO 4217 code).
    pub currency: Currency,
    /// The amount credited (above 0, in the currency's minor unit).
    #[serde(deserialize_with = "crate::money::amount_text::deserialize")]
    pub amount: Decimal,
    /// Why (1 to 200 characters).
    pub reason: String,
    /// What it is for: a JSON array (free form; imports list the lines).
    #[serde(default = "empty_array")]
    pub lines: serde_json::Value,
    /// Country, ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// The amount goes to the customer's store credit (docs/BALANCES.md),
    /// to be spent on a later order; needs a customer.
    #[serde(default)]
    pub to_store_credit: bool,
}
crate::input::strict_serde!(NewCreditNote);

fn empty_array() -> serde_json::Value {
    serde_json::Value::Array(Vec::new())
}

/// An issued credit note.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct CreditNote {
    /// Its id.
    pub id: CreditNoteId,
    /// The customer, if any.
    pub customer_id: Option<CustomerId>,
    /// Currency.
    pub currency: Currency,
    /// Amount.
    pub amount: crate::money::Money,
    /// Why.
    pub reason: String,
    /// What it is for.
    pub lines: serde_json::Value,
    /// Country.
    pub country: Option<String>,
    /// When issued.
    pub issued_at: DateTime<Utc>,
    /// Whether the amount went to the customer's store credit.
    pub to_store_credit: bool,
}

pub(crate) fn issue(tx: &WriteTx<'_>, new: &NewCreditNote) -> Result<CreditNoteId> {
    let currency = new.currency;
    let issued_at = crate::time::checked("issued_at", new.issued_at)?;
    let amount_e4 = currency.payable("amount", new.amount)?;
    if amount_e4 <= 0 {
        return Err(Error::invalid("amount", "must be above 0"));
    }
    let reason = validate::required_text("reason", &new.reason, super::fulfilment::MAX_REASON_LEN)?;
    if !new.lines.is_array() {
        return Err(Error::invalid("lines", "must be a JSON array"));
    }
    validate::json_without_nul("lines", &new.lines)?;
    let lines = serde_json::to_string(&new.lines).written()?;
    if lines.len() > 1_000_000 {
        return Err(Error::invalid("lines", "is larger than 1 MB"));
    }
    if let Some(c) = new.customer_id {
        if new.to_store_credit {
            crate::customer::CustomerReader::new(tx.db()).require_active(c)?;
        } else {
            crate::customer::CustomerReader::new(tx.db()).require(c)?;
        }
    }
    let credit_customer = match (new.to_store_credit, new.customer_id) {
        (false, _) => None,
        (true, Some(c)) => Some(c),
        (true, None) => {
            return Err(Error::invalid(
                "customer_id",
                "is needed for a credit note to store credit",
            ))
        }
    };
    let country = new
        .country
        .as_deref()
        .map(|c| validate::country("country", c))
        .transpose()?;
    let id = CreditNoteId::new();
    tx.db().execute(
        sql!(
            "INSERT INTO credit_notes (id, customer_id, currency, amount_e4, reason, lines, \
             country, issued_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        &[
            &id,
            &new.customer_id,
            &currency.code(),
            &amount_e4,
            &reason,
            &Json(&lines),
            &country,
            &issued_at,
            &tx.now(),
        ],
    )?;
    if let Some(customer) = credit_customer {
        let mut credit = crate::storecredit::Posting::new(
            crate::storecredit::StoreCreditEntryKind::CreditNote,
            amount_e4,
        );
        credit.credit_note_id = Some(id);
        crate::storecredit::post(tx, customer, currency, "amount", credit)?;
    }
    let mut facts = crate::changes::ChangeFacts::current();
    facts.customer_id = new.customer_id.map(|c| c.to_string());
    facts.amount = Some(crate::money::from_e4(amount_e4));
    facts.currency = Some(currency.code().to_owned());
    tx.audit_change_with(
        Change {
            action: "issue",
            entity_type: "credit_note",
            entity_id: &id.to_string(),
            changed_fields: if credit_customer.is_some() {
                &["amount", "lines", "store_credit"]
            } else {
                &["amount", "lines"]
            },
        },
        facts,
    )?;
    Ok(id)
}

impl<'t> Orders<'t> {
    /// Issues a credit note.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `currency`,
    /// `amount` (not above 0, more decimals than the currency), `reason`,
    /// `lines` (not an array, over 1 MB), `country`, `issued_at` (outside
    /// the range of [`crate::time`]);
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn issue_credit_note(&self, new: &NewCreditNote) -> Result<CreditNote> {
        self.tx().atomic(|| {
            let id = issue(self.tx(), new)?;
            self.credit_note(id)
        })
    }

    /// A credit note.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    pub fn credit_note(&self, id: CreditNoteId) -> Result<CreditNote> {
        #[allow(clippy::type_complexity)]
        let (customer_id, currency, amount_e4, reason, lines, country, issued_at, to_store_credit): (
            Option<CustomerId>,
            String,
            i64,
            String,
            String,
            Option<String>,
            DateTime<Utc>,
            bool,
        ) = self
            .tx()
            .db()
            .query_opt(
                sql!(
                    "SELECT customer_id, currency, amount_e4, reason, lines, country, issued_at, \
                     EXISTS (SELECT 1 FROM store_credit_entries e WHERE e.credit_note_id = ?1) \
                     FROM credit_notes WHERE id = ?1"
                ),
                &[&id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )?
            .ok_or_else(|| Error::not_found("credit note", id))?;
        let currency = Currency::from_db(&currency)?;
        Ok(CreditNote {
            id,
            customer_id,
            currency,
            amount: crate::money::Money::from_e4(amount_e4, currency),
            reason,
            lines: serde_json::from_str(&lines).stored()?,
            country,
            issued_at,
            to_store_credit,
        })
    }
}
