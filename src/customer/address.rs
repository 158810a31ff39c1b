//! A customer's postal addresses.
//!
//! A customer has any number of addresses up to [`MAX_ADDRESSES`], each of a
//! kind (billing, shipping, other). Of each kind exactly one is the default
//! as long as the customer has any address of that kind: the first address of
//! a kind becomes its default, a new default replaces the old one, and when
//! the default is deleted (or changes kind) the newest remaining address of
//! the kind takes its place. SQL enforces "at most one" with a partial unique
//! index; [`Store::check`](crate::Store::check) verifies "at least one".

use crate::db::{sql, Conn, Row};
use chrono::{DateTime, Utc};

use super::{CustomerReader, Customers};
use crate::audit::Change;
use crate::error::{Error, Result};
use crate::id::{AddressId, CustomerId};
use crate::unit::CheckReport;
use crate::validate;

/// Most addresses one customer may have.
pub const MAX_ADDRESSES: usize = 50;
/// Longest address line, recipient, company or label, in characters.
pub const MAX_ADDRESS_LINE_LEN: usize = 200;
/// Longest city or region, in characters.
pub const MAX_CITY_LEN: usize = 100;
/// Longest postal code, in characters.
pub const MAX_POSTAL_CODE_LEN: usize = 20;
/// Longest address label, in characters.
pub const MAX_LABEL_LEN: usize = 100;

/// Checks and normalizes the postal parts of an address: one rule for the
/// address book and for the snapshots an order keeps. Errors name the
/// field as `{prefix}.{part}`.
pub(crate) fn checked_postal(prefix: &str, a: &AddressSnapshot) -> Result<AddressSnapshot> {
    let f = |part: &str| format!("{prefix}.{part}");
    let opt =
        |part: &str, v: &Option<String>, max| validate::optional_text(&f(part), v.as_deref(), max);
    Ok(AddressSnapshot {
        country: validate::country(&f("country"), &a.country)?,
        recipient: opt("recipient", &a.recipient, MAX_ADDRESS_LINE_LEN)?,
        company: opt("company", &a.company, MAX_ADDRESS_LINE_LEN)?,
        line1: validate::required_text(&f("line1"), &a.line1, MAX_ADDRESS_LINE_LEN)?,
        line2: opt("line2", &a.line2, MAX_ADDRESS_LINE_LEN)?,
        city: validate::required_text(&f("city"), &a.city, MAX_CITY_LEN)?,
        region: opt("region", &a.region, MAX_CITY_LEN)?,
        postal_code: opt("postal_code", &a.postal_code, MAX_POSTAL_CODE_LEN)?,
    })
}

crate::text_enum::text_enum!(
    /// What an address is used for.
    AddressKind {
        /// Where invoices go.
        Billing = "billing",
        /// Where parcels go.
        Shipping = "shipping",
        /// Any other address.
        Other = "other",
    }
);

/// A stored address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Address {
    /// The address's id.
    pub id: AddressId,
    /// The customer it belongs to.
    pub customer_id: CustomerId,
    /// Billing, shipping or other.
    pub kind: AddressKind,
    /// True for the customer's default address of this kind.
    pub is_default: bool,
    /// A label such as "Home" or "Office".
    pub label: Option<String>,
    /// The person to deliver to, when not the customer.
    pub recipient: Option<String>,
    /// Company line.
    pub company: Option<String>,
    /// First address line (street and number).
    pub line1: String,
    /// Second address line.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// State, county or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
    /// Phone at this address: E.164, read with the address's country.
    pub phone: Option<String>,
    /// When the address was added.
    pub created_at: DateTime<Utc>,
    /// When the address last changed.
    pub updated_at: DateTime<Utc>,
}

/// An address to add. `line1`, `city` and `country` are required.
///
/// # Example
///
/// ```
/// use custdb::{AddressKind, NewAddress, NewCustomer, Store};
///
/// let store = Store::open_in_memory()?;
/// let c = store.customers().create(NewCustomer::new("Ann"))?;
/// let home = store.customers().add_address(
///     c.id,
///     NewAddress::new(AddressKind::Shipping, "1 High Street", "Bath", "gb").postal_code("BA1 1AA"),
/// )?;
/// assert!(home.is_default); // the first shipping address
/// assert_eq!(home.country, "GB");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewAddress {
    /// Billing, shipping or other.
    pub kind: AddressKind,
    /// Make this the default of its kind (the first of a kind always is).
    #[serde(default)]
    pub make_default: bool,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Recipient.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// Street line.
    pub line1: String,
    /// Second line.
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Country, ISO 3166-1 alpha-2, any case.
    pub country: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
}
crate::input::strict_serde!(NewAddress);

impl NewAddress {
    /// An address with the required parts.
    pub fn new(
        kind: AddressKind,
        line1: impl Into<String>,
        city: impl Into<String>,
        country: impl Into<String>,
    ) -> Self {
        NewAddress {
            kind,
            make_default: false,
            label: None,
            recipient: None,
            company: None,
            line1: line1.into(),
            line2: None,
            city: city.into(),
            region: None,
            postal_code: None,
            country: country.into(),
            phone: None,
        }
    }

    /// Makes it the default of its kind.
    pub fn make_default(mut self) -> Self {
        self.make_default = true;
        self
    }

    super::setters!(
        /// Sets the label.
        label,
        /// Sets the recipient.
        recipient,
        /// Sets the company line.
        company,
        /// Sets the second line.
        line2,
        /// Sets the region.
        region,
        /// Sets the postal code.
        postal_code,
        /// Sets the phone.
        phone,
    );
}

/// A partial update of an address; `None` leaves a field as it is, and for
/// optional fields `Some(None)` (in JSON `null`) or a blank text clears it;
/// in JSON, `null` for `kind`, `line1`, `city` or `country` is an error
/// naming the field. To change the default, use
/// [`Customers::set_default_address`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct AddressPatch {
    /// New kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<AddressKind>,
    /// New label.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub label: Option<Option<String>>,
    /// New recipient.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient: Option<Option<String>>,
    /// New company line.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub company: Option<Option<String>>,
    /// New street line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    /// New second line.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub line2: Option<Option<String>>,
    /// New city.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// New region.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<Option<String>>,
    /// New postal code.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<Option<String>>,
    /// New country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// New phone.
    #[serde(
        default,
        deserialize_with = "crate::input::clearable",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
}
crate::input::strict_serde!(AddressPatch; not_null: kind, line1, city, country);

/// Validated address columns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AddressFields {
    kind: AddressKind,
    label: Option<String>,
    recipient: Option<String>,
    company: Option<String>,
    line1: String,
    line2: Option<String>,
    city: String,
    region: Option<String>,
    postal_code: Option<String>,
    country: String,
    phone: Option<String>,
}

impl AddressFields {
    /// Validates every field. Names are prefixed `address.`.
    fn validate(raw: &NewAddress) -> Result<AddressFields> {
        let postal = checked_postal(
            "address",
            &AddressSnapshot {
                recipient: raw.recipient.clone(),
                company: raw.company.clone(),
                line1: raw.line1.clone(),
                line2: raw.line2.clone(),
                city: raw.city.clone(),
                region: raw.region.clone(),
                postal_code: raw.postal_code.clone(),
                country: raw.country.clone(),
            },
        )?;
        let phone = match raw.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(validate::phone("address.phone", p, Some(&postal.country))?),
        };
        Ok(AddressFields {
            kind: raw.kind,
            label: validate::optional_text("address.label", raw.label.as_deref(), MAX_LABEL_LEN)?,
            recipient: postal.recipient,
            company: postal.company,
            line1: postal.line1,
            line2: postal.line2,
            city: postal.city,
            region: postal.region,
            postal_code: postal.postal_code,
            country: postal.country,
            phone,
        })
    }

    fn changed_from(&self, old: &AddressFields) -> Vec<&'static str> {
        let mut changed = Vec::new();
        macro_rules! cmp {
            ($($f:ident),*) => { $( if self.$f != old.$f { changed.push(stringify!($f)); } )* };
        }
        cmp!(
            kind,
            label,
            recipient,
            company,
            line1,
            line2,
            city,
            region,
            postal_code,
            country,
            phone
        );
        changed
    }
}

impl Address {
    /// The address as input, to apply a patch to and validate again.
    fn as_new(&self) -> NewAddress {
        NewAddress {
            kind: self.kind,
            make_default: self.is_default,
            label: self.label.clone(),
            recipient: self.recipient.clone(),
            company: self.company.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            phone: self.phone.clone(),
        }
    }
}

impl AddressPatch {
    fn apply(&self, mut a: NewAddress) -> NewAddress {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { a.$f = v.clone(); } )* };
        }
        set!(label, recipient, company, line2, region, postal_code, phone);
        if let Some(v) = self.kind {
            a.kind = v;
        }
        if let Some(v) = &self.line1 {
            a.line1 = v.clone();
        }
        if let Some(v) = &self.city {
            a.city = v.clone();
        }
        if let Some(v) = &self.country {
            a.country = v.clone();
        }
        a
    }
}

macro_rules! select_addresses {
    ($rest:literal) => {
        concat!(
            "SELECT id, customer_id, kind, is_default, label, recipient, company, line1, line2, \
             city, region, postal_code, country, phone, created_at, updated_at \
             FROM customer_addresses ",
            $rest
        )
    };
}

fn address_from_row(row: &Row<'_>) -> Result<Address> {
    Ok(Address {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        kind: row.get(2)?,
        is_default: row.get(3)?,
        label: row.get(4)?,
        recipient: row.get(5)?,
        company: row.get(6)?,
        line1: row.get(7)?,
        line2: row.get(8)?,
        city: row.get(9)?,
        region: row.get(10)?,
        postal_code: row.get(11)?,
        country: row.get(12)?,
        phone: row.get(13)?,
        created_at: row.get(14)?,
        updated_at: row.get(15)?,
    })
}

impl CustomerReader<'_> {
    /// The customer's addresses: defaults first, then by kind and age.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer.
    pub fn addresses(&self, customer_id: CustomerId) -> Result<Vec<Address>> {
        self.require(customer_id)?;
        self.db().query_vec(
            sql!(select_addresses!(
                "WHERE customer_id = ?1 ORDER BY is_default DESC, kind, id"
            )),
            &[&customer_id],
            address_from_row,
        )
    }

    /// One address by id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound).
    pub fn address(&self, id: AddressId) -> Result<Address> {
        self.db()
            .query_opt(
                sql!(select_addresses!("WHERE id = ?1")),
                &[&id],
                address_from_row,
            )?
            .ok_or_else(|| Error::not_found("address", id))
    }
}

impl Customers<'_> {
    /// Adds an address to an active customer. It becomes the default of its
    /// kind when asked to or when it is the first of its kind.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown
    /// customer; [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState)
    /// when archived; [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) naming
    /// `address.<field>` (an invalid country code, a missing line1 or city,
    /// text over its limit), or on `addresses` past [`MAX_ADDRESSES`].
    pub fn add_address(&self, customer_id: CustomerId, new: NewAddress) -> Result<Address> {
        self.tx().atomic(|| {
            self.require_active(customer_id)?;
            let fields = AddressFields::validate(&new)?;
            let conn = self.tx().db();
            let (count, has_default): (i64, bool) = conn.query_row(
                sql!(
                    "SELECT count(*), \
                     coalesce(max(CASE WHEN kind = ?2 AND is_default = 1 THEN 1 ELSE 0 END), 0) \
                     FROM customer_addresses WHERE customer_id = ?1"
                ),
                &[&customer_id, &fields.kind],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if count as usize >= MAX_ADDRESSES {
                return Err(Error::invalid(
                    "addresses",
                    format!("a customer may have at most {MAX_ADDRESSES} addresses"),
                ));
            }
            let make_default = new.make_default || !has_default;
            if make_default {
                clear_default(conn, customer_id, fields.kind)?;
            }
            let id = AddressId::new();
            let now = self.tx().now();
            conn.execute(
                sql!(
                    "INSERT INTO customer_addresses (id, customer_id, kind, is_default, label, recipient, \
                     company, line1, line2, city, region, postal_code, country, phone, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)"
                ),
                &[
                    &id,
                    &customer_id,
                    &fields.kind,
                    &make_default,
                    &fields.label,
                    &fields.recipient,
                    &fields.company,
                    &fields.line1,
                    &fields.line2,
                    &fields.city,
                    &fields.region,
                    &fields.postal_code,
                    &fields.country,
                    &fields.phone,
                    &now,
                ],
            )?;
            self.tx().audit_change_with(
                Change {
                action: "create",
                entity_type: "address",
                entity_id: &id.to_string(),
                changed_fields: &["customer_id", "kind", "country"],
        },
                crate::changes::ChangeFacts::of_customer(customer_id),
        )?;
        Ok(Address {
            id,
            customer_id,
            kind: fields.kind,
            is_default: make_default,
            label: fields.label,
            recipient: fields.recipient,
            company: fields.company,
            line1: fields.line1,
            line2: fields.line2,
            city: fields.city,
            region: fields.region,
            postal_code: fields.postal_code,
            country: fields.country,
            phone: fields.phone,
            created_at: now,
            updated_at: now,
        })
    })
    }

    /// Changes an address. Changing its kind moves it out of the old kind's
    /// default (the newest remaining address takes over) and makes it the
    /// new kind's default only if that kind had none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound),
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the
    /// customer is archived, [`ErrorKind::Invalid`](crate::ErrorKind::Invalid)
    /// as for [`add_address`](Customers::add_address).
    pub fn update_address(&self, id: AddressId, patch: AddressPatch) -> Result<Address> {
        self.tx().atomic(|| {
            let current = self.address(id)?;
            self.require_active(current.customer_id)?;
            let old = AddressFields::validate(&current.as_new())?;
            let new = AddressFields::validate(&patch.apply(current.as_new()))?;
            let changed = new.changed_from(&old);
            if changed.is_empty() {
                return Ok(current);
            }
            let conn = self.tx().db();
            let now = self.tx().now();
            let kind_changed = new.kind != old.kind;
            if kind_changed {
                // Leave the old kind first so the unique default index holds at
                // every statement.
                conn.execute(
                    sql!("UPDATE customer_addresses SET is_default = 0 WHERE id = ?1"),
                    &[&id],
                )?;
            }
            conn.execute(
                sql!(
                    "UPDATE customer_addresses SET kind = ?2, label = ?3, recipient = ?4, company = ?5, \
                     line1 = ?6, line2 = ?7, city = ?8, region = ?9, postal_code = ?10, country = ?11, \
                     phone = ?12, updated_at = ?13 WHERE id = ?1"
                ),
                &[
                    &id,
                    &new.kind,
                    &new.label,
                    &new.recipient,
                    &new.company,
                    &new.line1,
                    &new.line2,
                    &new.city,
                    &new.region,
                    &new.postal_code,
                    &new.country,
                    &new.phone,
                    &now,
                ],
            )?;
            if kind_changed {
                ensure_default(conn, current.customer_id, old.kind)?;
                ensure_default(conn, current.customer_id, new.kind)?;
            }
            self.tx().audit_change_with(
                Change {
                action: "update",
                entity_type: "address",
                entity_id: &id.to_string(),
                changed_fields: &changed,
            },
                crate::changes::ChangeFacts::of_customer(current.customer_id),
            )?;
            self.address(id)
        })
    }

    /// Deletes an address. When it was the default of its kind, the newest
    /// remaining address of that kind becomes the default.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound),
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the
    /// customer is archived.
    pub fn delete_address(&self, id: AddressId) -> Result<()> {
        self.tx().atomic(|| {
            let current = self.address(id)?;
            self.require_active(current.customer_id)?;
            let conn = self.tx().db();
            conn.execute(sql!("DELETE FROM customer_addresses WHERE id = ?1"), &[&id])?;
            if current.is_default {
                ensure_default(conn, current.customer_id, current.kind)?;
            }
            self.tx().audit_change_with(
                Change {
                    action: "delete",
                    entity_type: "address",
                    entity_id: &id.to_string(),
                    changed_fields: &[],
                },
                crate::changes::ChangeFacts::of_customer(current.customer_id),
            )
        })
    }

    /// Makes an address the default of its kind for its customer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound),
    /// [`ErrorKind::InvalidState`](crate::ErrorKind::InvalidState) when the
    /// customer is archived.
    pub fn set_default_address(&self, id: AddressId) -> Result<Address> {
        self.tx().atomic(|| {
            let current = self.address(id)?;
            self.require_active(current.customer_id)?;
            if current.is_default {
                return Ok(current);
            }
            let conn = self.tx().db();
            clear_default(conn, current.customer_id, current.kind)?;
            conn.execute(
                sql!("UPDATE customer_addresses SET is_default = 1, updated_at = ?2 WHERE id = ?1"),
                &[&id, &self.tx().now()],
            )?;
            self.tx().audit_change_with(
                Change {
                    action: "set_default",
                    entity_type: "address",
                    entity_id: &id.to_string(),
                    changed_fields: &["is_default"],
                },
                crate::changes::ChangeFacts::of_customer(current.customer_id),
            )?;
            self.address(id)
        })
    }
}

fn clear_default(conn: Conn<'_>, customer_id: CustomerId, kind: AddressKind) -> Result<()> {
    conn.execute(
        sql!(
            "UPDATE customer_addresses SET is_default = 0 \
             WHERE customer_id = ?1 AND kind = ?2 AND is_default = 1"
        ),
        &[&customer_id, &kind],
    )?;
    Ok(())
}

/// Gives a kind a default when it has addresses but none is the default:
/// the newest (largest UUIDv7) wins.
fn ensure_default(conn: Conn<'_>, customer_id: CustomerId, kind: AddressKind) -> Result<()> {
    conn.execute(
        sql!(
            "UPDATE customer_addresses SET is_default = 1 WHERE id = ( \
               SELECT id FROM customer_addresses WHERE customer_id = ?1 AND kind = ?2 \
               ORDER BY id DESC LIMIT 1) \
             AND NOT EXISTS (SELECT 1 FROM customer_addresses \
               WHERE customer_id = ?1 AND kind = ?2 AND is_default = 1)"
        ),
        &[&customer_id, &kind],
    )?;
    Ok(())
}

/// Every (customer, kind) that has addresses has exactly one default.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT customer_id, kind, CAST(sum(is_default) AS bigint) FROM customer_addresses \
             GROUP BY customer_id, kind HAVING sum(is_default) <> 1"
        ),
        &[],
        |r| {
            let customer: crate::db::AnyText = r.get(0)?;
            let kind: String = r.get(1)?;
            let defaults: i64 = r.get(2)?;
            report.push(format!(
                "customer {} has {defaults} default {kind} addresses, expected 1",
                customer.0
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT customer_id FROM customer_addresses GROUP BY customer_id HAVING count(*) > ?1"
        ),
        &[&MAX_ADDRESSES],
        |r| {
            let customer: crate::db::AnyText = r.get(0)?;
            report.push(format!(
                "customer {} has more than {MAX_ADDRESSES} addresses",
                customer.0
            ));
            Ok(())
        },
    )?;
    Ok(())
}

/// A postal address copied into an order, so that later changes to the
/// customer's address book do not rewrite history.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct AddressSnapshot {
    /// Recipient.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// First line (required).
    pub line1: String,
    /// Second line.
    #[serde(default)]
    pub line2: Option<String>,
    /// City (required).
    pub city: String,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country (required).
    pub country: String,
}

impl AddressSnapshot {
    /// An address with its required parts.
    pub fn new(
        line1: impl Into<String>,
        city: impl Into<String>,
        country: impl Into<String>,
    ) -> Self {
        AddressSnapshot {
            line1: line1.into(),
            city: city.into(),
            country: country.into(),
            ..AddressSnapshot::default()
        }
    }

    /// Sets the postal code.
    pub fn postal_code(mut self, code: impl Into<String>) -> Self {
        self.postal_code = Some(code.into());
        self
    }

    /// Sets the recipient.
    pub fn recipient(mut self, name: impl Into<String>) -> Self {
        self.recipient = Some(name.into());
        self
    }

    /// The address checked and normalised, errors naming `field`.
    pub(crate) fn checked(&self, field: &str) -> Result<AddressSnapshot> {
        checked_postal(field, self)
    }
}
