//! Typed record ids: newtypes over UUIDv7.
//!
//! UUIDv7 starts with a millisecond timestamp, so new ids sort after old ones
//! and B-tree inserts stay local (random v4 ids cost 5-10x at scale). In the
//! database an id is stored as its 36-character hyphenated text, which keeps
//! the file readable with the `sqlite3` shell and sorts in creation order.
//!
//! ## Where the bits come from
//!
//! An id's 74 bits after the timestamp need to be unique, not secret: an
//! id is a name, never a credential. They come from a generator in each
//! thread ([`new_v7`]), seeded from the operating system once, when the
//! thread makes its first id; after that, making an id costs no system
//! call (the `uuid` crate's own `now_v7` asks the OS for random bytes on
//! every id: 19 system calls for a 15-line order). Within a thread ids
//! strictly increase: the 42 bits after the timestamp are a counter that
//! starts at a random value each millisecond (RFC 9562, method 1), and the
//! last 32 bits are random.
//!
//! A process that forks after making ids leaves its child with the same
//! generator state. The child's ids still differ from the parent's: the
//! random bits are mixed with the clock's nanoseconds, which two processes
//! do not read alike. Should two ids ever meet, the primary key refuses
//! the second record (a `Conflict`), never a silent overwrite. If the OS
//! cannot give a seed (no `getrandom`, an early-boot container), the seed
//! comes from the clock, the thread and the process instead.
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

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::error::Error;

/// The bits after the timestamp that count within a millisecond.
const COUNTER_BITS: u32 = 42;

/// One thread's id generator (see the module's documentation).
struct Generator {
    rng: SmallRng,
    /// The millisecond of the last id, and the counter it used.
    last_ms: u64,
    counter: u64,
}

thread_local! {
    static GENERATOR: RefCell<Option<Generator>> = const { RefCell::new(None) };
    /// How many times this thread seeded its generator (for the tests).
    #[cfg(test)]
    static SEEDS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A seed from the OS, or failing that from the clock, the thread and the
/// process.
fn seeded() -> SmallRng {
    #[cfg(test)]
    SEEDS.with(|s| s.set(s.get() + 1));
    SmallRng::try_from_os_rng().unwrap_or_else(|_| {
        // Not std's RandomState: it asks the same OS source, and fails (or
        // panics) in the same situation. A fixed-key hash of what differs
        // between threads and processes instead.
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        SystemTime::now().hash(&mut hasher);
        std::thread::current().id().hash(&mut hasher);
        std::process::id().hash(&mut hasher);
        // Where this thread's stack lies (address-space randomisation).
        (&hasher as *const std::hash::DefaultHasher as usize).hash(&mut hasher);
        SmallRng::seed_from_u64(hasher.finish())
    })
}

/// A new UUIDv7 from this thread's generator: no system call after the
/// thread's first id.
pub(crate) fn new_v7() -> Uuid {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now_ms = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    let nanos = u64::from(since_epoch.subsec_nanos());
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let generator = slot.get_or_insert_with(|| Generator {
            rng: seeded(),
            last_ms: 0,
            counter: 0,
        });
        // A fresh counter starts in the lower half of its range, leaving
        // room to count up within the millisecond.
        let fresh = |rng: &mut SmallRng| rng.random::<u64>() >> (64 - (COUNTER_BITS - 1));
        if now_ms > generator.last_ms {
            generator.last_ms = now_ms;
            generator.counter = fresh(&mut generator.rng);
        } else {
            // The same millisecond, or the clock stepped back: count on
            // from the last id, so that ids never go backwards in a thread.
            generator.counter += 1;
            if generator.counter >> COUNTER_BITS != 0 {
                generator.last_ms += 1;
                generator.counter = fresh(&mut generator.rng);
            }
        }
        let tail = (generator.rng.random::<u32>() as u64)
            ^ (nanos.wrapping_mul(0x9E37_79B9) & 0xFFFF_FFFF);
        let ms = u128::from(generator.last_ms & 0xFFFF_FFFF_FFFF);
        let counter = u128::from(generator.counter);
        let bits = (ms << 80)
            | (0x7 << 76)
            | ((counter >> 30) << 64)
            | (0b10 << 62)
            | ((counter & 0x3FFF_FFFF) << 32)
            | u128::from(tail);
        Uuid::from_u128(bits)
    })
}

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
                $name(new_v7())
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
    /// The id of a [`ProductMedia`](crate::ProductMedia) reference.
    MediaId,
    "media"
);
define_id!(
    /// The id of a [`Category`](crate::Category).
    CategoryId,
    "category"
);
define_id!(
    /// The id of a [`Collection`](crate::Collection).
    CollectionId,
    "collection"
);
define_id!(
    /// The id of a [`TaxRate`](crate::TaxRate).
    TaxRateId,
    "tax rate"
);
define_id!(
    /// The id of a [`CustomerGroup`](crate::CustomerGroup).
    CustomerGroupId,
    "customer group"
);
define_id!(
    /// The id of a [`PriceList`](crate::PriceList).
    PriceListId,
    "price list"
);
define_id!(
    /// The id of a [`GiftCard`](crate::GiftCard).
    GiftCardId,
    "gift card"
);
define_id!(
    /// The id of a [`Promotion`](crate::Promotion).
    PromotionId,
    "promotion"
);
define_id!(
    /// The id of a [`Coupon`](crate::Coupon).
    CouponId,
    "coupon"
);
define_id!(
    /// The id of a promotion's [`Redemption`](crate::Redemption).
    RedemptionId,
    "redemption"
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

#[cfg(test)]
mod generator_tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_carry_the_v7_layout_and_the_current_millisecond() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let id = new_v7();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
        let ms = secs * 1000 + u64::from(nanos) / 1_000_000;
        assert!(
            (before..=after).contains(&ms),
            "{before} <= {ms} <= {after}"
        );
    }

    #[test]
    fn ids_of_one_thread_strictly_increase_and_seed_once() {
        let seeds_before = SEEDS.with(|s| s.get());
        let ids: Vec<Uuid> = (0..200_000).map(|_| new_v7()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids went backwards");
        assert!(
            ids.windows(2)
                .all(|w| w[0].hyphenated().to_string() < w[1].hyphenated().to_string()),
            "the stored text does not sort like the ids"
        );
        let seeds = SEEDS.with(|s| s.get()) - seeds_before;
        assert!(seeds <= 1, "the generator was seeded {seeds} times");
    }

    #[test]
    fn ids_from_many_threads_never_collide() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..50_000).map(|_| new_v7()).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert!(all.insert(id), "duplicate id {id}");
            }
        }
        assert_eq!(all.len(), 400_000);
    }

    #[test]
    fn the_counter_carries_into_the_next_millisecond() {
        // A counter at its top within a millisecond moves the id to the
        // next millisecond instead of wrapping below earlier ids.
        let first = new_v7();
        GENERATOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let generator = slot.as_mut().unwrap();
            generator.last_ms += 10_000;
            generator.counter = (1 << COUNTER_BITS) - 1;
        });
        let second = new_v7();
        let third = new_v7();
        assert!(first < second && second < third);
        let ms = |id: Uuid| (id.as_u128() >> 80) as u64;
        assert_eq!(ms(second), ms(first) + 10_001);
    }
}
