//! Customers: the record, its tags and custom attributes, its addresses
//! ([`address`]) and its interaction timeline ([`interaction`]).
//!
//! Reads go through [`CustomerReader`] (from [`ReadTx::customers`](crate::ReadTx::customers)),
//! writes through [`Customers`] (from [`WriteTx::customers`](crate::WriteTx::customers)),
//! and one-shot calls through [`StoreCustomers`] (from [`Store::customers`](crate::Store::customers)).
//!
//! # Rules
//!
//! - The email is trimmed and lowercased, and unique among customers that are
//!   not archived; archiving a customer frees its email.
//! - Every change to the record (fields, tags, archive, restore) raises
//!   `version` by one. [`Customers::update`] takes the version the caller
//!   read and fails with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict)
//!   if it is stale.
//! - An archived customer is read-only until restored.
//! - Limits are the `MAX_*` constants of this module, in characters.

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: impl Into<String>) -> Self {
                self.$name = Some(value.into());
                self
            }
        )*
    };
}
pub(crate) use setters;

pub mod address;
pub mod interaction;

use std::collections::BTreeSet;

use crate::db::{sql, Conn, Json, Row, TimeBound};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::audit::Change;
use crate::error::JsonResult;
use crate::error::{Error, ErrorKind, Result};
use crate::id::CustomerId;
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::store::Store;
use crate::unit::{CheckReport, ReadTx, WriteTx};
use crate::validate;

pub use address::{Address, AddressKind, AddressPatch, NewAddress};
pub use interaction::{Channel, Direction, Interaction, InteractionKind, NewInteraction};

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_LEN: usize = 200;
/// Longest given or family name, in characters.
pub const MAX_PERSON_NAME_LEN: usize = 100;
/// Longest company name, in characters.
pub const MAX_COMPANY_LEN: usize = 200;
/// Longest acquisition source, in characters.
pub const MAX_SOURCE_LEN: usize = 100;
/// Longest notes text, in characters.
pub const MAX_NOTES_LEN: usize = 10_000;
/// Most tags one customer may have.
pub const MAX_TAGS: usize = 50;
/// Longest search query, in characters.
pub const MAX_QUERY_LEN: usize = 200;
/// Most words a search query may have.
pub const MAX_QUERY_TERMS: usize = 16;
/// Most results one search returns.
pub const MAX_SEARCH_RESULTS: usize = 100;

pub use crate::validate::{
    MAX_ATTRIBUTES_BYTES, MAX_ATTRIBUTES_DEPTH, MAX_ATTRIBUTE_KEY_LEN, MAX_EMAIL_LEN,
    MAX_LOCALE_LEN, MAX_PHONE_LEN, MAX_TAG_LEN,
};

/// A customer, as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Customer {
    /// The customer's id.
    pub id: CustomerId,
    /// The name shown in lists and greetings (a person or a company).
    pub display_name: String,
    /// Given (first) name.
    pub given_name: Option<String>,
    /// Family (last) name.
    pub family_name: Option<String>,
    /// Email address, trimmed and lowercased.
    pub email: Option<String>,
    /// Phone number: E.164 (`+447700900123`) when its country was known,
    /// otherwise as written.
    pub phone: Option<String>,
    /// Company or organisation.
    pub company: Option<String>,
    /// Preferred locale, a BCP 47 tag such as `en-GB`.
    pub locale: Option<String>,
    /// Date of birth.
    pub birth_date: Option<NaiveDate>,
    /// Where the customer came from (a campaign, a shop, an import).
    pub acquisition_source: Option<String>,
    /// Tags, lowercased, sorted.
    pub tags: Vec<String>,
    /// Application-defined attributes (a JSON object).
    pub attributes: Map<String, Value>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// When the customer was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: 1 at creation, +1 on every change.
    pub version: i64,
    /// When the customer was archived; `None` while active.
    pub archived_at: Option<DateTime<Utc>>,
}

impl Customer {
    /// True when the customer is archived.
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// A customer to create. Only the display name is required; set the rest
/// with the chained setters or the public fields.
///
/// # Example
///
/// ```
/// use custdb::NewCustomer;
///
/// let new = NewCustomer::new("Ada Lovelace")
///     .given_name("Ada")
///     .family_name("Lovelace")
///     .email("ada@example.com")
///     .phone("020 7946 0958")
///     .phone_country("GB")
///     .tag("vip")
///     .attribute("loyalty_tier", serde_json::json!("gold"));
/// let store = custdb::Store::open_in_memory()?;
/// let ada = store.customers().create(new)?;
/// assert_eq!(ada.phone.as_deref(), Some("+442079460958"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewCustomer {
    /// Required: the name shown in lists.
    pub display_name: String,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number as typed.
    #[serde(default)]
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2 country used to read a national phone number;
    /// not stored.
    #[serde(default)]
    pub phone_country: Option<String>,
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// Locale, BCP 47.
    #[serde(default)]
    pub locale: Option<String>,
    /// Date of birth.
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    /// Acquisition source.
    #[serde(default)]
    pub acquisition_source: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom attributes.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}
crate::input::strict_serde!(NewCustomer);

impl NewCustomer {
    /// A new customer with this display name.
    pub fn new(display_name: impl Into<String>) -> Self {
        NewCustomer {
            display_name: display_name.into(),
            ..NewCustomer::default()
        }
    }

    setters!(
        /// Sets the given name.
        given_name,
        /// Sets the family name.
        family_name,
        /// Sets the email address.
        email,
        /// Sets the phone number.
        phone,
        /// Sets the country used to read a national phone number.
        phone_country,
        /// Sets the company.
        company,
        /// Sets the locale.
        locale,
        /// Sets the acquisition source.
        acquisition_source,
        /// Sets the notes.
        notes,
    );

    /// Sets the date of birth.
    pub fn birth_date(mut self, date: NaiveDate) -> Self {
        self.birth_date = Some(date);
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets a custom attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: Value) -> Self {
        self.attributes.insert(key.into(), value);
        self
    }
}

/// A partial update of a customer: `None` leaves a field as it is. For the
/// optional fields, `Some(None)` clears the field and `Some(Some(v))` sets
/// it; a blank text (`Some(Some(""))`) clears it too.
///
/// In JSON: a field left out is left as it is; `null` or `""` clears an
/// optional field; `null` for a field that cannot be cleared
/// (`display_name`, `phone_country`, `tags`, `attributes`) is an error
/// naming it, as is an unknown field (docs/ERRORS.md).
///
/// # Example
///
/// ```
/// use custdb::{CustomerPatch, NewCustomer, Store};
///
/// let store = Store::open_in_memory()?;
/// let c = store.customers().create(NewCustomer::new("Ann").email("ann@example.com"))?;
/// let patch = CustomerPatch::default().company("Acme Ltd").clear_email();
/// let c = store.customers().update(c.id, c.version, patch)?;
/// assert_eq!(c.company.as_deref(), Some("Acme Ltd"));
/// assert_eq!(c.email, None);
/// assert_eq!(c.version, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct CustomerPatch {
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New given name, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub given_name: Option<Option<String>>,
    /// New family name, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub family_name: Option<Option<String>>,
    /// New email, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    /// New phone, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
    /// Country used to read a national phone number in this patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_country: Option<String>,
    /// New company, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub company: Option<Option<String>>,
    /// New locale, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub locale: Option<Option<String>>,
    /// New date of birth, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub birth_date: Option<Option<NaiveDate>>,
    /// New acquisition source, or `Some(None)` to clear it.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub acquisition_source: Option<Option<String>>,
    /// Replaces all tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Replaces all custom attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    /// New notes, or `Some(None)` to clear them.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub notes: Option<Option<String>>,
}
crate::input::strict_serde!(CustomerPatch; not_null: display_name, phone_country, tags, attributes);

macro_rules! patch_setters {
    ($($(#[$doc:meta])* $name:ident / $clear:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: impl Into<String>) -> Self {
                self.$name = Some(Some(value.into()));
                self
            }

            /// Clears the field.
            pub fn $clear(mut self) -> Self {
                self.$name = Some(None);
                self
            }
        )*
    };
}

impl CustomerPatch {
    patch_setters!(
        /// Sets the given name.
        given_name / clear_given_name,
        /// Sets the family name.
        family_name / clear_family_name,
        /// Sets the email.
        email / clear_email,
        /// Sets the phone number.
        phone / clear_phone,
        /// Sets the company.
        company / clear_company,
        /// Sets the locale.
        locale / clear_locale,
        /// Sets the acquisition source.
        acquisition_source / clear_acquisition_source,
        /// Sets the notes.
        notes / clear_notes,
    );

    /// Sets the display name.
    pub fn display_name(mut self, value: impl Into<String>) -> Self {
        self.display_name = Some(value.into());
        self
    }

    /// Sets the country used to read a national phone number.
    pub fn phone_country(mut self, value: impl Into<String>) -> Self {
        self.phone_country = Some(value.into());
        self
    }

    /// Sets the date of birth.
    pub fn birth_date(mut self, date: NaiveDate) -> Self {
        self.birth_date = Some(Some(date));
        self
    }

    /// Replaces all tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces all custom attributes.
    pub fn attributes(mut self, attributes: Map<String, Value>) -> Self {
        self.attributes = Some(attributes);
        self
    }
}

/// Which records a listing includes by archive state (customers,
/// products).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ArchiveState {
    /// Only records that are not archived (the default).
    #[default]
    Active,
    /// Only archived records.
    Archived,
    /// Both.
    All,
}

impl ArchiveState {
    /// Parses `"active"`, `"archived"` or `"all"`, naming `field` in the
    /// error.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `field` for any other text.
    pub fn parse(text: &str, field: &str) -> Result<ArchiveState> {
        match text {
            "active" => Ok(ArchiveState::Active),
            "archived" => Ok(ArchiveState::Archived),
            "all" => Ok(ArchiveState::All),
            _ => Err(Error::invalid(
                field,
                "must be one of active, archived, all",
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ArchiveState::Active => "active",
            ArchiveState::Archived => "archived",
            ArchiveState::All => "all",
        }
    }
}

/// Filters for [`CustomerReader::list`]; all set filters must match.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct CustomerFilter {
    /// Only customers with this tag.
    pub tag: Option<String>,
    /// Only customers with an address in this country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Only customers created at or after this instant (any instant; see
    /// [`created_between`](CustomerFilter::created_between)).
    pub created_from: Option<DateTime<Utc>>,
    /// Only customers created before this instant (any instant).
    pub created_before: Option<DateTime<Utc>>,
    /// Active (default), archived, or all.
    pub archived: ArchiveState,
}
crate::input::strict_serde!(CustomerFilter);

impl CustomerFilter {
    /// Only customers with this tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Only customers with an address in this country.
    pub fn country(mut self, country: impl Into<String>) -> Self {
        self.country = Some(country.into());
        self
    }

    /// Only customers created in `[from, before)`. A bound outside the
    /// range custdb stores means no bound on that side:
    /// `created_between(t, DateTime::<Utc>::MAX_UTC)` is "from `t` on"
    /// (see [`crate::time`]).
    pub fn created_between(mut self, from: DateTime<Utc>, before: DateTime<Utc>) -> Self {
        self.created_from = Some(from);
        self.created_before = Some(before);
        self
    }

    /// Which archive state to list.
    pub fn archived(mut self, state: ArchiveState) -> Self {
        self.archived = state;
        self
    }
}

/// The validated, normalized column values of a customer row.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    display_name: String,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    locale: Option<String>,
    birth_date: Option<NaiveDate>,
    acquisition_source: Option<String>,
    tags: Vec<String>,
    attributes: Map<String, Value>,
    attributes_json: String,
    notes: Option<String>,
}

impl Fields {
    fn from_new(new: &NewCustomer, today: NaiveDate) -> Result<Fields> {
        let attributes_json = validate::attributes("attributes", &new.attributes)?;
        Ok(Fields {
            display_name: validate::required_text(
                "display_name",
                &new.display_name,
                MAX_DISPLAY_NAME_LEN,
            )?,
            given_name: validate::optional_text(
                "given_name",
                new.given_name.as_deref(),
                MAX_PERSON_NAME_LEN,
            )?,
            family_name: validate::optional_text(
                "family_name",
                new.family_name.as_deref(),
                MAX_PERSON_NAME_LEN,
            )?,
            email: new
                .email
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(|e| validate::email("email", e))
                .transpose()?,
            phone: phone(new.phone.as_deref(), new.phone_country.as_deref())?,
            company: validate::optional_text("company", new.company.as_deref(), MAX_COMPANY_LEN)?,
            locale: new
                .locale
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .map(|l| validate::locale("locale", l))
                .transpose()?,
            birth_date: new.birth_date.map(|d| birth_date(d, today)).transpose()?,
            acquisition_source: validate::optional_text(
                "acquisition_source",
                new.acquisition_source.as_deref(),
                MAX_SOURCE_LEN,
            )?,
            tags: tags("tags", &new.tags)?,
            attributes: new.attributes.clone(),
            attributes_json,
            notes: validate::optional_long_text("notes", new.notes.as_deref(), MAX_NOTES_LEN)?,
        })
    }

    fn from_customer(c: &Customer) -> Fields {
        Fields {
            display_name: c.display_name.clone(),
            given_name: c.given_name.clone(),
            family_name: c.family_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            company: c.company.clone(),
            locale: c.locale.clone(),
            birth_date: c.birth_date,
            acquisition_source: c.acquisition_source.clone(),
            tags: c.tags.clone(),
            attributes: c.attributes.clone(),
            attributes_json: String::new(),
            notes: c.notes.clone(),
        }
    }

    /// Applies a patch, validating each field it sets.
    fn patched(mut self, patch: &CustomerPatch, today: NaiveDate) -> Result<Fields> {
        if let Some(v) = &patch.display_name {
            self.display_name = validate::required_text("display_name", v, MAX_DISPLAY_NAME_LEN)?;
        }
        if let Some(v) = &patch.given_name {
            self.given_name =
                validate::optional_text("given_name", v.as_deref(), MAX_PERSON_NAME_LEN)?;
        }
        if let Some(v) = &patch.family_name {
            self.family_name =
                validate::optional_text("family_name", v.as_deref(), MAX_PERSON_NAME_LEN)?;
        }
        if let Some(v) = &patch.email {
            self.email = v
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(|e| validate::email("email", e))
                .transpose()?;
        }
        if let Some(v) = &patch.phone {
            self.phone = phone(v.as_deref(), patch.phone_country.as_deref())?;
        }
        if let Some(v) = &patch.company {
            self.company = validate::optional_text("company", v.as_deref(), MAX_COMPANY_LEN)?;
        }
        if let Some(v) = &patch.locale {
            self.locale = v
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .map(|l| validate::locale("locale", l))
                .transpose()?;
        }
        if let Some(v) = patch.birth_date {
            self.birth_date = v.map(|d| birth_date(d, today)).transpose()?;
        }
        if let Some(v) = &patch.acquisition_source {
            self.acquisition_source =
                validate::optional_text("acquisition_source", v.as_deref(), MAX_SOURCE_LEN)?;
        }
        if let Some(v) = &patch.tags {
            self.tags = tags("tags", v)?;
        }
        if let Some(v) = &patch.attributes {
            self.attributes = v.clone();
        }
        self.attributes_json = validate::attributes("attributes", &self.attributes)?;
        if let Some(v) = &patch.notes {
            self.notes = validate::optional_long_text("notes", v.as_deref(), MAX_NOTES_LEN)?;
        }
        Ok(self)
    }

    /// The names of the fields that differ between two versions.
    fn changed_from(&self, old: &Fields) -> Vec<&'static str> {
        let mut changed = Vec::new();
        macro_rules! cmp {
            ($($f:ident),*) => { $( if self.$f != old.$f { changed.push(stringify!($f)); } )* };
        }
        cmp!(
            display_name,
            given_name,
            family_name,
            email,
            phone,
            company,
            locale,
            birth_date,
            acquisition_source,
            tags,
            attributes,
            notes
        );
        changed
    }

    /// The names of the fields a new customer sets.
    fn set_fields(&self) -> Vec<&'static str> {
        let mut set = vec!["display_name"];
        macro_rules! some {
            ($($f:ident),*) => { $( if self.$f.is_some() { set.push(stringify!($f)); } )* };
        }
        some!(
            given_name,
            family_name,
            email,
            phone,
            company,
            locale,
            birth_date,
            acquisition_source,
            notes
        );
        if !self.tags.is_empty() {
            set.push("tags");
        }
        if !self.attributes.is_empty() {
            set.push("attributes");
        }
        set
    }
}

fn phone(value: Option<&str>, country: Option<&str>) -> Result<Option<String>> {
    let country = country
        .map(|c| validate::country("phone_country", c))
        .transpose()?;
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => validate::phone("phone", v, country.as_deref()).map(Some),
    }
}

fn birth_date(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if date > today {
        return Err(Error::invalid("birth_date", "is in the future"));
    }
    if date < earliest {
        return Err(Error::invalid("birth_date", "is before 1900-01-01"));
    }
    Ok(date)
}

/// Normalizes a list of tags: trimmed, lowercased, deduplicated, sorted.
fn tags(field: &str, input: &[String]) -> Result<Vec<String>> {
    let set = input
        .iter()
        .map(|t| validate::tag(field, t))
        .collect::<Result<BTreeSet<_>>>()?;
    if set.len() > MAX_TAGS {
        return Err(Error::invalid(
            field,
            format!("has {} tags, at most {MAX_TAGS} are allowed", set.len()),
        ));
    }
    Ok(set.into_iter().collect())
}

// ---------------------------------------------------------------------------
// SQL. The column list is shared by every query that returns customers, and
// tags come back in the same statement as a JSON array, so a page of
// customers is one query, not one per customer.

macro_rules! select_customers {
    ($($rest:literal)*) => {
        concat!(
            "SELECT c.id, c.display_name, c.given_name, c.family_name, c.email, c.phone, \
             c.company, c.locale, c.birth_date, c.acquisition_source, c.attributes, c.notes, \
             c.created_at, c.updated_at, c.version, c.archived_at, \
             (SELECT json_group_array(tag) FROM (SELECT tag FROM customer_tags t \
              WHERE t.customer_id = c.id ORDER BY tag)) \
             FROM customers c ",
            $($rest),*
        )
    };
}

/// [`select_customers!`] for PostgreSQL: tags through `json_agg` (an empty
/// list is `[]` on both engines).
macro_rules! select_customers_pg {
    ($($rest:literal)*) => {
        concat!(
            "SELECT c.id, c.display_name, c.given_name, c.family_name, c.email, c.phone, \
             c.company, c.locale, c.birth_date, c.acquisition_source, c.attributes, c.notes, \
             c.created_at, c.updated_at, c.version, c.archived_at, \
             coalesce((SELECT json_agg(tag ORDER BY tag) FROM customer_tags t \
              WHERE t.customer_id = c.id)::text, '[]') \
             FROM customers c ",
            $($rest),*
        )
    };
}

crate::bench_sql::sql_module! {
    /// SQL statements, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// Whether a customer is erased.
    pub const IS_ERASED: &str = "SELECT erased_at IS NOT NULL FROM customers WHERE id = ?1";
    /// A customer's version and whether it is archived.
    pub const VERSION_OF: &str =
        "SELECT version, archived_at IS NOT NULL FROM customers WHERE id = ?1";
    /// Inserts a customer row.
    pub const INSERT: &str = "INSERT INTO customers (id, display_name, given_name, family_name, \
        email, phone, company, locale, birth_date, acquisition_source, attributes, notes, \
        created_at, updated_at, version) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 1)";
    /// Inserts one tag.
    pub const INSERT_TAG: &str = "INSERT INTO customer_tags (customer_id, tag) VALUES (?1, ?2)";
    /// Is the email used by an active customer (other than ?2)?
    pub const EMAIL_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM customers \
        WHERE email = ?1 AND archived_at IS NULL AND id <> ?2)";
    /// Appends an audit row (the audit module's statement).
    pub use crate::audit::sql::INSERT_AUDIT;
    /// A customer by id.
    pub const GET: &str = select_customers!("WHERE c.id = ?1");
    /// An active customer by email.
    pub const GET_BY_EMAIL: &str =
        select_customers!("WHERE c.email = ?1 AND c.archived_at IS NULL");
    /// Full-text search over active customers, best match first.
    /// One page of a search: the rank and row of the last result so far
    /// (?3, ?4; NULL for the first page), then the same order as [`SEARCH`].
    pub const SEARCH_PAGE: &str =
        "SELECT id, display_name, given_name, family_name, email, phone, company, locale, \
        birth_date, acquisition_source, attributes, notes, created_at, updated_at, version, \
        archived_at, tags, rank, pk FROM (\
        SELECT c.id, c.display_name, c.given_name, c.family_name, c.email, c.phone, \
        c.company, c.locale, c.birth_date, c.acquisition_source, c.attributes, c.notes, \
        c.created_at, c.updated_at, c.version, c.archived_at, \
        (SELECT json_group_array(tag) FROM (SELECT tag FROM customer_tags t \
         WHERE t.customer_id = c.id ORDER BY tag)) tags, \
        bm25(customers_fts, 10.0, 5.0, 5.0, 5.0, 3.0, 1.0) rank, c.pk pk \
        FROM customers_fts f JOIN customers c ON c.pk = f.rowid \
        WHERE customers_fts MATCH ?1 AND c.archived_at IS NULL) \
        WHERE ?3 IS NULL OR rank > ?3 OR (rank = ?3 AND pk > ?4) \
        ORDER BY rank, pk LIMIT ?2";
    /// Full-text search, best match first.
    pub const SEARCH: &str =
        "SELECT c.id, c.display_name, c.given_name, c.family_name, c.email, c.phone, \
        c.company, c.locale, c.birth_date, c.acquisition_source, c.attributes, c.notes, \
        c.created_at, c.updated_at, c.version, c.archived_at, \
        (SELECT json_group_array(tag) FROM (SELECT tag FROM customer_tags t \
         WHERE t.customer_id = c.id ORDER BY tag)) \
        FROM customers_fts f JOIN customers c ON c.pk = f.rowid \
        WHERE customers_fts MATCH ?1 AND c.archived_at IS NULL \
        ORDER BY bm25(customers_fts, 10.0, 5.0, 5.0, 5.0, 3.0, 1.0) LIMIT ?2";
    /// A page of customers after a cursor, with filters. The unary `+` on
    /// `created_at` keeps SQLite from walking the creation-time index and
    /// sorting every match to find one page (a full pass per page at 10
    /// million customers); the page walks the id index from the cursor.
    pub const LIST: &str = select_customers!(
        "WHERE c.id > ?1 \
         AND (?2 IS NULL OR EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?2)) \
         AND (?3 IS NULL OR EXISTS (SELECT 1 FROM customer_addresses a WHERE a.customer_id = c.id AND a.country = ?3)) \
         AND +c.created_at >= ?4 AND +c.created_at < ?5 \
         AND (?6 = 'all' OR (?6 = 'active') = (c.archived_at IS NULL)) \
         ORDER BY c.id LIMIT ?7"
    );
    /// Writes every field of a customer if its version is still ?15.
    pub const UPDATE: &str = "UPDATE customers SET display_name = ?2, given_name = ?3, \
        family_name = ?4, email = ?5, phone = ?6, company = ?7, locale = ?8, birth_date = ?9, \
        acquisition_source = ?10, attributes = ?11, notes = ?12, updated_at = ?13, \
        version = version + 1 WHERE id = ?1 AND version = ?14";
    /// Raises the version and stamps the change time.
    pub const TOUCH: &str =
        "UPDATE customers SET updated_at = ?2, version = version + 1 WHERE id = ?1";
    /// Sets or clears archived_at.
    pub const SET_ARCHIVED: &str = "UPDATE customers SET archived_at = ?2, updated_at = ?3, \
        version = version + 1 WHERE id = ?1";
    /// Deletes one tag.
    pub const DELETE_TAG: &str = "DELETE FROM customer_tags WHERE customer_id = ?1 AND tag = ?2";
    /// [`GET`] on PostgreSQL: the tags gathered with `json_agg`.
    pub const GET_PG: &str = select_customers_pg!("WHERE c.id = ?1");
    /// [`GET_BY_EMAIL`] on PostgreSQL.
    pub const GET_BY_EMAIL_PG: &str =
        select_customers_pg!("WHERE c.email = ?1 AND c.archived_at IS NULL");
    /// [`SEARCH`] on PostgreSQL: the generated `search_vector` and its GIN
    /// index in place of FTS5, ranked lower-is-better like bm25 (see
    /// `custdb_search_rank` in the baseline). The FTS5 query text custdb builds
    /// (`"ada"* "lov"*`) is also what `custdb_search_query` reads: its quotes
    /// and stars fold to spaces and every word becomes a prefix term.
    pub const SEARCH_PG: &str = select_customers_pg!(
        "WHERE c.search_vector @@ custdb_search_query(?1) AND c.archived_at IS NULL \
         ORDER BY custdb_search_rank(c.search_vector, custdb_search_query(?1)), c.pk LIMIT ?2"
    );

    /// [`SEARCH_PAGE`] on PostgreSQL.
    pub const SEARCH_PAGE_PG: &str =
        "SELECT id, display_name, given_name, family_name, email, phone, company, locale, \
        birth_date, acquisition_source, attributes, notes, created_at, updated_at, version, \
        archived_at, tags, rank, pk FROM (\
        SELECT c.id, c.display_name, c.given_name, c.family_name, c.email, c.phone, \
        c.company, c.locale, c.birth_date, c.acquisition_source, c.attributes, c.notes, \
        c.created_at, c.updated_at, c.version, c.archived_at, \
        coalesce((SELECT json_agg(tag ORDER BY tag) FROM customer_tags t \
         WHERE t.customer_id = c.id)::text, '[]') tags, \
        custdb_search_rank(c.search_vector, custdb_search_query(?1)) rank, c.pk pk \
        FROM customers c \
        WHERE c.search_vector @@ custdb_search_query(?1) AND c.archived_at IS NULL) s \
        WHERE ?3::float8 IS NULL OR rank > ?3 OR (rank = ?3 AND pk > ?4) \
        ORDER BY rank, pk LIMIT ?2";
    }
}

fn customer_from_row(row: &Row<'_>) -> Result<RawCustomer> {
    Ok(RawCustomer {
        id: row.get(0)?,
        display_name: row.get(1)?,
        given_name: row.get(2)?,
        family_name: row.get(3)?,
        email: row.get(4)?,
        phone: row.get(5)?,
        company: row.get(6)?,
        locale: row.get(7)?,
        birth_date: row.get(8)?,
        acquisition_source: row.get(9)?,
        attributes: row.get(10)?,
        notes: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        version: row.get(14)?,
        archived_at: row.get(15)?,
        tags: row.get(16)?,
    })
}

/// A customer row as read, before the JSON columns are parsed.
struct RawCustomer {
    id: CustomerId,
    display_name: String,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    locale: Option<String>,
    birth_date: Option<NaiveDate>,
    acquisition_source: Option<String>,
    attributes: String,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
    archived_at: Option<DateTime<Utc>>,
    tags: String,
}

impl RawCustomer {
    fn parse(self) -> Result<Customer> {
        let customer = Customer {
            id: self.id,
            display_name: self.display_name,
            given_name: self.given_name,
            family_name: self.family_name,
            email: self.email,
            phone: self.phone,
            company: self.company,
            locale: self.locale,
            birth_date: self.birth_date,
            acquisition_source: self.acquisition_source,
            // Most customers have no tags or attributes: skip the parser.
            tags: match self.tags.as_str() {
                "[]" => Vec::new(),
                json => serde_json::from_str(json).stored()?,
            },
            attributes: match self.attributes.as_str() {
                "{}" => Map::new(),
                json => serde_json::from_str(json).stored()?,
            },
            notes: self.notes,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
            archived_at: self.archived_at,
        };
        // The schema's CHECKs keep this true; a file damaged under SQLite
        // (a flipped byte) can break it, and that is an error, not a panic.
        if customer.version < 1 || customer.updated_at < customer.created_at {
            return Err(Error::corrupt(format!(
                "customer {}: version {} or times out of order",
                customer.id, customer.version
            )));
        }
        Ok(customer)
    }
}

/// Read-only access to customers, their addresses and interactions.
#[derive(Clone, Copy, Debug)]
pub struct CustomerReader<'a> {
    db: crate::db::Conn<'a>,
}

impl<'a> CustomerReader<'a> {
    pub(crate) fn new(db: crate::db::Conn<'a>) -> Self {
        CustomerReader { db }
    }

    /// The connection, for the sibling modules (addresses, interactions).
    pub(crate) fn db(&self) -> Conn<'a> {
        self.db
    }

    /// The customer with this id, archived or not.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when no customer has this id.
    pub fn get(&self, id: CustomerId) -> Result<Customer> {
        self.find(id)?
            .ok_or_else(|| Error::not_found("customer", id))
    }

    /// The customers with these ids (archived or not), in the order of the
    /// ids, each once; ids that name no customer are left out (compare
    /// the lengths to notice). For the ids a segment, a report or a
    /// listing gave: one call instead of one per id. At most
    /// [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE) ids.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `ids` when there are more than
    /// [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE); a database error.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Segment, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// store.customers().create(NewCustomer::new("Ann").tag("vip"))?;
    /// store.customers().create(NewCustomer::new("Bob"))?;
    /// let vips = store.read(|r| {
    ///     let ids = r.segments().evaluate(&Segment::default().tag("vip"), None, 100)?;
    ///     r.customers().get_many(&ids.items)
    /// })?;
    /// assert_eq!(vips.len(), 1);
    /// assert_eq!(vips[0].display_name, "Ann");
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn get_many(&self, ids: &[CustomerId]) -> Result<Vec<Customer>> {
        if ids.len() > crate::MAX_PAGE_SIZE {
            return Err(Error::invalid(
                "ids",
                format!(
                    "holds {} ids, at most {} are read at once",
                    ids.len(),
                    crate::MAX_PAGE_SIZE
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if seen.insert(*id) {
                if let Some(c) = self.find(*id)? {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// The customer with this id, or `None`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn find(&self, id: CustomerId) -> Result<Option<Customer>> {
        self.db
            .query_opt(
                sql!(sqlite: sql::GET, postgres: sql::GET_PG),
                &[&id],
                customer_from_row,
            )?
            .map(RawCustomer::parse)
            .transpose()
    }

    /// The active (not archived) customer with this email. The email is
    /// normalized first, so case and surrounding spaces do not matter.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] for a malformed email, [`ErrorKind::NotFound`]
    /// when no active customer has it.
    pub fn get_by_email(&self, email: &str) -> Result<Customer> {
        let email = validate::email_key("email", email)?;
        self.db
            .query_opt(
                sql!(sqlite: sql::GET_BY_EMAIL, postgres: sql::GET_BY_EMAIL_PG),
                &[&email],
                customer_from_row,
            )?
            .ok_or_else(|| Error::not_found("customer", "with this email"))?
            .parse()
    }

    /// A page of customers in creation order (ids are UUIDv7), filtered.
    /// Pass the previous page's `next_cursor` to continue.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] for a `limit` outside 1..=[`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE),
    /// a bad cursor, tag or country.
    pub fn list(
        &self,
        filter: &CustomerFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Customer>> {
        let limit = check_limit(limit)?;
        // Ids are UUIDv7: every id sorts after the nil id.
        let after = match after {
            Some(c) => *CustomerId::parse(c.key()?, "cursor")?.as_uuid(),
            None => uuid::Uuid::nil(),
        };
        let tag = filter
            .tag
            .as_deref()
            .map(|t| validate::tag("filter.tag", t))
            .transpose()?;
        let country = filter
            .country
            .as_deref()
            .map(|c| validate::country("filter.country", c))
            .transpose()?;
        // Bounds beyond the stored range mean "no bound on that side".
        let from = TimeBound(filter.created_from.unwrap_or(DateTime::<Utc>::MIN_UTC));
        let before = TimeBound(filter.created_before.unwrap_or(DateTime::<Utc>::MAX_UTC));
        let items = self.db.query_vec(
            sql!(
                sqlite: sql::LIST,
                postgres: select_customers_pg!(
                    "WHERE c.id > ?1 \
                     AND (?2::text IS NULL OR EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?2)) \
                     AND (?3::text IS NULL OR EXISTS (SELECT 1 FROM customer_addresses a WHERE a.customer_id = c.id AND a.country = ?3)) \
                     AND c.created_at >= ?4 AND c.created_at < ?5 \
                     AND (?6 = 'all' OR (?6 = 'active') = (c.archived_at IS NULL)) \
                     ORDER BY c.id LIMIT ?7"
                )
            ),
            &[
                &after,
                &tag,
                &country,
                &from,
                &before,
                &filter.archived.as_str(),
                &(limit + 1),
            ],
            |r| customer_from_row(r)?.parse(),
        )?;
        Ok(into_page(items, limit, |c| c.id.to_string()))
    }

    /// Full-text search over names, email, company and notes of active
    /// customers, best match first (BM25, with names weighted above email,
    /// company and notes). Each word of `query` matches as a prefix, and all
    /// words must match: `ada lov` finds Ada Lovelace.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] when the query is empty, longer than
    /// [`MAX_QUERY_LEN`] characters or [`MAX_QUERY_TERMS`] words, or `limit`
    /// is outside 1..=[`MAX_SEARCH_RESULTS`].
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Customer>> {
        if limit == 0 || limit > MAX_SEARCH_RESULTS {
            return Err(Error::invalid(
                "limit",
                format!("is {limit}, must be between 1 and {MAX_SEARCH_RESULTS}"),
            ));
        }
        let fts_query = fts_query(query)?;
        self.db.query_vec(
            sql!(sqlite: sql::SEARCH, postgres: sql::SEARCH_PG),
            &[&fts_query, &limit],
            |r| customer_from_row(r)?.parse(),
        )
    }

    /// [`search`](CustomerReader::search) page by page: every match, best
    /// first, `limit` at a time (1 to [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE)),
    /// continuing after the cursor of the previous page. Matches that tie
    /// on rank come in creation order. A page reflects the data when it is
    /// read: a customer changed between two pages may move.
    ///
    /// # Errors
    ///
    /// As [`search`](CustomerReader::search), and
    /// [`ErrorKind::Invalid`] on `cursor` for a cursor another listing made.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Page, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// for n in 0..30 {
    ///     store.customers().create(NewCustomer::new(format!("Lee {n}")))?;
    /// }
    /// let all: Vec<_> = Page::all(|after| store.customers().search_page("lee", after, 8))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(all.len(), 30);
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn search_page(
        &self,
        query: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Customer>> {
        let limit = check_limit(limit)?;
        let fts_query = fts_query(query)?;
        let (rank, pk) = match after {
            None => (None, None),
            Some(c) => {
                let key = c.key()?;
                let parsed = key.split_once('|').and_then(|(rank, pk)| {
                    let rank: f64 = rank.parse().ok()?;
                    let pk: i64 = pk.parse().ok()?;
                    rank.is_finite().then_some((rank, pk))
                });
                match parsed {
                    Some((rank, pk)) => (Some(rank), Some(pk)),
                    None => return Err(Error::invalid("cursor", "is not a search cursor")),
                }
            }
        };
        let keyed = self.db.query_vec(
            sql!(sqlite: sql::SEARCH_PAGE, postgres: sql::SEARCH_PAGE_PG),
            &[&fts_query, &(limit + 1), &rank, &pk],
            |r| {
                Ok((
                    customer_from_row(r)?.parse()?,
                    r.get::<f64>(17)?,
                    r.get::<i64>(18)?,
                ))
            },
        )?;
        let page = into_page(keyed, limit, |(_, rank, pk)| format!("{rank:?}|{pk}"));
        Ok(Page {
            items: page.items.into_iter().map(|(c, _, _)| c).collect(),
            next_cursor: page.next_cursor,
        })
    }

    fn version_of(&self, id: CustomerId) -> Result<Option<(i64, bool)>> {
        self.db.query_opt(sql!(sql::VERSION_OF), &[&id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// Checks that the customer exists and is not archived.
    pub(crate) fn require_active(&self, id: CustomerId) -> Result<()> {
        match self.version_of(id)? {
            None => Err(Error::not_found("customer", id)),
            Some((_, true)) => Err(archived(self.db, id)?),
            Some((_, false)) => Ok(()),
        }
    }

    /// Checks that the customer exists.
    pub(crate) fn require(&self, id: CustomerId) -> Result<()> {
        self.version_of(id)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found("customer", id))
    }

    fn email_taken(&self, email: &str, except: CustomerId) -> Result<bool> {
        self.db
            .query_row(sql!(sql::EMAIL_TAKEN), &[&email, &except], |r| r.get(0))
    }
}

/// Why an archived customer cannot be changed or ordered for: an erased
/// customer (erasure archives too) must not be told to restore itself,
/// since it cannot be restored.
fn archived(conn: Conn<'_>, id: CustomerId) -> Result<Error> {
    let erased: bool = conn.query_row(sql!(sql::IS_ERASED), &[&id], |r| r.get(0))?;
    let reason = if erased {
        "is erased: nothing more is recorded about it or done for it".to_owned()
    } else {
        "is archived; restore it before changing it or ordering for it".to_owned()
    };
    Ok(Error::new(ErrorKind::InvalidState {
        entity: "customer",
        id: id.to_string(),
        reason,
    }))
}

/// Turns user text into a safe FTS5 query: every run of letters and digits
/// becomes a quoted prefix term, so FTS5 operators in the input have no
/// effect.
pub(crate) fn fts_query(query: &str) -> Result<String> {
    if query.chars().take(MAX_QUERY_LEN + 1).count() > MAX_QUERY_LEN {
        return Err(Error::invalid(
            "query",
            format!("is longer than {MAX_QUERY_LEN} characters"),
        ));
    }
    let terms: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() {
        return Err(Error::invalid(
            "query",
            "has no letters or digits to search for",
        ));
    }
    if terms.len() > MAX_QUERY_TERMS {
        return Err(Error::invalid(
            "query",
            format!("has {} words, at most {MAX_QUERY_TERMS}", terms.len()),
        ));
    }
    Ok(terms
        .iter()
        .map(|t| format!("\"{t}\"*"))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Customers inside a write transaction: everything [`CustomerReader`] does
/// (through `Deref`), plus the mutations. Each mutation appends its audit
/// row in the same transaction.
#[derive(Debug)]
pub struct Customers<'t> {
    tx: &'t WriteTx<'t>,
    reader: CustomerReader<'t>,
}

impl<'t> std::ops::Deref for Customers<'t> {
    type Target = CustomerReader<'t>;
    fn deref(&self) -> &CustomerReader<'t> {
        &self.reader
    }
}

impl<'t> Customers<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Customers {
            tx,
            reader: CustomerReader::new(tx.db()),
        }
    }

    pub(crate) fn tx(&self) -> &'t WriteTx<'t> {
        self.tx
    }

    fn today(&self) -> NaiveDate {
        self.tx.now().date_naive()
    }

    /// Creates a customer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming the field for any invalid input (see the
    /// module's limits); [`ErrorKind::AlreadyExists`] on `email` when an
    /// active customer already has the email.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// let ann = store.write(|tx| {
    ///     tx.customers().create(
    ///         NewCustomer::new("Ann Lee")
    ///             .email("Ann@Example.com") // stored lowercased
    ///             .phone("020 7946 0958")
    ///             .phone_country("GB") // stored as +442079460958
    ///             .tag("vip"),
    ///     )
    /// })?;
    /// assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
    /// assert_eq!(ann.phone.as_deref(), Some("+442079460958"));
    /// // The same email on another active customer is refused.
    /// let twin = store.customers().create(NewCustomer::new("Ann").email("ann@example.com"));
    /// assert!(twin.unwrap_err().is_already_exists());
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn create(&self, new: NewCustomer) -> Result<Customer> {
        self.tx.atomic(|| {
            let fields = Fields::from_new(&new, self.today())?;
            let id = CustomerId::new();
            if let Some(email) = &fields.email {
                if self.email_taken(email, id)? {
                    return Err(email_taken());
                }
            }
            let now = self.tx.now();
            let conn = self.tx.db();
            conn.execute(
                sql!(sql::INSERT),
                &[
                    &id,
                    &fields.display_name,
                    &fields.given_name,
                    &fields.family_name,
                    &fields.email,
                    &fields.phone,
                    &fields.company,
                    &fields.locale,
                    &fields.birth_date,
                    &fields.acquisition_source,
                    &Json(&fields.attributes_json),
                    &fields.notes,
                    &now,
                ],
            )
            .map_err(map_unique)?;
            insert_tags(conn, id, &fields.tags)?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "customer",
                entity_id: &id.to_string(),
                changed_fields: &fields.set_fields(),
            })?;
            Ok(Customer {
                id,
                display_name: fields.display_name,
                given_name: fields.given_name,
                family_name: fields.family_name,
                email: fields.email,
                phone: fields.phone,
                company: fields.company,
                locale: fields.locale,
                birth_date: fields.birth_date,
                acquisition_source: fields.acquisition_source,
                tags: fields.tags,
                attributes: fields.attributes,
                notes: fields.notes,
                created_at: now,
                updated_at: now,
                version: 1,
                archived_at: None,
            })
        })
    }

    /// Applies a partial update, if the customer's version is still
    /// `expected_version`. A patch that changes nothing writes nothing and
    /// returns the customer unchanged.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`]; [`ErrorKind::Conflict`] when the version is
    /// stale; [`ErrorKind::InvalidState`] when the customer is archived;
    /// [`ErrorKind::Invalid`] and [`ErrorKind::AlreadyExists`] as for
    /// [`create`](Customers::create).
    pub fn update(
        &self,
        id: CustomerId,
        expected_version: i64,
        patch: CustomerPatch,
    ) -> Result<Customer> {
        self.tx.atomic(|| {
            let current = self.get(id)?;
            if current.version != expected_version {
                return Err(conflict(id, expected_version, current.version));
            }
            if current.is_archived() {
                return Err(archived(self.tx.db(), id)?);
            }
            let old = Fields::from_customer(&current);
            let new = old.clone().patched(&patch, self.today())?;
            let changed = new.changed_from(&old);
            if changed.is_empty() {
                return Ok(current);
            }
            if new.email != old.email {
                if let Some(email) = &new.email {
                    if self.email_taken(email, id)? {
                        return Err(email_taken());
                    }
                }
            }
            let now = self.tx.now();
            let conn = self.tx.db();
            let updated = conn
                .execute(
                    sql!(sql::UPDATE),
                    &[
                        &id,
                        &new.display_name,
                        &new.given_name,
                        &new.family_name,
                        &new.email,
                        &new.phone,
                        &new.company,
                        &new.locale,
                        &new.birth_date,
                        &new.acquisition_source,
                        &Json(&new.attributes_json),
                        &new.notes,
                        &now,
                        &expected_version,
                    ],
                )
                .map_err(map_unique)?;
            if updated == 0 {
                // Another writer committed a change between the read above
                // and this statement (PostgreSQL, several servers; SQLite's
                // single writer never gets here): the version moved on.
                let actual = self.version_of(id)?.map_or(expected_version, |(v, _)| v);
                return Err(conflict(id, expected_version, actual));
            }
            if new.tags != old.tags {
                replace_tags(conn, id, &old.tags, &new.tags)?;
            }
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "customer",
                entity_id: &id.to_string(),
                changed_fields: &changed,
            })?;
            Ok(Customer {
                display_name: new.display_name,
                given_name: new.given_name,
                family_name: new.family_name,
                email: new.email,
                phone: new.phone,
                company: new.company,
                locale: new.locale,
                birth_date: new.birth_date,
                acquisition_source: new.acquisition_source,
                tags: new.tags,
                attributes: new.attributes,
                notes: new.notes,
                updated_at: now,
                version: current.version + 1,
                ..current
            })
        })
    }

    /// Adds tags (normalized; tags already present are ignored). Raises the
    /// version when a tag was added.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`], [`ErrorKind::InvalidState`] when archived,
    /// [`ErrorKind::Invalid`] on `tags` for a bad tag or more than
    /// [`MAX_TAGS`] in all.
    pub fn add_tags<S: AsRef<str>>(&self, id: CustomerId, tags_to_add: &[S]) -> Result<Customer> {
        self.tx.atomic(|| {
            let current = self.get(id)?;
            let mut all = current.tags.clone();
            all.extend(tags_to_add.iter().map(|t| t.as_ref().to_owned()));
            self.set_tags(current, all, "tag")
        })
    }

    /// Removes tags; tags not present are ignored. Raises the version when a
    /// tag was removed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`], [`ErrorKind::InvalidState`] when archived,
    /// [`ErrorKind::Invalid`] for a malformed tag.
    pub fn remove_tags<S: AsRef<str>>(
        &self,
        id: CustomerId,
        tags_to_remove: &[S],
    ) -> Result<Customer> {
        self.tx.atomic(|| {
            let current = self.get(id)?;
            let remove = tags_to_remove
                .iter()
                .map(|t| validate::tag("tags", t.as_ref()))
                .collect::<Result<BTreeSet<_>>>()?;
            let kept = current
                .tags
                .iter()
                .filter(|t| !remove.contains(*t))
                .cloned()
                .collect();
            self.set_tags(current, kept, "untag")
        })
    }

    fn set_tags(&self, current: Customer, wanted: Vec<String>, action: &str) -> Result<Customer> {
        if current.is_archived() {
            return Err(archived(self.tx.db(), current.id)?);
        }
        let wanted = tags("tags", &wanted)?;
        if wanted == current.tags {
            return Ok(current);
        }
        replace_tags(self.tx.db(), current.id, &current.tags, &wanted)?;
        let now = self.touch(current.id)?;
        self.tx.audit_change(Change {
            action,
            entity_type: "customer",
            entity_id: &current.id.to_string(),
            changed_fields: &["tags"],
        })?;
        Ok(Customer {
            tags: wanted,
            updated_at: now,
            version: current.version + 1,
            ..current
        })
    }

    /// Raises the customer's version and stamps the change time.
    fn touch(&self, id: CustomerId) -> Result<DateTime<Utc>> {
        let now = self.tx.now();
        self.tx.db().execute(sql!(sql::TOUCH), &[&id, &now])?;
        Ok(now)
    }

    /// Archives a customer: it leaves the default listings and search, its
    /// email becomes free for another customer, and it is read-only until
    /// restored. Archiving an archived customer changes nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`].
    pub fn archive(&self, id: CustomerId) -> Result<Customer> {
        self.tx.atomic(|| {
            let current = self.get(id)?;
            if current.is_archived() {
                return Ok(current);
            }
            let now = self.tx.now();
            self.set_archived(id, Some(now), "archive")?;
            Ok(Customer {
                archived_at: Some(now),
                updated_at: now,
                version: current.version + 1,
                ..current
            })
        })
    }

    /// Restores an archived customer. Restoring an active customer changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`]; [`ErrorKind::AlreadyExists`] on `email` when
    /// another active customer has taken its email meanwhile;
    /// [`ErrorKind::InvalidState`] for an erased customer.
    pub fn restore(&self, id: CustomerId) -> Result<Customer> {
        self.tx.atomic(|| {
            let current = self.get(id)?;
            if !current.is_archived() {
                return Ok(current);
            }
            let erased: bool = self
                .tx
                .db()
                .query_row(sql!(sql::IS_ERASED), &[&id], |r| r.get(0))?;
            if erased {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "customer",
                    id: id.to_string(),
                    reason: "is erased and cannot be restored".into(),
                }));
            }
            if let Some(email) = &current.email {
                if self.email_taken(email, id)? {
                    return Err(email_taken());
                }
            }
            let now = self.tx.now();
            self.set_archived(id, None, "restore")?;
            Ok(Customer {
                archived_at: None,
                updated_at: now,
                version: current.version + 1,
                ..current
            })
        })
    }

    fn set_archived(
        &self,
        id: CustomerId,
        archived_at: Option<DateTime<Utc>>,
        action: &str,
    ) -> Result<()> {
        self.tx
            .db()
            .execute(
                sql!(sql::SET_ARCHIVED),
                &[&id, &archived_at, &self.tx.now()],
            )
            .map_err(map_unique)?;
        self.tx.audit_change(Change {
            action,
            entity_type: "customer",
            entity_id: &id.to_string(),
            changed_fields: &["archived_at"],
        })
    }
}

fn insert_tags(conn: Conn<'_>, id: CustomerId, tags: &[String]) -> Result<()> {
    for tag in tags {
        conn.execute(sql!(sql::INSERT_TAG), &[&id, tag])?;
    }
    Ok(())
}

fn replace_tags(conn: Conn<'_>, id: CustomerId, old: &[String], new: &[String]) -> Result<()> {
    for tag in old.iter().filter(|t| !new.contains(t)) {
        conn.execute(sql!(sql::DELETE_TAG), &[&id, tag])?;
    }
    let added: Vec<String> = new.iter().filter(|t| !old.contains(t)).cloned().collect();
    insert_tags(conn, id, &added)
}

fn email_taken() -> Error {
    Error::new(ErrorKind::AlreadyExists {
        entity: "active customer",
        field: "email",
    })
}

fn conflict(id: CustomerId, expected: i64, actual: i64) -> Error {
    Error::new(ErrorKind::Conflict {
        entity: "customer",
        id: id.to_string(),
        expected_version: expected,
        actual_version: actual,
    })
}

/// The unique email index is the backstop behind the check in code; if it
/// fires anyway (a race with another process), report it the same way.
fn map_unique(err: Error) -> Error {
    match err.violated_unique() {
        // SQLite names the column, PostgreSQL the index.
        Some(what)
            if what.contains("customers.email") || what.contains("customers_email_active") =>
        {
            email_taken()
        }
        _ => err,
    }
}

/// One-shot customer calls on a [`Store`]: each call is its own unit of work
/// (reads on a reader connection, writes in one write transaction under the
/// store's actor). See [`CustomerReader`] and [`Customers`] for what each
/// call does and its errors.
#[derive(Debug)]
pub struct StoreCustomers<'s> {
    store: &'s Store,
}

impl<'s> StoreCustomers<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        StoreCustomers { store }
    }

    fn read<T>(&self, f: impl FnOnce(CustomerReader<'_>) -> Result<T>) -> Result<T> {
        self.store.read_once(|r: &ReadTx<'_>| f(r.customers()))
    }

    fn write<T>(&self, f: impl Fn(Customers<'_>) -> Result<T>) -> Result<T> {
        self.store.write_one(|tx| f(tx.customers()))
    }

    /// See [`Customers::create`].
    ///
    /// # Errors
    ///
    /// As [`Customers::create`].
    pub fn create(&self, new: NewCustomer) -> Result<Customer> {
        self.write(|c| c.create(new.clone()))
    }

    /// See [`CustomerReader::get`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::get`].
    pub fn get(&self, id: CustomerId) -> Result<Customer> {
        self.read(|c| c.get(id))
    }

    /// See [`CustomerReader::find`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::find`].
    pub fn find(&self, id: CustomerId) -> Result<Option<Customer>> {
        self.read(|c| c.find(id))
    }

    /// See [`CustomerReader::get_many`]; one read transaction.
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::get_many`].
    pub fn get_many(&self, ids: &[CustomerId]) -> Result<Vec<Customer>> {
        self.store.read(|r| r.customers().get_many(ids))
    }

    /// See [`CustomerReader::get_by_email`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::get_by_email`].
    pub fn get_by_email(&self, email: &str) -> Result<Customer> {
        self.read(|c| c.get_by_email(email))
    }

    /// See [`CustomerReader::list`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::list`].
    pub fn list(
        &self,
        filter: &CustomerFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Customer>> {
        self.read(|c| c.list(filter, after, limit))
    }

    /// See [`CustomerReader::search_page`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::search_page`].
    pub fn search_page(
        &self,
        query: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Customer>> {
        self.read(|c| c.search_page(query, after, limit))
    }

    /// See [`CustomerReader::search`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::search`].
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Customer>> {
        self.read(|c| c.search(query, limit))
    }

    /// See [`Customers::update`].
    ///
    /// # Errors
    ///
    /// As [`Customers::update`].
    pub fn update(
        &self,
        id: CustomerId,
        expected_version: i64,
        patch: CustomerPatch,
    ) -> Result<Customer> {
        self.write(|c| c.update(id, expected_version, patch.clone()))
    }

    /// See [`Customers::add_tags`].
    ///
    /// # Errors
    ///
    /// As [`Customers::add_tags`].
    pub fn add_tags<S: AsRef<str>>(&self, id: CustomerId, tags: &[S]) -> Result<Customer> {
        self.write(|c| c.add_tags(id, tags))
    }

    /// See [`Customers::remove_tags`].
    ///
    /// # Errors
    ///
    /// As [`Customers::remove_tags`].
    pub fn remove_tags<S: AsRef<str>>(&self, id: CustomerId, tags: &[S]) -> Result<Customer> {
        self.write(|c| c.remove_tags(id, tags))
    }

    /// See [`Customers::archive`].
    ///
    /// # Errors
    ///
    /// As [`Customers::archive`].
    pub fn archive(&self, id: CustomerId) -> Result<Customer> {
        self.write(|c| c.archive(id))
    }

    /// See [`Customers::restore`].
    ///
    /// # Errors
    ///
    /// As [`Customers::restore`].
    pub fn restore(&self, id: CustomerId) -> Result<Customer> {
        self.write(|c| c.restore(id))
    }

    /// See [`CustomerReader::addresses`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::addresses`].
    pub fn addresses(&self, id: CustomerId) -> Result<Vec<Address>> {
        self.read(|c| c.addresses(id))
    }

    /// See [`CustomerReader::address`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::address`].
    pub fn address(&self, id: crate::AddressId) -> Result<Address> {
        self.read(|c| c.address(id))
    }

    /// See [`Customers::add_address`].
    ///
    /// # Errors
    ///
    /// As [`Customers::add_address`].
    pub fn add_address(&self, id: CustomerId, new: NewAddress) -> Result<Address> {
        self.write(|c| c.add_address(id, new.clone()))
    }

    /// See [`Customers::update_address`].
    ///
    /// # Errors
    ///
    /// As [`Customers::update_address`].
    pub fn update_address(&self, id: crate::AddressId, patch: AddressPatch) -> Result<Address> {
        self.write(|c| c.update_address(id, patch.clone()))
    }

    /// See [`Customers::delete_address`].
    ///
    /// # Errors
    ///
    /// As [`Customers::delete_address`].
    pub fn delete_address(&self, id: crate::AddressId) -> Result<()> {
        self.write(|c| c.delete_address(id))
    }

    /// See [`Customers::set_default_address`].
    ///
    /// # Errors
    ///
    /// As [`Customers::set_default_address`].
    pub fn set_default_address(&self, id: crate::AddressId) -> Result<Address> {
        self.write(|c| c.set_default_address(id))
    }

    /// See [`Customers::add_interaction`].
    ///
    /// # Errors
    ///
    /// As [`Customers::add_interaction`].
    pub fn add_interaction(&self, id: CustomerId, new: NewInteraction) -> Result<Interaction> {
        self.write(|c| c.add_interaction(id, new.clone()))
    }

    /// See [`CustomerReader::interactions`].
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::interactions`].
    pub fn interactions(
        &self,
        id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Interaction>> {
        self.read(|c| c.interactions(id, after, limit))
    }
}

/// The customer invariants that [`Store::check`](crate::Store::check)
/// verifies beyond SQL constraints.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    // The external-content FTS index must match its content table. FTS5
    // takes this check as an INSERT, which a read-only store cannot run.
    // PostgreSQL's search vector is a generated column: it cannot drift.
    if let Ok(sqlite) = conn.as_sqlite("the FTS5 integrity check") {
        if sqlite
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(Error::from_sqlite)?
        {
            report.push_skipped("customers_fts integrity-check (read-only store)");
        } else if let Err(e) = sqlite.execute(
            "INSERT INTO customers_fts (customers_fts, rank) VALUES ('integrity-check', 1)",
            [],
        ) {
            report.push(format!("customers_fts does not match customers: {e}"));
        }
    }
    conn.query_each(
        sql!("SELECT id FROM customers WHERE email IS NOT NULL AND email <> trim(email)"),
        &[],
        |r| {
            let id: crate::db::AnyText = r.get(0)?;
            report.push(format!(
                "customer {} has an email that is not trimmed",
                id.0
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!("SELECT customer_id FROM customer_tags GROUP BY customer_id HAVING count(*) > ?1"),
        &[&MAX_TAGS],
        |r| {
            let id: crate::db::AnyText = r.get(0)?;
            report.push(format!("customer {} has more than {MAX_TAGS} tags", id.0));
            Ok(())
        },
    )?;
    address::check(conn, report)?;
    Ok(())
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// The customers repository for one-shot calls, each its own transaction.
    /// Inside a unit of work use [`WriteTx::customers`] or
    /// [`ReadTx::customers`].
    pub fn customers(&self) -> crate::customer::StoreCustomers<'_> {
        crate::customer::StoreCustomers::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// The customers repository inside this transaction.
    pub fn customers(&self) -> Customers<'_> {
        Customers::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// The customers repository, read-only.
    pub fn customers(&self) -> CustomerReader<'a> {
        CustomerReader::new(self.db())
    }
}
