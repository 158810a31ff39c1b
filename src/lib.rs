//! # custdb: an embedded customer database
//!
//! custdb keeps a business's customers — contact data, addresses, tags,
//! custom attributes and the interaction history — with the catalog, stock
//! in several warehouses, orders, payments, and consent and data-subject
//! rights, in one SQLite file that the application links directly: no
//! server, no set-up, correct by construction.
//!
//! ## The shape of the API
//!
//! - [`Store`] opens (or creates and migrates) a database file. It is
//!   `Send + Sync + Clone`: one writer connection behind a lock, a pool of
//!   reader connections in WAL mode.
//! - [`Store::write`] runs a closure as one `BEGIN IMMEDIATE` transaction:
//!   commit on `Ok`, roll back on `Err`. [`Store::read`] runs a closure on a
//!   consistent snapshot. Repositories hang off both: `tx.customers()`.
//! - One-shot calls (each its own unit of work) hang off the store:
//!   `store.customers().create(...)`. Under concurrent writes they share
//!   commits ([`Options::group_commit`]): one disk sync for many calls,
//!   each returning once its own work is durable.
//! - Every mutation appends an audit row naming its [`Actor`] in the same
//!   transaction; a unit of work that changes rows without one is refused.
//! - Every error is an [`Error`] whose [`kind()`](Error::kind) names the field
//!   and the reason; nothing is half-written.
//! - Commerce: [`Catalog`], [`Inventory`] (a stock ledger), [`Orders`].
//! - Privacy: the consent ledger ([`Consents`]), the personal-data map
//!   ([`privacy::map`]), subject export and erasure ([`Privacy`],
//!   [`Store::erase_customer`]) and retention.
//! - Trust: a hash-chained audit trail ([`AuditReader::verify`]), roles and
//!   a policy-enforcing handle ([`Store::as_actor`]), encryption at rest
//!   (the `sqlcipher` feature), online backup and verified restore.
//!
//! ## Example
//!
//! ```
//! use custdb::{AddressKind, Channel, CustomerPatch, Direction, InteractionKind,
//!              NewAddress, NewCustomer, NewInteraction, Store};
//!
//! let store = Store::open_in_memory()?;
//!
//! let ada = store.write(|tx| {
//!     let ada = tx.customers().create(
//!         NewCustomer::new("Ada Lovelace").email("ada@example.com").tag("vip"),
//!     )?;
//!     tx.customers().add_address(
//!         ada.id,
//!         NewAddress::new(AddressKind::Billing, "12 St James's Square", "London", "GB"),
//!     )?;
//!     tx.customers().add_interaction(
//!         ada.id,
//!         NewInteraction::new(Channel::Email, Direction::Inbound, InteractionKind::Inquiry)
//!             .subject("Engine delivery date?"),
//!     )?;
//!     // The closure may return any error type that custdb's converts into;
//!     // here it is custdb's own, named because only `?` uses it.
//!     Ok::<_, custdb::Error>(ada)
//! })?;
//!
//! // Optimistic concurrency: an update names the version it read.
//! let renamed = store.customers().update(ada.id, ada.version, CustomerPatch::default().display_name("Countess of Lovelace"))?;
//! let stale = store.customers().update(ada.id, ada.version, CustomerPatch::default().company("Analytical Engines"));
//! assert!(stale.unwrap_err().is_conflict());
//!
//! let hits = store.customers().search("lovelace", 10)?;
//! assert_eq!(hits[0].id, renamed.id);
//! assert!(store.check()?.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/ARCHITECTURE.md` for the design and `docs/SCHEMA.md` for the
//! file format.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod text_enum;
mod unit;

pub mod access;
mod acting;
#[cfg(feature = "tokio")]
pub mod async_store;
pub mod audit;
pub mod backup;
mod bench_sql;
#[cfg(all(feature = "bench-internals", feature = "postgres"))]
#[doc(hidden)]
pub use bench_sql::postgres_text;
pub mod catalog;
pub mod changes;
mod check;
pub mod consent;
pub mod customer;
mod db;
pub mod dedupe;
mod error;
pub mod export;
pub mod giftcard;
mod id;
pub mod import;
mod input;
pub mod inventory;
pub mod loyalty;
pub mod money;
mod one_shot;
pub mod order;
pub mod page;
pub mod pricing;
pub mod privacy;
pub mod promotion;
pub mod report;
pub mod schema;
pub mod segment;
mod store;
pub mod storecredit;
pub mod time;
mod validate;

pub use access::{Access, AccessReader, Grants, Permission, Role, BUILTIN_ROLES};
pub use acting::{
    ActorAccess, ActorAudit, ActorCatalog, ActorConsent, ActorCustomers, ActorInventory,
    ActorOrders, ActorPrivacy, ActorStore, MASK,
};
pub use audit::{
    AuditEntry, AuditFilter, AuditHead, AuditReader, AuditVerification, BreakReason, BrokenLink,
};
pub use backup::{BackupProgress, BackupReport, BACKUP_PAGES_PER_STEP};
pub use catalog::{
    Catalog, CatalogReader, Category, CategoryPatch, Collection, CollectionPatch, MediaKind,
    NewCategory, NewCollection, NewMedia, NewProduct, NewVariant, Product, ProductMedia,
    ProductPatch, ProductStatus, StoreCatalog, Variant, VariantPatch,
};
pub use changes::{
    ChangeEvent, ChangeFacts, ChangeKind, ChangeReader, Changes, Consumer, ConsumerStart,
    FeedRetention, FeedStatus, PruneReport, StoreChanges,
};
pub use consent::{
    CollectionMethod, ConsentEvent, ConsentReader, ConsentReceipt, ConsentState, ConsentStatus,
    Consents, Controller, DataCategory, LawfulBasis, NewConsent, NewPurpose, Notice, Purpose,
};
pub use customer::{
    Address, AddressKind, AddressPatch, ArchiveState, Channel, Customer, CustomerFilter,
    CustomerPatch, CustomerReader, Customers, Direction, Interaction, InteractionKind, NewAddress,
    NewCustomer, NewInteraction, StoreCustomers,
};
pub use dedupe::{DuplicateCandidate, DuplicateReader, MergePlan, Merges};
pub use error::{Error, ErrorKind, Result};
pub use export::ExportReport;
pub use giftcard::{
    GiftCard, GiftCardEntry, GiftCardEntryKind, GiftCardReader, GiftCards, IssuedGiftCard,
    NewGiftCard, StoreGiftCards,
};
pub use id::{
    AddressId, CategoryId, CollectionId, ConsentEventId, CouponId, CreditNoteId, CustomerGroupId,
    CustomerId, GiftCardId, InteractionId, MediaId, OrderId, OrderLineId, PaymentId, PriceListId,
    ProductId, PromotionId, RedemptionId, RefundId, ReservationId, ReturnId, ShipmentId, TaxRateId,
    TransferId, VariantId, WarehouseId,
};
pub use inventory::{
    Inventory, InventoryReader, Movement, MovementKind, NewWarehouse, ReplenishmentRule,
    Reservation, StockLevel, StockReportLine, Warehouse,
};
pub use loyalty::{
    Loyalty, LoyaltyAccount, LoyaltyEntry, LoyaltyEntryKind, LoyaltyReader, LoyaltyRule,
    NewLoyaltyRule, PointsExpired, PointsExpiry, StoreLoyalty,
};
pub use money::{Currency, Money};
pub use order::credit::{CreditNote, NewCreditNote};
pub use order::historical::{HistoricalLine, HistoricalOrder};
pub use order::{
    AddressSnapshot, LinePriceSource, NewOrder, NewOrderLine, NewPayment, NewRefund, NewReturn,
    NewReturnLine, NewShipment, Order, OrderEvent, OrderLine, OrderPricing, OrderReader,
    OrderStatus, OrderSummary, Orders, Payment, PaymentMethod, PaymentStatus, Refund,
    RefundDestination, Return, ReturnLine, Shipment, ShipmentLine, VariantSales,
};
pub use page::{AllItems, Cursor, Page, MAX_CURSOR_CHARS, MAX_PAGE_SIZE};
pub use pricing::{
    CustomerGroup, GroupMembership, ListPrice, NewPriceList, NewTaxRate, PriceList, PriceSource,
    Pricing, PricingReader, Quote, QuoteRequest, StorePricing, TaxClass, TaxExemption, TaxRate,
};
pub use privacy::{
    ErasureGround, ErasureReport, Privacy, PrivacyReader, RetentionCategory, RetentionReport,
    SubjectExport,
};
pub use promotion::{
    Coupon, LineDiscount, NewCoupon, NewPromotion, Promotion, PromotionConditions, PromotionEffect,
    PromotionReader, Promotions, Redemption, Stacking, StorePromotions,
};
pub use report::{Period, Reports, Revenue, RevenueKey, RfmScore};
pub use segment::{RfmFilter, Segment, SegmentReader, Segments, SpendFilter};
#[cfg(feature = "postgres")]
pub use store::CopyReport;
pub use store::{
    Actor, CheckReport, ConnectionSettings, Durability, EncryptionKey, Options, ReadTx, Store,
    WriteStats, WriteTx, MAX_ACTOR_ID_LEN, MAX_ACTOR_NAME_LEN, MAX_ENCRYPTION_KEY_LEN,
    MAX_READER_POOL_SIZE, MAX_UNITS_PER_COMMIT, MIN_MAX_SIZE_BYTES, MIN_SQLITE_VERSION_NUMBER,
    ONE_SHOT_ATTEMPTS, STATEMENT_CACHE_CAPACITY,
};
pub use storecredit::{
    StoreCredit, StoreCreditEntry, StoreCreditEntryKind, StoreCreditReader, StoreCredits,
    StoreStoreCredit,
};
pub use time::{TimeRange, MAX_TIMESTAMP, MIN_TIMESTAMP};

/// This library's version, from its Cargo manifest (`"0.1.0"`); the C API's
/// `custdb_version` returns the same text.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The money type custdb uses throughout: an exact decimal. Re-exported so
/// applications use the same version.
pub use rust_decimal::Decimal;

#[cfg(feature = "tokio")]
pub use async_store::{AsyncChanges, AsyncStore};

// The crates whose types appear in custdb's API, re-exported so that an
// application names the very versions custdb was built with
// (`custdb::chrono::DateTime`, `custdb::uuid::Uuid`, `custdb::serde_json::Value`,
// `custdb::rust_decimal::Decimal`) instead of pinning them again.
pub use chrono;
pub use rust_decimal;
pub use serde_json;
pub use uuid;
