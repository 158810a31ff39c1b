//! Typed record ids: newtypes over UUIDv7.
//!
//! UUIDv7 starts with a millisecond timestamp, so new ids sort after old ones
//! and B-tree inserts stay local (random v4 ids cost 5-10x at scale). In the
//! database an id is stored as its 36-character hyphenated text, which keeps
//! the file readable with the `sqlite3` shell and sorts in creation order.
//!
//! The ids do not implement rusqlite's traits: rusqlite is an
//! implementation detail, not part of the public API. Inside the crate an
//! id is a parameter and a column through the engine seam's own
//! `ToValue` and `FromValue` (hyphenated text on SQLite, `uuid` on
//! PostgreSQL).
//!
//! rusqlite's traits are reachable from a doctest (this compiles):
//!
//! ```
//! fn needs_to_sql<T: rusqlite::ToSql>() {}
//! needs_to_sql::<String>();
//! ```
//!
//! and an id does not implement them (this must not compile):
//!
//! ```compile_fail
//! fn needs_to_sql<T: rusqlite::ToSql>() {}
//! needs_to_sql::<custdb::CustomerId>();
//! ```
//!
//! ```compile_fail
//! fn needs_from_sql<T: rusqlite::types::FromSql>() {}
//! needs_from_sql::<custdb::OrderId>();
//! ```

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::Error;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $entity:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7). custdb mints the ids of the
            /// records it creates; an application needs this only for an id
            /// that names nothing yet (a test of `NotFound`). There is no
            /// `Default`: a default that mints a random id would hide a
            /// forgotten field.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Parses an id from its text form, naming `field` in the error.
            ///
            /// # Errors
            ///
            /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when the text
            /// is not a UUID.
            pub fn parse(text: &str, field: &str) -> crate::Result<Self> {
                Uuid::parse_str(text)
                    .map($name)
                    .map_err(|_| Error::invalid(field, concat!("is not a ", $entity, " id (a UUID)")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s, "id")
            }
        }

        impl crate::db::ToValue for $name {
            fn to_value(&self) -> crate::db::Value<'_> {
                crate::db::Value::Uuid(self.0)
            }
        }

        impl crate::db::FromValue for $name {
            fn from_value(value: crate::db::ValueRef<'_>) -> crate::Result<Self> {
                <Uuid as crate::db::FromValue>::from_value(value).map($name)
            }
        }
    };
}

define_id!(
    /// The id of a [`Customer`](crate::Customer).
    CustomerId,
    "customer"
);
define_id!(
    /// The id of an [`Address`](crate::Address).
    AddressId,
    "address"
);
define_id!(
    /// The id of an [`Interaction`](crate::Interaction).
    InteractionId,
    "interaction"
);

define_id!(
    /// The id of a [`Product`](crate::Product).
    ProductId,
    "product"
);
define_id!(
    /// The id of a [`Variant`](crate::Variant).
    VariantId,
    "variant"
);
define_id!(
    /// The id of a [`Warehouse`](crate::Warehouse).
    WarehouseId,
    "warehouse"
);
define_id!(
    /// The id of a stock [`Reservation`](crate::Reservation).
    ReservationId,
    "reservation"
);
define_id!(
    /// The id of a stock transfer (the pair of movements it writes).
    TransferId,
    "transfer"
);
define_id!(
    /// The id of a [`Order`](crate::Order).
    OrderId,
    "order"
);
define_id!(
    /// The id of a [`OrderLine`](crate::OrderLine).
    OrderLineId,
    "order line"
);
define_id!(
    /// The id of a [`Payment`](crate::Payment).
    PaymentId,
    "payment"
);
define_id!(
    /// The id of a [`Shipment`](crate::Shipment).
    ShipmentId,
    "shipment"
);
define_id!(
    /// The id of a [`Return`](crate::Return).
    ReturnId,
    "return"
);
define_id!(
    /// The id of a [`Refund`](crate::Refund).
    RefundId,
    "refund"
);
define_id!(
    /// The id of a [`CreditNote`](crate::order::credit::CreditNote).
    CreditNoteId,
    "credit note"
);
define_id!(
    /// The id of a [`ConsentEvent`](crate::ConsentEvent), also the consent
    /// receipt's id.
    ConsentEventId,
    "consent event"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_time_ordered() {
        let a = CustomerId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = CustomerId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn parse_names_the_field() {
        let err = CustomerId::parse("nope", "customer_id").unwrap_err();
        assert_eq!(err.field(), Some("customer_id"));
        let id = CustomerId::new();
        assert_eq!(CustomerId::parse(&id.to_string(), "id").unwrap(), id);
    }
}
