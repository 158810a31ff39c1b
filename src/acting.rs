//! The policy-enforcing handle: [`Store::as_actor`] returns an
//! [`ActorStore`] whose every operation first checks the actor's
//! permissions (a [`PermissionDenied`](crate::ErrorKind::PermissionDenied)
//! error names the one missing), records the change under that actor, and
//! masks personal-data fields in what it returns unless the actor may read
//! personal data. An actor whose roles read customers only within a consent
//! scope (the built-in `marketing` role) sees only the customers who
//! currently consent to that purpose.
//!
//! # Example
//!
//! ```
//! use custdb::{Actor, NewCustomer, Store};
//!
//! let store = Store::open_in_memory()?;
//! store.write(|tx| {
//!     tx.access().grant("ann", "sales")?;
//!     tx.access().grant("ola", "auditor")
//! })?;
//! let sales = store.as_actor(&Actor::new("ann", "Ann")?)?;
//! // The same areas and names as the Store: customers(), orders(), consent()...
//! let created = sales.customers().create(NewCustomer::new("Grace Hopper").email("grace@example.com"))?;
//! let auditor = store.as_actor(&Actor::new("ola", "Ola")?)?;
//! let seen = auditor.customers().get(created.id)?;
//! assert_eq!(seen.display_name, "G•••");          // masked
//! assert!(auditor.customers().create(NewCustomer::new("X")).unwrap_err().is_permission_denied());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::access::{Grants, Permission, Role};
use crate::audit::{AuditEntry, AuditFilter, AuditVerification};
use crate::backup::BackupReport;
use crate::consent::{ConsentEvent, NewConsent, NewPurpose, Purpose};
use crate::customer::{
    Address, Customer, CustomerFilter, CustomerPatch, Interaction, NewAddress, NewCustomer,
    NewInteraction,
};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{CustomerId, OrderId, VariantId, WarehouseId};
use crate::inventory::{Movement, NewWarehouse, Warehouse};
use crate::order::{
    AddressSnapshot, NewOrder, NewPayment, NewRefund, NewReturn, NewShipment, Order, OrderSummary,
    Payment, Refund, Return, Shipment,
};
use crate::page::{Cursor, Page};
use crate::privacy::{ErasureReport, SubjectExport};
use crate::store::Store;
use crate::unit::Actor;
use crate::{NewProduct, Product};

/// What a masked text field shows after its first character.
pub const MASK: &str = "•••";

fn mask_text(s: &str) -> String {
    match s.chars().next() {
        Some(c) => format!("{c}{MASK}"),
        None => MASK.to_owned(),
    }
}

fn mask_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(mask_text)
}

fn mask_customer(mut c: Customer) -> Customer {
    c.display_name = mask_text(&c.display_name);
    c.given_name = mask_opt(&c.given_name);
    c.family_name = mask_opt(&c.family_name);
    c.email = c
        .email
        .as_deref()
        .map(|e| format!("{}@{MASK}", mask_text(e)));
    c.phone = c.phone.as_deref().map(|p| {
        let tail: String = p
            .chars()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{MASK}{tail}")
    });
    c.company = mask_opt(&c.company);
    c.birth_date = None;
    c.locale = None;
    c.acquisition_source = None;
    c.attributes = serde_json::Map::new();
    c.notes = c.notes.as_ref().map(|_| MASK.to_owned());
    c.tags = Vec::new();
    c
}

fn mask_address(mut a: Address) -> Address {
    a.label = mask_opt(&a.label);
    a.recipient = mask_opt(&a.recipient);
    a.company = mask_opt(&a.company);
    a.line1 = mask_text(&a.line1);
    a.line2 = mask_opt(&a.line2);
    a.region = mask_opt(&a.region);
    a.postal_code = mask_opt(&a.postal_code);
    a.phone = a.phone.as_ref().map(|_| MASK.to_owned());
    // City and country stay: a shipper needs the destination.
    a
}

fn mask_snapshot(a: AddressSnapshot) -> AddressSnapshot {
    AddressSnapshot {
        recipient: mask_opt(&a.recipient),
        company: mask_opt(&a.company),
        line1: mask_text(&a.line1),
        line2: mask_opt(&a.line2),
        city: a.city,
        region: mask_opt(&a.region),
        postal_code: mask_opt(&a.postal_code),
        country: a.country,
    }
}

fn mask_interaction(mut i: Interaction) -> Interaction {
    i.subject = i.subject.as_ref().map(|_| MASK.to_owned());
    i.body = i.body.as_ref().map(|_| MASK.to_owned());
    i
}

fn mask_order(mut o: Order) -> Order {
    o.guest_email = o
        .guest_email
        .as_deref()
        .map(|e| format!("{}@{MASK}", mask_text(e)));
    o.shipping_address = o.shipping_address.map(mask_snapshot);
    o.billing_address = o.billing_address.map(mask_snapshot);
    o.note = o.note.as_ref().map(|_| MASK.to_owned());
    o
}

/// A store seen through one actor's permissions. Get one with
/// [`Store::as_actor`]; each call is its own unit of work, recorded under
/// the actor.
#[derive(Debug, Clone)]
pub struct ActorStore {
    store: Store,
    actor: Actor,
    grants: Grants,
}

impl Store {
    /// A handle that enforces `actor`'s roles on every operation.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`] when the actor holds no role;
    /// [`ErrorKind::NotFound`] when a grant names a role that no longer
    /// exists.
    pub fn as_actor(&self, actor: &Actor) -> Result<ActorStore> {
        // On the primary: a grant revoked a moment ago must not still be
        // honoured on a lagging standby (Options::read_replica).
        let grants = self.read_fresh(|r| r.access().grants(actor.id()))?;
        if grants.roles.is_empty() {
            return Err(Error::new(ErrorKind::PermissionDenied {
                actor: actor.id().to_owned(),
                permission: "any role",
                operation: "act through the policy handle".into(),
            }));
        }
        Ok(ActorStore {
            store: self.clone(),
            actor: actor.clone(),
            grants,
        })
    }
}

impl ActorStore {
    /// The actor.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The actor's roles.
    pub fn roles(&self) -> &[Role] {
        &self.grants.roles
    }

    /// Customers, checked against the actor's roles.
    pub fn customers(&self) -> ActorCustomers<'_> {
        ActorCustomers(self)
    }

    /// Catalog, checked against the actor's roles.
    pub fn catalog(&self) -> ActorCatalog<'_> {
        ActorCatalog(self)
    }

    /// Inventory, checked against the actor's roles.
    pub fn inventory(&self) -> ActorInventory<'_> {
        ActorInventory(self)
    }

    /// Orders, checked against the actor's roles.
    pub fn orders(&self) -> ActorOrders<'_> {
        ActorOrders(self)
    }

    /// Consent, checked against the actor's roles.
    pub fn consent(&self) -> ActorConsent<'_> {
        ActorConsent(self)
    }

    /// Privacy, checked against the actor's roles.
    pub fn privacy(&self) -> ActorPrivacy<'_> {
        ActorPrivacy(self)
    }

    /// Audit, checked against the actor's roles.
    pub fn audit(&self) -> ActorAudit<'_> {
        ActorAudit(self)
    }

    /// Access, checked against the actor's roles.
    pub fn access(&self) -> ActorAccess<'_> {
        ActorAccess(self)
    }

    /// Whether the actor may do it.
    pub fn can(&self, permission: Permission) -> bool {
        self.grants.allows(permission)
    }

    fn require(&self, permission: Permission, operation: &str) -> Result<()> {
        self.grants.require(permission, operation)
    }

    fn unmasked(&self) -> bool {
        self.can(Permission::ReadPersonalData)
    }

    /// Whether a customer is inside the actor's consent scope.
    fn in_scope(&self, customer_id: CustomerId) -> Result<bool> {
        let Some(purposes) = self.grants.customer_scope() else {
            return Ok(true);
        };
        let now = crate::time::now();
        // Consent decides what may be shown: read on the primary, where a
        // withdrawal is never behind.
        self.store.read_fresh(|r| {
            for p in &purposes {
                let consents = r.consent().state_at(customer_id, p, now);
                match consents {
                    Ok(Some(s)) if s.state == crate::ConsentState::Given => return Ok(true),
                    Ok(_) => {}
                    // An unregistered purpose: nobody consents to it.
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(false)
        })
    }

    /// The customers of a page that are inside the actor's consent scope:
    /// one read and one statement per scope purpose, whatever the page's
    /// length (no query per customer).
    fn in_scope_of(&self, customers: &[Customer]) -> Result<BTreeSet<CustomerId>> {
        let ids: Vec<CustomerId> = customers.iter().map(|c| c.id).collect();
        let Some(purposes) = self.grants.customer_scope() else {
            return Ok(ids.into_iter().collect());
        };
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let now = crate::time::now();
        self.store.read_fresh(|r| {
            let mut inside = BTreeSet::new();
            for p in &purposes {
                match r.consent().consenting_among(p, &ids, now) {
                    Ok(found) => inside.extend(found),
                    // An unregistered purpose: nobody consents to it.
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(inside)
        })
    }

    /// A customer outside the scope reads as not found, so the handle does
    /// not reveal that it exists.
    fn require_in_scope(&self, customer_id: CustomerId) -> Result<()> {
        if self.in_scope(customer_id)? {
            Ok(())
        } else {
            Err(Error::not_found("customer", customer_id))
        }
    }

    fn shown(&self, c: Customer) -> Customer {
        if self.unmasked() {
            c
        } else {
            mask_customer(c)
        }
    }

    // Customers -------------------------------------------------------------

    /// The body of [`ActorCustomers::get`], which documents it.
    pub(crate) fn customer(&self, id: CustomerId) -> Result<Customer> {
        self.require(Permission::ReadCustomers, "read customers")?;
        self.require_in_scope(id)?;
        Ok(self.shown(self.store.customers().get(id)?))
    }

    /// The body of [`ActorCustomers::list`], which documents it.
    pub(crate) fn list_customers(
        &self,
        filter: &CustomerFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Customer>> {
        self.require(Permission::ReadCustomers, "list customers")?;
        let page = self.store.customers().list(filter, after, limit)?;
        let inside = self.in_scope_of(&page.items)?;
        let items = page
            .items
            .into_iter()
            .filter(|c| inside.contains(&c.id))
            .map(|c| self.shown(c))
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// The body of [`ActorCustomers::get_by_email`], which documents it.
    pub(crate) fn customer_by_email(&self, email: &str) -> Result<Customer> {
        self.require(Permission::ReadCustomers, "look customers up")?;
        self.require(Permission::ReadPersonalData, "look customers up by email")?;
        let c = self.store.customers().get_by_email(email)?;
        self.require_in_scope(c.id)?;
        Ok(c)
    }

    /// The body of [`ActorCustomers::search`], which documents it.
    pub(crate) fn search_customers(&self, query: &str, limit: usize) -> Result<Vec<Customer>> {
        self.require(Permission::ReadCustomers, "search customers")?;
        self.require(Permission::ReadPersonalData, "search customers by name")?;
        let found = self.store.customers().search(query, limit)?;
        let inside = self.in_scope_of(&found)?;
        Ok(found
            .into_iter()
            .filter(|c| inside.contains(&c.id))
            .collect())
    }

    /// The body of [`ActorCustomers::addresses`], which documents it.
    pub(crate) fn addresses(&self, id: CustomerId) -> Result<Vec<Address>> {
        self.require(Permission::ReadCustomers, "read addresses")?;
        self.require_in_scope(id)?;
        let list = self.store.customers().addresses(id)?;
        Ok(if self.unmasked() {
            list
        } else {
            list.into_iter().map(mask_address).collect()
        })
    }

    /// The body of [`ActorCustomers::interactions`], which documents it.
    pub(crate) fn interactions(
        &self,
        id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Interaction>> {
        self.require(Permission::ReadCustomers, "read interactions")?;
        self.require_in_scope(id)?;
        let page = self.store.customers().interactions(id, after, limit)?;
        Ok(if self.unmasked() {
            page
        } else {
            Page {
                items: page.items.into_iter().map(mask_interaction).collect(),
                next_cursor: page.next_cursor,
            }
        })
    }

    /// The body of [`ActorCustomers::create`], which documents it.
    pub(crate) fn create_customer(&self, new: NewCustomer) -> Result<Customer> {
        self.require(Permission::WriteCustomers, "create customers")?;
        self.store
            .write_as(&self.actor, |tx| tx.customers().create(new))
    }

    /// The body of [`ActorCustomers::update`], which documents it.
    pub(crate) fn update_customer(
        &self,
        id: CustomerId,
        expected_version: i64,
        patch: CustomerPatch,
    ) -> Result<Customer> {
        self.require(Permission::WriteCustomers, "change customers")?;
        self.store.write_as(&self.actor, |tx| {
            tx.customers().update(id, expected_version, patch)
        })
    }

    /// The body of [`ActorCustomers::archive`], which documents it.
    pub(crate) fn archive_customer(&self, id: CustomerId) -> Result<Customer> {
        self.require(Permission::WriteCustomers, "archive customers")?;
        self.store
            .write_as(&self.actor, |tx| tx.customers().archive(id))
    }

    /// The body of [`ActorCustomers::add_address`], which documents it.
    pub(crate) fn add_address(&self, id: CustomerId, new: NewAddress) -> Result<Address> {
        self.require(Permission::WriteCustomers, "add addresses")?;
        self.store
            .write_as(&self.actor, |tx| tx.customers().add_address(id, new))
    }

    /// The body of [`ActorCustomers::add_interaction`], which documents it.
    pub(crate) fn add_interaction(
        &self,
        id: CustomerId,
        new: NewInteraction,
    ) -> Result<Interaction> {
        self.require(Permission::WriteCustomers, "record interactions")?;
        self.store
            .write_as(&self.actor, |tx| tx.customers().add_interaction(id, new))
    }

    // Catalog and stock -------------------------------------------------------

    /// The body of [`ActorCatalog::create_product`], which documents it.
    pub(crate) fn create_product(&self, new: NewProduct) -> Result<Product> {
        self.require(Permission::ManageCatalog, "manage the catalog")?;
        self.store
            .write_as(&self.actor, |tx| tx.catalog().create_product(new))
    }

    /// The body of [`ActorInventory::create_warehouse`], which documents it.
    pub(crate) fn create_warehouse(&self, new: NewWarehouse) -> Result<Warehouse> {
        self.require(Permission::ManageCatalog, "manage warehouses")?;
        self.store
            .write_as(&self.actor, |tx| tx.inventory().create_warehouse(new))
    }

    /// The body of [`ActorInventory::receive`], which documents it.
    pub(crate) fn receive(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        quantity: i64,
    ) -> Result<Movement> {
        self.require(Permission::ManageCatalog, "move stock")?;
        self.store.write_as(&self.actor, |tx| {
            tx.inventory().receive(variant_id, warehouse_id, quantity)
        })
    }

    // Orders ------------------------------------------------------------------

    /// The body of [`ActorOrders::place`], which documents it.
    pub(crate) fn place_order(&self, new: NewOrder) -> Result<Order> {
        self.require(Permission::ManageOrders, "place orders")?;
        let o = self
            .store
            .write_as(&self.actor, |tx| tx.orders().place(new))?;
        Ok(self.shown_order(o))
    }

    fn shown_order(&self, o: Order) -> Order {
        if self.unmasked() {
            o
        } else {
            mask_order(o)
        }
    }

    /// The body of [`ActorOrders::get`], which documents it.
    pub(crate) fn order(&self, id: OrderId) -> Result<Order> {
        self.require(Permission::ManageOrders, "read orders")?;
        let o = self.store.read(|r| r.orders().get(id))?;
        Ok(self.shown_order(o))
    }

    /// The body of [`ActorOrders::history`], which documents it.
    pub(crate) fn order_history(
        &self,
        customer_id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<OrderSummary>> {
        self.require(Permission::ReadCustomers, "read order history")?;
        self.require_in_scope(customer_id)?;
        self.store
            .read(|r| r.orders().history(customer_id, after, limit))
    }

    /// The body of [`ActorOrders::pay`], which documents it.
    pub(crate) fn pay(&self, order_id: OrderId, new: NewPayment) -> Result<Payment> {
        self.require(Permission::ManageOrders, "take payments")?;
        self.store
            .write_as(&self.actor, |tx| tx.orders().pay(order_id, new))
    }

    /// The body of [`ActorOrders::pay_with_gift_card`], which documents it.
    pub(crate) fn pay_with_gift_card(
        &self,
        order_id: OrderId,
        code: &str,
        amount: rust_decimal::Decimal,
    ) -> Result<Payment> {
        self.require(Permission::ManageOrders, "take payments")?;
        self.store.write_as(&self.actor, |tx| {
            tx.orders().pay_with_gift_card(order_id, code, amount)
        })
    }

    /// The body of [`ActorOrders::pay_with_store_credit`], which documents it.
    pub(crate) fn pay_with_store_credit(
        &self,
        order_id: OrderId,
        amount: rust_decimal::Decimal,
    ) -> Result<Payment> {
        self.require(Permission::ManageOrders, "take payments")?;
        self.store.write_as(&self.actor, |tx| {
            tx.orders().pay_with_store_credit(order_id, amount)
        })
    }

    /// The body of [`ActorOrders::pay_with_points`], which documents it.
    pub(crate) fn pay_with_points(&self, order_id: OrderId, points: i64) -> Result<Payment> {
        self.require(Permission::ManageOrders, "take payments")?;
        self.store.write_as(&self.actor, |tx| {
            tx.orders().pay_with_points(order_id, points)
        })
    }

    /// The body of [`ActorOrders::ship`], which documents it.
    pub(crate) fn ship(&self, order_id: OrderId, new: NewShipment) -> Result<Shipment> {
        self.require(Permission::ManageOrders, "ship orders")?;
        self.store
            .write_as(&self.actor, |tx| tx.orders().ship(order_id, new))
    }

    /// The body of [`ActorOrders::cancel`], which documents it.
    pub(crate) fn cancel(&self, order_id: OrderId, reason: &str) -> Result<()> {
        self.require(Permission::ManageOrders, "cancel orders")?;
        self.store
            .write_as(&self.actor, |tx| tx.orders().cancel(order_id, reason))
    }

    /// The body of [`ActorOrders::return_items`], which documents it.
    pub(crate) fn return_items(&self, order_id: OrderId, new: NewReturn) -> Result<Return> {
        self.require(Permission::ManageOrders, "take returns")?;
        self.store
            .write_as(&self.actor, |tx| tx.orders().return_items(order_id, new))
    }

    /// The body of [`ActorOrders::refund`], which documents it.
    pub(crate) fn refund(&self, order_id: OrderId, new: NewRefund) -> Result<Vec<Refund>> {
        self.require(Permission::Refund, "refund")?;
        self.store
            .write_as(&self.actor, |tx| tx.orders().refund(order_id, new))
    }

    // Consent and privacy -----------------------------------------------------

    /// The body of [`ActorConsent::register_purpose`], which documents it.
    pub(crate) fn register_purpose(&self, new: NewPurpose) -> Result<Purpose> {
        self.require(Permission::Administer, "register purposes")?;
        self.store
            .write_as(&self.actor, |tx| tx.consent().register_purpose(new))
    }

    /// The body of [`ActorConsent::record`], which documents it.
    pub(crate) fn record_consent(&self, new: NewConsent) -> Result<ConsentEvent> {
        self.require(Permission::ManageConsent, "record consent")?;
        self.store
            .write_as(&self.actor, |tx| tx.consent().record(new))
    }

    /// The body of [`ActorConsent::can_process`], which documents it.
    pub(crate) fn can_process(
        &self,
        customer_id: CustomerId,
        purpose_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.require(Permission::ReadCustomers, "read consent")?;
        self.store
            .read_fresh(|r| r.consent().can_process(customer_id, purpose_id, at))
    }

    /// The body of [`ActorPrivacy::export`], which documents it.
    pub(crate) fn export_subject(&self, customer_id: CustomerId) -> Result<SubjectExport> {
        self.require(Permission::ExportSubjects, "export data subjects")?;
        self.store.read(|r| r.privacy().export(customer_id))
    }

    /// The body of [`ActorPrivacy::erase`], which documents it.
    pub(crate) fn erase_subject(&self, customer_id: CustomerId) -> Result<ErasureReport> {
        self.require(Permission::EraseSubjects, "erase data subjects")?;
        let mut report = self.store.write_as(&self.actor, |tx| {
            tx.privacy()
                .erase(customer_id, crate::ErasureGround::SubjectRequest)
        })?;
        if !report.already_erased {
            report.file_scrubbed = self.store.scrub_after_erasure()?;
        }
        Ok(report)
    }

    // Audit and administration -------------------------------------------------

    /// The body of [`ActorAudit::query`], which documents it.
    pub(crate) fn query_audit(
        &self,
        filter: &AuditFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<AuditEntry>> {
        self.require(Permission::ReadAudit, "read the audit trail")?;
        self.store.read(|r| r.audit().query(filter, after, limit))
    }

    /// The body of [`ActorAudit::verify`], which documents it.
    pub(crate) fn verify_audit(&self) -> Result<AuditVerification> {
        self.require(Permission::ReadAudit, "verify the audit trail")?;
        self.store.verify_audit()
    }

    /// The body of [`ActorAccess::grant`], which documents it.
    pub(crate) fn grant(&self, actor_id: &str, role: &str) -> Result<Grants> {
        self.require(Permission::Administer, "grant roles")?;
        self.store
            .write_as(&self.actor, |tx| tx.access().grant(actor_id, role))
    }

    /// Backs the database up. Needs `administer`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Store::backup_to`].
    pub fn backup_to(&self, path: impl AsRef<Path>) -> Result<BackupReport> {
        self.require(Permission::Administer, "back up")?;
        self.store.backup_to(path, |_| {})
    }
}

/// Customers through an [`ActorStore`]: the same names as
/// [`Store::customers`](crate::Store::customers) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorCustomers<'a>(&'a ActorStore);

impl ActorCustomers<'_> {
    /// Reads a customer. Needs `read_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; [`ErrorKind::NotFound`] (also for a
    /// customer outside the actor's consent scope).
    pub fn get(&self, id: CustomerId) -> Result<Customer> {
        self.0.customer(id)
    }

    /// A page of customers. Needs `read_customers`. For a scoped actor the
    /// page holds only the customers in scope, so it may be shorter than
    /// `limit` while `next_cursor` still leads on.
    ///
    /// # Errors
    ///
    /// As [`CustomerReader::list`](crate::CustomerReader::list), and
    /// [`ErrorKind::PermissionDenied`].
    pub fn list(
        &self,
        filter: &CustomerFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Customer>> {
        self.0.list_customers(filter, after, limit)
    }

    /// Looks a customer up by email. Needs `read_customers` and
    /// `read_personal_data`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; [`ErrorKind::NotFound`].
    pub fn get_by_email(&self, email: &str) -> Result<Customer> {
        self.0.customer_by_email(email)
    }

    /// Full-text search. Needs `read_customers` and `read_personal_data`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`CustomerReader::search`](crate::CustomerReader::search).
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Customer>> {
        self.0.search_customers(query, limit)
    }

    /// A customer's addresses. Needs `read_customers`.
    ///
    /// # Errors
    ///
    /// As [`get`](ActorCustomers::get).
    pub fn addresses(&self, id: CustomerId) -> Result<Vec<Address>> {
        self.0.addresses(id)
    }

    /// A customer's interactions, newest first. Needs `read_customers`.
    ///
    /// # Errors
    ///
    /// As [`get`](ActorCustomers::get).
    pub fn interactions(
        &self,
        id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Interaction>> {
        self.0.interactions(id, after, limit)
    }

    /// Creates a customer. Needs `write_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Customers::create`](crate::Customers::create).
    pub fn create(&self, new: NewCustomer) -> Result<Customer> {
        self.0.create_customer(new)
    }

    /// Changes a customer. Needs `write_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Customers::update`](crate::Customers::update).
    pub fn update(
        &self,
        id: CustomerId,
        expected_version: i64,
        patch: CustomerPatch,
    ) -> Result<Customer> {
        self.0.update_customer(id, expected_version, patch)
    }

    /// Archives a customer. Needs `write_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; [`ErrorKind::NotFound`].
    pub fn archive(&self, id: CustomerId) -> Result<Customer> {
        self.0.archive_customer(id)
    }

    /// Adds an address. Needs `write_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Customers::add_address`](crate::Customers::add_address).
    pub fn add_address(&self, id: CustomerId, new: NewAddress) -> Result<Address> {
        self.0.add_address(id, new)
    }

    /// Records an interaction. Needs `write_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Customers::add_interaction`](crate::Customers::add_interaction).
    pub fn add_interaction(&self, id: CustomerId, new: NewInteraction) -> Result<Interaction> {
        self.0.add_interaction(id, new)
    }
}

/// Catalog through an [`ActorStore`]: the same names as
/// [`Store::catalog`](crate::Store::catalog) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorCatalog<'a>(&'a ActorStore);

impl ActorCatalog<'_> {
    /// Creates a product. Needs `manage_catalog`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Catalog::create_product`](crate::Catalog::create_product).
    pub fn create_product(&self, new: NewProduct) -> Result<Product> {
        self.0.create_product(new)
    }
}

/// Inventory through an [`ActorStore`]: the same names as
/// [`Store::inventory`](crate::Store::inventory) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorInventory<'a>(&'a ActorStore);

impl ActorInventory<'_> {
    /// Creates a warehouse. Needs `manage_catalog`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Inventory::create_warehouse`](crate::Inventory::create_warehouse).
    pub fn create_warehouse(&self, new: NewWarehouse) -> Result<Warehouse> {
        self.0.create_warehouse(new)
    }

    /// Books stock in. Needs `manage_catalog`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Inventory::receive`](crate::Inventory::receive).
    pub fn receive(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        quantity: i64,
    ) -> Result<Movement> {
        self.0.receive(variant_id, warehouse_id, quantity)
    }
}

/// Orders through an [`ActorStore`]: the same names as
/// [`Store::orders`](crate::Store::orders) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorOrders<'a>(&'a ActorStore);

impl ActorOrders<'_> {
    /// Places an order. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Orders::place`](crate::Orders::place).
    pub fn place(&self, new: NewOrder) -> Result<Order> {
        self.0.place_order(new)
    }

    /// Reads an order. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; [`ErrorKind::NotFound`].
    pub fn get(&self, id: OrderId) -> Result<Order> {
        self.0.order(id)
    }

    /// A customer's orders, newest first. Needs `read_customers`.
    ///
    /// # Errors
    ///
    /// As [`get`](ActorCustomers::get).
    pub fn history(
        &self,
        customer_id: CustomerId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<OrderSummary>> {
        self.0.order_history(customer_id, after, limit)
    }

    /// Takes a payment. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Orders::pay`](crate::Orders::pay).
    pub fn pay(&self, order_id: OrderId, new: NewPayment) -> Result<Payment> {
        self.0.pay(order_id, new)
    }

    /// Pays with a gift card. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Orders::pay_with_gift_card`](crate::Orders::pay_with_gift_card).
    pub fn pay_with_gift_card(
        &self,
        order_id: OrderId,
        code: &str,
        amount: rust_decimal::Decimal,
    ) -> Result<Payment> {
        self.0.pay_with_gift_card(order_id, code, amount)
    }

    /// Pays with the customer's store credit. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Orders::pay_with_store_credit`](crate::Orders::pay_with_store_credit).
    pub fn pay_with_store_credit(
        &self,
        order_id: OrderId,
        amount: rust_decimal::Decimal,
    ) -> Result<Payment> {
        self.0.pay_with_store_credit(order_id, amount)
    }

    /// Pays with the customer's loyalty points. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Orders::pay_with_points`](crate::Orders::pay_with_points).
    pub fn pay_with_points(&self, order_id: OrderId, points: i64) -> Result<Payment> {
        self.0.pay_with_points(order_id, points)
    }

    /// Ships. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Orders::ship`](crate::Orders::ship).
    pub fn ship(&self, order_id: OrderId, new: NewShipment) -> Result<Shipment> {
        self.0.ship(order_id, new)
    }

    /// Cancels. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Orders::cancel`](crate::Orders::cancel).
    pub fn cancel(&self, order_id: OrderId, reason: &str) -> Result<()> {
        self.0.cancel(order_id, reason)
    }

    /// Takes a return. Needs `manage_orders`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Orders::return_items`](crate::Orders::return_items).
    pub fn return_items(&self, order_id: OrderId, new: NewReturn) -> Result<Return> {
        self.0.return_items(order_id, new)
    }

    /// Refunds. Needs `refund`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Orders::refund`](crate::Orders::refund).
    pub fn refund(&self, order_id: OrderId, new: NewRefund) -> Result<Vec<Refund>> {
        self.0.refund(order_id, new)
    }
}

/// Consent through an [`ActorStore`]: the same names as
/// [`Store::consent`](crate::Store::consent) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorConsent<'a>(&'a ActorStore);

impl ActorConsent<'_> {
    /// Registers a purpose. Needs `administer`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Consents::register_purpose`](crate::Consents::register_purpose).
    pub fn register_purpose(&self, new: NewPurpose) -> Result<Purpose> {
        self.0.register_purpose(new)
    }

    /// Records a consent event. Needs `manage_consent`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`Consents::record`](crate::Consents::record).
    pub fn record(&self, new: NewConsent) -> Result<ConsentEvent> {
        self.0.record_consent(new)
    }

    /// Whether the customer's data may be processed for the purpose.
    /// Needs `read_customers`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`ConsentReader::can_process`](crate::ConsentReader::can_process).
    pub fn can_process(
        &self,
        customer_id: CustomerId,
        purpose_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.0.can_process(customer_id, purpose_id, at)
    }
}

/// Privacy through an [`ActorStore`]: the same names as
/// [`Store::privacy`](crate::Store::privacy) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorPrivacy<'a>(&'a ActorStore);

impl ActorPrivacy<'_> {
    /// Exports a data subject. Needs `export_subjects`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; [`ErrorKind::NotFound`].
    pub fn export(&self, customer_id: CustomerId) -> Result<SubjectExport> {
        self.0.export_subject(customer_id)
    }

    /// Erases a data subject (and scrubs the file). Needs `erase_subjects`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; [`ErrorKind::NotFound`].
    pub fn erase(&self, customer_id: CustomerId) -> Result<ErasureReport> {
        self.0.erase_subject(customer_id)
    }
}

/// The audit trail through an [`ActorStore`]: the same names as
/// [`ReadTx::audit`](crate::ReadTx::audit) (`query`, and `verify` as
/// [`Store::verify_audit`](crate::Store::verify_audit)), each call checked
/// against the actor's roles.
#[derive(Debug, Clone, Copy)]
pub struct ActorAudit<'a>(&'a ActorStore);

impl ActorAudit<'_> {
    /// Queries the audit trail. Needs `read_audit`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as
    /// [`AuditReader::query`](crate::AuditReader::query).
    pub fn query(
        &self,
        filter: &AuditFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<AuditEntry>> {
        self.0.query_audit(filter, after, limit)
    }

    /// Verifies the audit chain. Needs `read_audit`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; a database error.
    pub fn verify(&self) -> Result<AuditVerification> {
        self.0.verify_audit()
    }
}

/// Access through an [`ActorStore`]: the same names as
/// [`Store::access`](crate::Store::access) and the units of work, each call
/// checked against the actor's roles and recorded under the actor.
#[derive(Debug, Clone, Copy)]
pub struct ActorAccess<'a>(&'a ActorStore);

impl ActorAccess<'_> {
    /// Grants a role. Needs `administer`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`]; as [`Access::grant`](crate::Access::grant).
    pub fn grant(&self, actor_id: &str, role: &str) -> Result<Grants> {
        self.0.grant(actor_id, role)
    }
}
