//! Money: exact decimals with an ISO 4217 currency, and the one way custdb
//! stores them.
//!
//! Every amount is a [`Decimal`] in memory and, in the database, an
//! `INTEGER` holding the amount times 10⁴ (columns named `*_e4`). One fixed
//! scale for every currency keeps `SUM()` in SQL exact and comparisons
//! trivial; 10⁴ covers every ISO 4217 minor unit (most have 2, a few 0 or 3,
//! CLF and UYW 4) and leaves unit prices room for sub-cent precision
//! (a screw at 0.0125 GBP).
//!
//! The rules, checked on input:
//!
//! - a **unit price** may carry up to [`PRICE_DECIMALS`] decimals (more is an
//!   error, never a silent rounding);
//! - **payable amounts** (discounts, shipping, payments, refunds) may carry
//!   no more decimals than the currency's minor unit (2 for GBP, 0 for JPY);
//! - a **line subtotal** (quantity × unit price) is rounded once, to the
//!   currency's minor unit, half away from zero (commercial rounding); tax is
//!   computed on the discounted subtotal and rounded the same way. Every
//!   stored total is therefore payable, and the order's totals are exact
//!   sums of its lines.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Error, Result};

/// Decimals a unit price may carry: the storage scale.
pub const PRICE_DECIMALS: u32 = 4;

/// The largest unit price accepted, in currency units (a hundred million).
pub const MAX_UNIT_PRICE: i64 = 100_000_000;

/// The largest amount stored anywhere, in currency units (10¹⁴): far above
/// any real order, far below where the `*_e4` integers could overflow.
pub const MAX_AMOUNT: i64 = 100_000_000_000_000;

const SCALE_FACTOR: i64 = 10_000;

/// An ISO 4217 currency with a minor unit (funds and metals without one,
/// such as XAU, are refused).
///
/// Every input that names a currency takes this type, so a misspelt code
/// fails where it is written, not deep inside an operation. The common
/// currencies are constants (`Currency::GBP`); any other ISO 4217 code
/// parses with [`Currency::parse`] or `str::parse`. Serializes as its
/// three-letter code, so JSON inputs keep writing `"currency": "GBP"`.
///
/// # Example
///
/// ```
/// use custdb::Currency;
/// assert_eq!(Currency::GBP, "gbp".parse::<Currency>()?);
/// assert_eq!(Currency::JPY.minor_digits(), 0);
/// # Ok::<(), custdb::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// US dollar.
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    /// euro.
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    /// pound sterling.
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    /// Japanese yen (no minor unit digits).
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);
    /// Swiss franc.
    pub const CHF: Currency = Currency(iso_currency::Currency::CHF);
    /// Canadian dollar.
    pub const CAD: Currency = Currency(iso_currency::Currency::CAD);
    /// Australian dollar.
    pub const AUD: Currency = Currency(iso_currency::Currency::AUD);
    /// New Zealand dollar.
    pub const NZD: Currency = Currency(iso_currency::Currency::NZD);
    /// Swedish krona.
    pub const SEK: Currency = Currency(iso_currency::Currency::SEK);
    /// Norwegian krone.
    pub const NOK: Currency = Currency(iso_currency::Currency::NOK);
    /// Danish krone.
    pub const DKK: Currency = Currency(iso_currency::Currency::DKK);
    /// Polish złoty.
    pub const PLN: Currency = Currency(iso_currency::Currency::PLN);
    /// Czech koruna.
    pub const CZK: Currency = Currency(iso_currency::Currency::CZK);
    /// Hungarian forint.
    pub const HUF: Currency = Currency(iso_currency::Currency::HUF);
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency(iso_currency::Currency::CNY);
    /// Hong Kong dollar.
    pub const HKD: Currency = Currency(iso_currency::Currency::HKD);
    /// Singapore dollar.
    pub const SGD: Currency = Currency(iso_currency::Currency::SGD);
    /// Indian rupee.
    pub const INR: Currency = Currency(iso_currency::Currency::INR);
    /// Brazilian real.
    pub const BRL: Currency = Currency(iso_currency::Currency::BRL);
    /// Mexican peso.
    pub const MXN: Currency = Currency(iso_currency::Currency::MXN);
    /// South African rand.
    pub const ZAR: Currency = Currency(iso_currency::Currency::ZAR);
    /// Kuwaiti dinar (three minor unit digits).
    pub const KWD: Currency = Currency(iso_currency::Currency::KWD);

    /// Parses a three-letter ISO 4217 code (case-insensitive), naming
    /// `field` in the error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the code is not
    /// an ISO 4217 currency with a minor unit.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::Currency;
    /// let gbp = Currency::parse("gbp", "currency")?;
    /// assert_eq!(gbp.code(), "GBP");
    /// assert_eq!(gbp.minor_digits(), 2);
    /// assert!(Currency::parse("XAU", "currency").is_err());
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn parse(code: &str, field: &str) -> Result<Currency> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 3 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::invalid(
                field,
                "is not an ISO 4217 currency code (three letters, e.g. GBP)",
            ));
        }
        match iso_currency::Currency::from_code(&upper) {
            Some(c) if c.exponent().is_some_and(|e| e as u32 <= PRICE_DECIMALS) => Ok(Currency(c)),
            Some(_) => Err(Error::invalid(
                field,
                format!("{upper} has no minor unit and cannot price goods"),
            )),
            None => Err(Error::invalid(
                field,
                format!("{upper} is not an ISO 4217 currency code"),
            )),
        }
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Decimals of the minor unit: 2 for GBP, 0 for JPY, 3 for KWD.
    pub fn minor_digits(self) -> u32 {
        // Parse only accepts currencies whose exponent is known and small.
        self.0.exponent().map_or(PRICE_DECIMALS, u32::from)
    }

    /// The amount with at least the minor unit's decimals (`43.2` becomes
    /// `43.20`), for display and serialization; the value is unchanged.
    pub fn present(self, amount: Decimal) -> Decimal {
        let mut a = amount;
        if a.scale() < self.minor_digits() {
            a.rescale(self.minor_digits());
        }
        a
    }

    /// Reads a code stored by custdb.
    pub(crate) fn from_db(code: &str) -> Result<Currency> {
        Currency::parse(code, "currency")
            .map_err(|_| Error::corrupt(format!("stored currency {code:?} is not ISO 4217")))
    }

    /// Rounds to the minor unit, half away from zero.
    pub(crate) fn round(self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor_digits(), RoundingStrategy::MidpointAwayFromZero)
    }

    /// Checks a payable amount: not negative, at most the minor unit's
    /// decimals, at most [`MAX_AMOUNT`]. Returns it as stored (`*_e4`).
    pub(crate) fn payable(self, field: &str, amount: Decimal) -> Result<i64> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(Error::invalid(field, "must not be negative"));
        }
        if amount.normalize().scale() > self.minor_digits() {
            return Err(Error::invalid(
                field,
                format!(
                    "{amount} has more decimals than {} allows ({})",
                    self.code(),
                    self.minor_digits()
                ),
            ));
        }
        to_e4(field, amount)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Currency> {
        Currency::parse(s, "currency")
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Currency, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code, "currency").map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "json-schema")]
impl schemars::JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An ISO 4217 currency code, e.g. \"GBP\" (any case on the way in; upper case on the way out).",
            "type": "string",
            "pattern": "^[A-Za-z]{3}$"
        })
    }
}

/// An amount in a currency: every amount custdb returns (order totals,
/// line amounts, payments, refunds, credit notes, prices, report figures)
/// is one.
///
/// The amount carries at least the currency's minor unit digits (`9.00`,
/// never `9`), so it prints and serializes the same way everywhere;
/// `Display` adds the code (`9.00 GBP`). Serializes as
/// `{"amount": "9.00", "currency": "GBP"}`.
///
/// Inputs name their currency once (a [`Currency`]) and give amounts as
/// [`Decimal`]s in it, as `NewOrder` does for its shipping and line prices.
///
/// # Example
///
/// ```
/// use custdb::{Currency, Decimal, Money};
/// let price = Money::new(Decimal::new(45, 1), Currency::GBP);
/// assert_eq!(price.to_string(), "4.50 GBP");
/// assert_eq!(price.amount.to_string(), "4.50");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Money {
    /// The exact amount.
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in a currency, shown with at least the currency's minor
    /// unit digits (`4.5` GBP becomes `4.50`; the value is unchanged).
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money {
            amount: currency.present(amount),
            currency,
        }
    }

    /// Zero in a currency (`0.00 GBP`).
    pub fn zero(currency: Currency) -> Money {
        Money::new(Decimal::ZERO, currency)
    }

    pub(crate) fn from_e4(amount_e4: i64, currency: Currency) -> Money {
        Money::new(from_e4(amount_e4), currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits().max(self.amount.scale());
        write!(
            f,
            "{:.*} {}",
            digits as usize,
            self.amount,
            self.currency.code()
        )
    }
}

/// Reading an amount or a rate from text, strictly: digits, an optional
/// leading `-` and at most one decimal point (`"4.50"`, `"-1"`, `"0.2"`).
/// An exponent (`"1e1"`), a `+` sign, spaces, a JSON number or more than
/// 28 significant digits are refused with a reason naming the text, so an
/// amount means one thing whoever wrote it. Every input record's money and
/// rate fields deserialize through this (`deserialize_with`).
pub(crate) mod amount_text {
    use rust_decimal::Decimal;
    use serde::de::{Deserialize, Deserializer, Error};

    /// The longest prefix of the offending text an error quotes.
    const QUOTED_CHARS: usize = 40;

    /// Parses the text of an amount.
    pub(crate) fn parse(text: &str) -> Result<Decimal, String> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !fraction.is_none_or(all_digits) {
            let quoted: String = text.chars().take(QUOTED_CHARS).collect();
            let cut = if text.chars().count() > QUOTED_CHARS {
                "…"
            } else {
                ""
            };
            return Err(format!(
                "{quoted:?}{cut} is not a decimal amount: write digits with an optional \
                 leading - and one decimal point, as \"4.50\" (no exponent, no + sign, \
                 no spaces)"
            ));
        }
        Decimal::from_str_exact(text).map_err(|e| {
            let quoted: String = text.chars().take(QUOTED_CHARS).collect();
            format!("{quoted:?} is not a decimal amount: {e}")
        })
    }

    /// `deserialize_with` for a `Decimal` field.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }

    /// `serialize_with` for a field read by [`deserialize`]: the decimal
    /// string, so that one `#[serde(with = "crate::money::amount_text")]`
    /// serves both ways.
    pub(crate) fn serialize<S: serde::Serializer>(
        amount: &Decimal,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str::serialize(amount, s)
    }

    /// `deserialize_with` for an `Option<Decimal>` field (`null` is None).
    pub(crate) fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).map_err(D::Error::custom),
        }
    }
}

/// Reads an amount or a rate from text, strictly, as every input record's
/// money fields do: digits, an optional leading `-` and at most one
/// decimal point (`"4.50"`, `"0.2"`); no exponent, `+` sign or spaces.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) on `field`, quoting
/// the text.
///
/// # Example
///
/// ```
/// use custdb::money::parse_amount;
///
/// assert_eq!(parse_amount("4.50", "price")?.to_string(), "4.50");
/// assert!(parse_amount("1e1", "price").is_err());
/// # Ok::<(), custdb::Error>(())
/// ```
pub fn parse_amount(text: &str, field: &str) -> Result<Decimal> {
    amount_text::parse(text).map_err(|reason| Error::invalid(field, reason))
}

/// Checks a unit price: not negative, at most [`PRICE_DECIMALS`] decimals,
/// at most [`MAX_UNIT_PRICE`]. Returns it as stored.
pub(crate) fn unit_price(field: &str, price: Decimal) -> Result<i64> {
    if price.is_sign_negative() && !price.is_zero() {
        return Err(Error::invalid(field, "must not be negative"));
    }
    if price.normalize().scale() > PRICE_DECIMALS {
        return Err(Error::invalid(
            field,
            format!("{price} has more than {PRICE_DECIMALS} decimals"),
        ));
    }
    if price > Decimal::from(MAX_UNIT_PRICE) {
        return Err(Error::invalid(
            field,
            format!("{price} is above the limit of {MAX_UNIT_PRICE}"),
        ));
    }
    to_e4(field, price)
}

/// Converts an amount with at most four decimals to its stored integer.
pub(crate) fn to_e4(field: &str, amount: Decimal) -> Result<i64> {
    if amount.abs() > Decimal::from(MAX_AMOUNT) {
        return Err(Error::invalid(
            field,
            format!("{amount} is above the limit of {MAX_AMOUNT}"),
        ));
    }
    let scaled = amount * Decimal::from(SCALE_FACTOR);
    debug_assert!(scaled.fract().is_zero(), "callers check the decimals first");
    i64::try_from(scaled.trunc())
        .map_err(|_| Error::invalid(field, format!("{amount} is too large")))
}

/// The decimal an `*_e4` integer stands for.
pub(crate) fn from_e4(amount_e4: i64) -> Decimal {
    let mut d = Decimal::new(amount_e4, PRICE_DECIMALS);
    d.rescale(PRICE_DECIMALS.min(d.scale()));
    d.normalize()
}

/// Sums stored amounts, refusing an overflow instead of wrapping.
pub(crate) fn add_e4(field: &str, a: i64, b: i64) -> Result<i64> {
    let sum = a
        .checked_add(b)
        .ok_or_else(|| Error::invalid(field, "the amount is too large"))?;
    if sum.abs() > MAX_AMOUNT * SCALE_FACTOR {
        return Err(Error::invalid(
            field,
            format!("the amount is above the limit of {MAX_AMOUNT}"),
        ));
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_round_trip_through_storage() {
        for text in ["0", "0.01", "12.5", "0.0125", "99999999.9999"] {
            let e4 = unit_price("price", d(text)).unwrap();
            assert_eq!(from_e4(e4), d(text).normalize(), "{text}");
        }
        assert_eq!(unit_price("price", d("1.23")).unwrap(), 12_300);
    }

    #[test]
    fn too_many_decimals_is_refused_not_rounded() {
        let err = unit_price("price", d("0.00001")).unwrap_err();
        assert_eq!(err.field(), Some("price"));
        // Trailing zeros are not extra precision.
        assert!(unit_price("price", d("1.230000")).is_ok());
        let jpy = Currency::parse("JPY", "currency").unwrap();
        assert!(jpy.payable("amount", d("100")).is_ok());
        assert!(jpy.payable("amount", d("100.5")).is_err());
        assert!(unit_price("price", d("-1")).is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_the_minor_unit() {
        let gbp = Currency::parse("GBP", "c").unwrap();
        assert_eq!(gbp.round(d("0.125")), d("0.13"));
        assert_eq!(gbp.round(d("0.135")), d("0.14"));
        assert_eq!(gbp.round(d("0.1249")), d("0.12"));
        let kwd = Currency::parse("KWD", "c").unwrap();
        assert_eq!(kwd.minor_digits(), 3);
        assert_eq!(kwd.round(d("1.0005")), d("1.001"));
    }

    #[test]
    fn the_constants_are_the_parsed_codes() {
        for c in [
            Currency::USD,
            Currency::EUR,
            Currency::GBP,
            Currency::JPY,
            Currency::CHF,
            Currency::CAD,
            Currency::AUD,
            Currency::NZD,
            Currency::SEK,
            Currency::NOK,
            Currency::DKK,
            Currency::PLN,
            Currency::CZK,
            Currency::HUF,
            Currency::CNY,
            Currency::HKD,
            Currency::SGD,
            Currency::INR,
            Currency::BRL,
            Currency::MXN,
            Currency::ZAR,
            Currency::KWD,
        ] {
            assert_eq!(Currency::parse(c.code(), "c").unwrap(), c);
        }
        assert_eq!(
            Money::new(d("1.5"), Currency::GBP).amount.to_string(),
            "1.50"
        );
        assert_eq!(
            Money::new(d("1.5"), Currency::JPY).amount.to_string(),
            "1.5"
        );
        assert_eq!(Money::new(d("7"), Currency::KWD).to_string(), "7.000 KWD");
    }

    #[test]
    fn currencies_are_checked() {
        assert!(Currency::parse("EUR", "c").is_ok());
        assert!(Currency::parse("eu", "c").is_err());
        assert!(Currency::parse("ZZZ", "c").is_err());
        assert_eq!(
            Money::new(d("5"), Currency::parse("EUR", "c").unwrap()).to_string(),
            "5.00 EUR"
        );
    }
}
