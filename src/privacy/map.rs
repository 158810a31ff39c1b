//! The personal-data map: every column of every table, classified in one
//! place. Subject export, erasure and retention read this map and nothing
//! else; `tests/it/privacy_map.rs` fails when a table gains a column the map
//! does not classify, and docs/PRIVACY.md is rendered from it
//! ([`record_of_processing`]).

use crate::consent::DataCategory;

/// How long a column's data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Retention {
    /// Until the customer is erased, on request or by the
    /// `inactive_customers` retention rule.
    UntilErasure,
    /// Until the `interactions` retention rule removes it, or erasure.
    Interactions,
    /// Until the `order_contact_data` retention rule removes it, or erasure.
    OrderContactData,
    /// Kept for accounting (a legal obligation); pseudonymous once the
    /// customer is erased.
    Accounting,
    /// Kept as proof of consent for as long as the customer's record.
    ConsentEvidence,
    /// Kept with the audit trail.
    AuditTrail,
    /// Derived from other columns and removed with them.
    Derived,
    /// Not personal data.
    NotApplicable,
}

impl Retention {
    /// How the record of processing words it.
    pub fn describe(self) -> &'static str {
        match self {
            Retention::UntilErasure => "until erasure (request or `inactive_customers` rule)",
            Retention::Interactions => "`interactions` rule, or erasure",
            Retention::OrderContactData => "`order_contact_data` rule, or erasure",
            Retention::Accounting => "accounting period; pseudonymous after erasure",
            Retention::ConsentEvidence => "as long as the customer record (proof of consent)",
            Retention::AuditTrail => "with the audit trail",
            Retention::Derived => "removed with its source",
            Retention::NotApplicable => "-",
        }
    }
}

/// What erasure does to a column of the subject's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Erasure {
    /// Left as it is (not personal, or kept pseudonymously).
    Keep,
    /// Replaced by the value of this SQL expression (`NULL`, a
    /// placeholder, or a function of the column).
    Set(&'static str),
    /// Maintained by SQLite from other columns (the full-text index).
    Derived,
}

/// One column's classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnClass {
    /// The column.
    pub column: &'static str,
    /// The category of personal data; `None` when it is not personal data.
    pub category: Option<DataCategory>,
    /// Why it is held (the purpose of processing).
    pub purpose: &'static str,
    /// How long it is kept.
    pub retention: Retention,
    /// What erasure does to it.
    pub erasure: Erasure,
}

/// What erasure does with the subject's rows of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowErasure {
    /// The rows stay; their columns are erased one by one.
    KeepRows,
    /// The rows are deleted.
    DeleteRows,
}

/// What a retention rule does to a table's rows older than its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetentionAction {
    /// Delete them.
    DeleteRows,
    /// Erase their personal columns (as erasure does), keep the rows.
    EraseColumns,
    /// Erase the customer the row is (the whole subject).
    EraseSubject,
}

/// A table's part in retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRetention {
    /// The rule that applies.
    pub category: super::RetentionCategory,
    /// SQL for the instant a row's period runs from (evaluated per row).
    pub age: &'static str,
    /// What happens to the rows past the period.
    pub action: RetentionAction,
}

/// One table's classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableClass {
    /// The table.
    pub table: &'static str,
    /// What the table holds, for the record of processing.
    pub description: &'static str,
    /// SQL condition selecting a customer's rows, the customer id bound as
    /// `?1`; `None` for tables that hold nothing about one customer.
    pub subject: Option<&'static str>,
    /// What erasure does with the subject's rows.
    pub rows: RowErasure,
    /// Its retention rule, if one applies.
    pub retention: Option<TableRetention>,
    /// Every column.
    pub columns: &'static [ColumnClass],
}

impl TableClass {
    /// The columns that hold personal data.
    pub fn personal_columns(&self) -> impl Iterator<Item = &ColumnClass> {
        self.columns.iter().filter(|c| c.category.is_some())
    }
}

const fn no(column: &'static str) -> ColumnClass {
    ColumnClass {
        column,
        category: None,
        purpose: "-",
        retention: Retention::NotApplicable,
        erasure: Erasure::Keep,
    }
}

const fn pd(
    column: &'static str,
    category: DataCategory,
    purpose: &'static str,
    retention: Retention,
    erasure: Erasure,
) -> ColumnClass {
    ColumnClass {
        column,
        category: Some(category),
        purpose,
        retention,
        erasure,
    }
}

use DataCategory as C;
use Erasure::{Derived, Keep, Set};
use Retention as R;

const ACCOUNT: &str = "customer relationship";
const FULFIL: &str = "order fulfilment";
const BOOKS: &str = "accounting (legal obligation)";
const PROOF: &str = "proof of consent";
const ACCOUNTABLE: &str = "accountability";
const SEARCH: &str = "customer search";

/// A customer's id, kept everywhere: it names nobody once the customer is
/// erased.
const fn pseudonym(
    column: &'static str,
    purpose: &'static str,
    retention: Retention,
) -> ColumnClass {
    pd(column, C::Pseudonymous, purpose, retention, Keep)
}

/// Who on the staff did something.
const fn staff(column: &'static str) -> ColumnClass {
    pd(column, C::Staff, ACCOUNTABLE, R::AuditTrail, Keep)
}

/// Purchase facts: personal while they point at a named customer, kept for
/// the books.
const fn sale(column: &'static str) -> ColumnClass {
    pd(column, C::Commercial, BOOKS, R::Accounting, Keep)
}

const VIA_ORDER: &str = "order_id IN (SELECT id FROM orders WHERE customer_id = ?1)";
const ORDER_AGE: &str = "(SELECT o.placed_at FROM orders o WHERE o.id = order_id)";

/// The map. Order matters for erasure: rows that others point at come last.
pub static PERSONAL_DATA_MAP: &[TableClass] = &[
    TableClass {
        table: "customer_tags",
        description: "tags on a customer",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::DeleteRows,
        retention: None,
        columns: &[
            pseudonym("customer_id", ACCOUNT, R::UntilErasure),
            pd("tag", C::Profile, ACCOUNT, R::UntilErasure, Keep),
        ],
    },
    TableClass {
        table: "customer_group_members",
        description: "which customer groups a customer is in, and when",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::DeleteRows,
        retention: None,
        columns: &[
            no("group_id"),
            pseudonym("customer_id", ACCOUNT, R::UntilErasure),
            no("valid_from"),
            no("valid_until"),
            no("added_at"),
        ],
    },
    TableClass {
        table: "customer_tax_exemptions",
        description: "customers exempt from tax (a business's VAT id)",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::DeleteRows,
        retention: None,
        columns: &[
            pseudonym("customer_id", ACCOUNT, R::UntilErasure),
            pd("vat_id", C::Identity, ACCOUNT, R::UntilErasure, Keep),
            pd("reason", C::Profile, ACCOUNT, R::UntilErasure, Keep),
            no("created_at"),
        ],
    },
    TableClass {
        table: "customer_addresses",
        description: "a customer's address book",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::DeleteRows,
        retention: None,
        columns: &[
            no("id"),
            pseudonym("customer_id", ACCOUNT, R::UntilErasure),
            no("kind"),
            no("is_default"),
            pd("label", C::Profile, ACCOUNT, R::UntilErasure, Keep),
            pd("recipient", C::Identity, FULFIL, R::UntilErasure, Keep),
            pd("company", C::Identity, FULFIL, R::UntilErasure, Keep),
            pd("line1", C::Address, FULFIL, R::UntilErasure, Keep),
            pd("line2", C::Address, FULFIL, R::UntilErasure, Keep),
            pd("city", C::Address, FULFIL, R::UntilErasure, Keep),
            pd("region", C::Address, FULFIL, R::UntilErasure, Keep),
            pd("postal_code", C::Address, FULFIL, R::UntilErasure, Keep),
            pd("country", C::Address, FULFIL, R::UntilErasure, Keep),
            pd("phone", C::Contact, FULFIL, R::UntilErasure, Keep),
            no("created_at"),
            no("updated_at"),
        ],
    },
    TableClass {
        table: "customer_interactions",
        description: "the interaction timeline (calls, emails, notes, reviews)",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::DeleteRows,
        retention: Some(TableRetention {
            category: super::RetentionCategory::Interactions,
            age: "occurred_at",
            action: RetentionAction::DeleteRows,
        }),
        columns: &[
            no("id"),
            pseudonym("customer_id", ACCOUNT, R::Interactions),
            no("channel"),
            no("direction"),
            no("kind"),
            pd("subject", C::Communication, ACCOUNT, R::Interactions, Keep),
            pd("body", C::Communication, ACCOUNT, R::Interactions, Keep),
            pd("rating", C::Communication, ACCOUNT, R::Interactions, Keep),
            no("occurred_at"),
            no("recorded_at"),
            staff("recorded_by"),
        ],
    },
    TableClass {
        table: "consent_events",
        description: "the consent ledger",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("seq"),
            no("id"),
            pseudonym("customer_id", PROOF, R::ConsentEvidence),
            no("purpose_id"),
            pd("state", C::Consent, PROOF, R::ConsentEvidence, Keep),
            no("notice_version"),
            no("notice_hash"),
            no("collection_method"),
            no("channel"),
            no("jurisdiction"),
            pd("language", C::Consent, PROOF, R::ConsentEvidence, Keep),
            pd("evidence_reference", C::Consent, PROOF, R::ConsentEvidence, Set("NULL")),
            pd("occurred_at", C::Consent, PROOF, R::ConsentEvidence, Keep),
            pd("valid_until", C::Consent, PROOF, R::ConsentEvidence, Keep),
            no("recorded_at"),
            staff("recorded_by"),
        ],
    },
    TableClass {
        table: "order_events",
        description: "each order's timeline",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: Some(TableRetention {
            category: super::RetentionCategory::OrderContactData,
            age: ORDER_AGE,
            action: RetentionAction::EraseColumns,
        }),
        columns: &[
            no("seq"),
            no("order_id"),
            no("at"),
            staff("actor_id"),
            no("kind"),
            no("from_status"),
            no("to_status"),
            // Shipment events name the tracking number; the rest is figures.
            pd(
                "detail",
                C::Commercial,
                FULFIL,
                R::OrderContactData,
                Set("json_remove(detail, '$.tracking_number')"),
            ),
        ],
    },
    TableClass {
        table: "shipment_lines",
        description: "what each shipment carried",
        subject: Some(
            "shipment_id IN (SELECT s.id FROM shipments s JOIN orders o ON o.id = s.order_id \
             WHERE o.customer_id = ?1)",
        ),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("shipment_id"), no("order_line_id"), sale("quantity")],
    },
    TableClass {
        table: "shipments",
        description: "shipments of orders",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: Some(TableRetention {
            category: super::RetentionCategory::OrderContactData,
            age: ORDER_AGE,
            action: RetentionAction::EraseColumns,
        }),
        columns: &[
            no("id"),
            no("order_id"),
            no("carrier"),
            pd("tracking_number", C::Commercial, FULFIL, R::OrderContactData, Set("NULL")),
            no("shipped_at"),
            no("delivered_at"),
        ],
    },
    TableClass {
        table: "return_lines",
        description: "what each return brought back",
        subject: Some(
            "return_id IN (SELECT r.id FROM returns r JOIN orders o ON o.id = r.order_id \
             WHERE o.customer_id = ?1)",
        ),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("return_id"),
            no("order_line_id"),
            sale("quantity"),
            no("restock"),
            no("warehouse_id"),
        ],
    },
    TableClass {
        table: "returns",
        description: "returns of orders",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("id"), no("order_id"), sale("reason"), no("created_at")],
    },
    TableClass {
        table: "refunds",
        description: "refunds of payments",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("order_id"),
            no("payment_id"),
            sale("amount_e4"),
            sale("reason"),
            no("created_at"),
            sale("destination"),
        ],
    },
    TableClass {
        table: "payments",
        description: "payments of orders (never card numbers)",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("order_id"),
            sale("method"),
            no("provider"),
            pd("provider_reference", C::Financial, BOOKS, R::Accounting, Keep),
            sale("amount_e4"),
            no("currency"),
            sale("status"),
            sale("refunded_e4"),
            no("created_at"),
            no("updated_at"),
        ],
    },
    TableClass {
        table: "order_lines",
        description: "what each order bought",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("order_id"),
            no("line_no"),
            no("variant_id"),
            sale("sku"),
            sale("title"),
            sale("quantity"),
            sale("unit_price_e4"),
            sale("subtotal_e4"),
            sale("discount_e4"),
            no("tax_rate_ppm"),
            sale("tax_e4"),
            sale("total_e4"),
            no("warehouse_id"),
            sale("quantity_shipped"),
            sale("quantity_returned"),
            no("prices_include_tax"),
            no("price_source"),
        ],
    },
    TableClass {
        table: "orders",
        description: "orders, with the addresses they were sent to",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: Some(TableRetention {
            category: super::RetentionCategory::OrderContactData,
            age: "placed_at",
            action: RetentionAction::EraseColumns,
        }),
        columns: &[
            no("id"),
            no("number"),
            pseudonym("customer_id", BOOKS, R::Accounting),
            // A guest order must keep an email (a CHECK says so): erasure
            // leaves a placeholder that names nobody.
            pd(
                "guest_email",
                C::Contact,
                FULFIL,
                R::OrderContactData,
                Set("CASE WHEN guest_email IS NULL THEN NULL ELSE 'erased@erased.invalid' END"),
            ),
            no("currency"),
            sale("status"),
            sale("subtotal_e4"),
            sale("discount_e4"),
            sale("tax_e4"),
            sale("shipping_e4"),
            sale("total_e4"),
            sale("paid_e4"),
            sale("refunded_e4"),
            pd("shipping_address", C::Address, FULFIL, R::OrderContactData, Set("NULL")),
            pd("billing_address", C::Address, FULFIL, R::OrderContactData, Set("NULL")),
            pd("note", C::Communication, FULFIL, R::OrderContactData, Set("NULL")),
            no("idempotency_key"),
            no("request_hash"),
            no("hold_until"),
            sale("placed_at"),
            no("updated_at"),
            no("version"),
            pd("country", C::Address, BOOKS, R::Accounting, Keep),
        ],
    },
    TableClass {
        table: "credit_notes",
        description: "money given back without an order to return it against",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            pseudonym("customer_id", BOOKS, R::Accounting),
            no("currency"),
            sale("amount_e4"),
            sale("reason"),
            sale("lines"),
            pd("country", C::Address, BOOKS, R::Accounting, Keep),
            sale("issued_at"),
            no("created_at"),
        ],
    },
    TableClass {
        table: "customer_merges",
        description: "the record of merged duplicate customers",
        subject: Some("survivor_id = ?1 OR merged_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("seq"),
            pseudonym("survivor_id", ACCOUNT, R::AuditTrail),
            pseudonym("merged_id", ACCOUNT, R::AuditTrail),
            no("merged_at"),
            staff("actor_id"),
            no("moved"),
            no("fields"),
        ],
    },
    TableClass {
        table: "import_keys",
        description: "which record each imported key became",
        // One IN over the customer and their orders rather than an OR: the
        // planner then always searches the entity_id index, where an OR
        // may be planned as a scan of the whole table.
        subject: Some("entity_id IN (SELECT ?1 UNION ALL SELECT id FROM orders WHERE customer_id = ?1)"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("source"),
            no("entity"),
            // The source system's id for the person: kept after erasure so
            // that importing the same file again does not bring them back.
            pseudonym("key", ACCOUNT, R::AuditTrail),
            no("entity_id"),
            no("imported_at"),
        ],
    },
    TableClass {
        table: "audit_log",
        description: "the audit trail: who changed which record when (field names, no values)",
        subject: Some(
            "(entity_type = 'customer' AND entity_id = ?1) \
             OR (entity_type = 'order' AND entity_id IN (SELECT id FROM orders WHERE customer_id = ?1)) \
             OR (entity_type = 'address' AND entity_id IN (SELECT id FROM customer_addresses WHERE customer_id = ?1)) \
             OR (entity_type = 'interaction' AND entity_id IN (SELECT id FROM customer_interactions WHERE customer_id = ?1))",
        ),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("seq"),
            no("at"),
            staff("actor_id"),
            staff("actor_name"),
            no("action"),
            no("entity_type"),
            pseudonym("entity_id", ACCOUNTABLE, R::AuditTrail),
            no("changed_fields"),
            no("prev_hash"),
            no("hash"),
        ],
    },
    TableClass {
        table: "privacy_erasures",
        description: "the record of erasures (no personal data)",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("seq"),
            pseudonym("customer_id", ACCOUNTABLE, R::AuditTrail),
            no("erased_at"),
            staff("actor_id"),
            no("ground"),
            no("rows"),
        ],
    },
    TableClass {
        table: "customers",
        description: "customer profiles",
        subject: Some("id = ?1"),
        rows: RowErasure::KeepRows,
        retention: Some(TableRetention {
            category: super::RetentionCategory::InactiveCustomers,
            // The last sign of life: a change, an order, an interaction or a
            // consent event.
            // (The largest of four, written as one aggregate so that both
            // engines read it: SQLite has no GREATEST, PostgreSQL no
            // multi-argument max.)
            age: "(SELECT max(t) FROM (SELECT customers.updated_at AS t \
                  UNION ALL SELECT max(o.placed_at) FROM orders o WHERE o.customer_id = customers.id \
                  UNION ALL SELECT max(i.occurred_at) FROM customer_interactions i WHERE i.customer_id = customers.id \
                  UNION ALL SELECT max(e.occurred_at) FROM consent_events e WHERE e.customer_id = customers.id) AS last_signs)",
            action: RetentionAction::EraseSubject,
        }),
        columns: &[
            no("pk"),
            pseudonym("id", ACCOUNT, R::Accounting),
            pd("display_name", C::Identity, ACCOUNT, R::UntilErasure, Set("'Erased customer'")),
            pd("given_name", C::Identity, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("family_name", C::Identity, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("email", C::Contact, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("phone", C::Contact, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("company", C::Identity, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("locale", C::Demographic, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("birth_date", C::Demographic, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("acquisition_source", C::Profile, ACCOUNT, R::UntilErasure, Set("NULL")),
            pd("attributes", C::Profile, ACCOUNT, R::UntilErasure, Set("'{}'")),
            pd("notes", C::Profile, ACCOUNT, R::UntilErasure, Set("NULL")),
            no("created_at"),
            no("updated_at"),
            no("version"),
            no("archived_at"),
            no("erased_at"),
            no("merged_into"),
        ],
    },
    // The full-text index over customers: its triggers follow every change
    // of the customers table, and erasure merges its segments ('optimize')
    // so that no erased term survives in them.
    TableClass {
        table: "customers_fts",
        description: "full-text index of customer names, email, company and notes",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            pd("display_name", C::Identity, SEARCH, R::Derived, Derived),
            pd("given_name", C::Identity, SEARCH, R::Derived, Derived),
            pd("family_name", C::Identity, SEARCH, R::Derived, Derived),
            pd("email", C::Contact, SEARCH, R::Derived, Derived),
            pd("company", C::Identity, SEARCH, R::Derived, Derived),
            pd("notes", C::Profile, SEARCH, R::Derived, Derived),
        ],
    },
    TableClass {
        table: "customers_fts_data",
        description: "the full-text index's segments",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("id"), pd("block", C::Identity, SEARCH, R::Derived, Derived)],
    },
    TableClass {
        table: "customers_fts_idx",
        description: "the full-text index's segment directory",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("segid"), pd("term", C::Identity, SEARCH, R::Derived, Derived), no("pgno")],
    },
    TableClass {
        table: "customers_fts_docsize",
        description: "the full-text index's document sizes",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("id"), no("sz")],
    },
    TableClass {
        table: "customers_fts_config",
        description: "the full-text index's settings",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("k"), no("v")],
    },
    TableClass {
        table: "stock_movements",
        description: "the stock ledger",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("seq"),
            no("variant_id"),
            no("warehouse_id"),
            no("kind"),
            no("on_hand_delta"),
            no("reserved_delta"),
            no("reason"),
            no("reservation_id"),
            no("order_id"),
            no("transfer_id"),
            no("at"),
            staff("actor_id"),
        ],
    },
    TableClass {
        table: "stock_reservations",
        description: "stock held for orders",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("variant_id"),
            no("warehouse_id"),
            no("order_id"),
            no("order_line_id"),
            no("quantity"),
            no("open_quantity"),
            no("expires_at"),
            no("created_at"),
            no("closed_at"),
            no("closed_reason"),
        ],
    },
    TableClass {
        table: "stock_levels",
        description: "stock balances",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("variant_id"),
            no("warehouse_id"),
            no("on_hand"),
            no("reserved"),
            no("allow_backorder"),
        ],
    },
    TableClass {
        table: "replenishment_rules",
        description: "reorder rules",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("variant_id"),
            no("warehouse_id"),
            no("reorder_point"),
            no("target_level"),
            no("order_multiple"),
            no("updated_at"),
        ],
    },
    TableClass {
        table: "warehouses",
        description: "stock locations (business addresses)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("code"),
            no("name"),
            no("line1"),
            no("city"),
            no("postal_code"),
            no("country"),
            no("priority"),
            no("created_at"),
            no("updated_at"),
            no("archived_at"),
        ],
    },
    TableClass {
        table: "product_variants",
        description: "the catalog's variants",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("product_id"),
            no("sku"),
            no("title"),
            no("options"),
            no("barcode"),
            no("price_e4"),
            no("currency"),
            no("track_stock"),
            no("allow_backorder"),
            no("created_at"),
            no("updated_at"),
            no("version"),
            no("archived_at"),
            no("tax_class"),
        ],
    },
    TableClass {
        table: "products",
        description: "the catalog's products",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("name"),
            no("description"),
            no("created_at"),
            no("updated_at"),
            no("version"),
            no("archived_at"),
            no("status"),
        ],
    },
    TableClass {
        table: "product_media",
        description: "references (URLs or paths) to products' images and documents",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("product_id"),
            no("kind"),
            no("reference"),
            no("alt_text"),
            no("position"),
            no("created_at"),
        ],
    },
    TableClass {
        table: "categories",
        description: "the catalog's category tree",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("parent_id"),
            no("name"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "product_categories",
        description: "which categories each product is in",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("product_id"), no("category_id")],
    },
    TableClass {
        table: "collections",
        description: "the catalog's collections (hand-ordered product lists)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("name"),
            no("description"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "collection_products",
        description: "the products of each collection, in order",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("collection_id"), no("product_id"), no("position")],
    },
    TableClass {
        table: "product_search",
        description: "the text product search reads (title, description, SKUs, barcodes, \
                      category names), derived from the catalog",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("pk"),
            no("product_id"),
            no("title"),
            no("description"),
            no("codes"),
            no("categories"),
        ],
    },
    // The product search's FTS5 index (SQLite): catalog text only.
    TableClass {
        table: "products_fts",
        description: "full-text index of product titles, descriptions, codes and categories",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("title"),
            no("description"),
            no("codes"),
            no("categories"),
        ],
    },
    TableClass {
        table: "products_fts_data",
        description: "the product index's segments",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("id"), no("block")],
    },
    TableClass {
        table: "products_fts_idx",
        description: "the product index's segment directory",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("segid"), no("term"), no("pgno")],
    },
    TableClass {
        table: "products_fts_docsize",
        description: "the product index's document sizes",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("id"), no("sz")],
    },
    TableClass {
        table: "products_fts_config",
        description: "the product index's settings",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("k"), no("v")],
    },
    TableClass {
        table: "tax_classes",
        description: "tax classes (products taxed alike)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("key"), no("name")],
    },
    TableClass {
        table: "tax_rates",
        description: "tax rates by country, region and class",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("country"),
            no("region"),
            no("tax_class"),
            no("rate_ppm"),
            no("name"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "customer_groups",
        description: "customer groups (the groups, not their members)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("key"),
            no("name"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "price_lists",
        description: "price lists",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("key"),
            no("name"),
            no("currency"),
            no("prices_include_tax"),
            no("customer_group_id"),
            no("valid_from"),
            no("valid_until"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "promotions",
        description: "promotions (what they take off, and when)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("key"),
            no("name"),
            no("effect"),
            no("percent_e2"),
            no("amount_e4"),
            no("buy_quantity"),
            no("get_quantity"),
            no("currency"),
            no("min_subtotal_e4"),
            no("first_order_only"),
            no("requires_coupon"),
            no("exclusive"),
            no("priority"),
            no("starts_at"),
            no("ends_at"),
            no("active"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "promotion_conditions",
        description: "the products, categories and customer groups a promotion names",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("promotion_id"), no("kind"), no("target_id")],
    },
    TableClass {
        table: "coupons",
        description: "coupon codes and their limits (codes name no one)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("code"),
            no("promotion_id"),
            no("usage_limit"),
            no("per_customer_limit"),
            no("uses"),
            no("starts_at"),
            no("ends_at"),
            no("active"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "promotion_redemptions",
        description: "the promotions each order got, kept with the order's books",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("promotion_id"),
            no("coupon_id"),
            no("order_id"),
            no("currency"),
            sale("discount_e4"),
            sale("shipping_discount_e4"),
            no("redeemed_at"),
            no("released_at"),
        ],
    },
    TableClass {
        table: "gift_cards",
        description: "gift cards: a bearer instrument, kept by a hash of its code (names no one)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("code_sha256"),
            no("code_last4"),
            no("currency"),
            no("initial_e4"),
            no("balance_e4"),
            no("expires_at"),
            no("active"),
            no("note"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "gift_card_entries",
        description: "each gift card's ledger: issued, paid an order, refunded, adjusted",
        subject: Some(VIA_ORDER),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("gift_card_id"),
            no("seq"),
            no("kind"),
            sale("amount_e4"),
            no("balance_e4"),
            no("order_id"),
            no("payment_id"),
            no("refund_id"),
            no("reason"),
            no("created_at"),
        ],
    },
    TableClass {
        table: "store_credit_accounts",
        description: "what the shop owes each customer as store credit, by currency",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("customer_id"),
            no("currency"),
            sale("balance_e4"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "store_credit_entries",
        description: "each store credit ledger: credit notes, refunds, spending, adjustments, merges",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("customer_id"),
            no("currency"),
            no("seq"),
            no("kind"),
            sale("amount_e4"),
            no("balance_e4"),
            no("order_id"),
            no("payment_id"),
            no("refund_id"),
            no("credit_note_id"),
            no("other_customer_id"),
            no("reason"),
            no("created_at"),
        ],
    },
    TableClass {
        table: "loyalty_rules",
        description: "how many points a paid order earns and what a point is worth, by currency",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("currency"),
            no("points_per_unit_e4"),
            no("point_value_e4"),
            no("expires_after_days"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "loyalty_accounts",
        description: "each customer's loyalty points",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("customer_id"),
            no("points"),
            no("created_at"),
            no("updated_at"),
            no("version"),
        ],
    },
    TableClass {
        table: "loyalty_entries",
        description: "each customer's points ledger: earned, taken back, spent, refunded, adjusted, expired, merged",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("customer_id"),
            no("seq"),
            no("kind"),
            no("points"),
            no("balance"),
            no("order_id"),
            no("payment_id"),
            no("refund_id"),
            no("other_customer_id"),
            no("currency"),
            sale("base_e4"),
            no("expires_at"),
            no("reason"),
            no("created_at"),
        ],
    },
    TableClass {
        table: "loyalty_lots",
        description: "what is left of each grant of points, and when it expires",
        subject: Some("customer_id = ?1"),
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("customer_id"),
            no("seq"),
            no("points_left"),
            no("expires_at"),
        ],
    },
    TableClass {
        table: "price_list_prices",
        description: "the prices of each price list, by variant and quantity break",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("price_list_id"),
            no("variant_id"),
            no("min_quantity"),
            no("price_e4"),
        ],
    },
    TableClass {
        table: "consent_purposes",
        description: "purposes of processing",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("description"),
            no("lawful_basis"),
            no("consent_required"),
            no("data_categories"),
            no("created_at"),
        ],
    },
    TableClass {
        table: "consent_notices",
        description: "the notice texts people were shown",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("hash"), no("version"), no("text"), no("created_at")],
    },
    TableClass {
        table: "retention_rules",
        description: "retention periods",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("category"), no("period_days"), no("updated_at")],
    },
    TableClass {
        table: "privacy_erasure_in_progress",
        description: "set only inside an erasure's transaction",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("one")],
    },
    TableClass {
        table: "access_roles",
        description: "roles the application defined",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("name"),
            no("permissions"),
            no("consent_scope"),
            no("created_at"),
            no("updated_at"),
        ],
    },
    TableClass {
        table: "access_grants",
        description: "which roles each staff actor holds",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[staff("actor_id"), no("role"), no("granted_at"), staff("granted_by")],
    },
    TableClass {
        table: "customer_merge_in_progress",
        description: "set only inside a merge's transaction",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("one")],
    },
    TableClass {
        table: "change_events",
        description: "the change feed: what changed, by id and business facts (field names, \
                      statuses, amounts, quantities), never personal data; pruned by the \
                      feed's retention (docs/CHANGES.md)",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("position"),
            no("at"),
            staff("actor_id"),
            no("kind"),
            no("entity_id"),
            no("facts"),
        ],
    },
    TableClass {
        table: "change_consumers",
        description: "the change feed's consumers and their acknowledged positions",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("name"),
            no("position"),
            no("created_at"),
            no("acknowledged_at"),
        ],
    },
    TableClass {
        table: "change_feed",
        description: "the change feed's pruning point and retention settings",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[
            no("id"),
            no("pruned_through"),
            no("retention_s"),
            no("unacknowledged_retention_s"),
        ],
    },
    TableClass {
        table: "change_feed_watermark",
        description: "the change feed's watermark on PostgreSQL",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("id"), no("visible_through")],
    },
    TableClass {
        table: "saved_segments",
        description: "named segment definitions",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("name"), no("definition"), no("created_at"), no("updated_at")],
    },
    TableClass {
        table: "custdb_migrations",
        description: "applied schema migrations",
        subject: None,
        rows: RowErasure::KeepRows,
        retention: None,
        columns: &[no("version"), no("name"), no("checksum"), no("applied_at")],
    },
];

/// The map rendered as the record of processing (GDPR Art. 30): one row per
/// column that holds personal data. docs/PRIVACY.md carries this text, and a
/// test keeps it in step.
pub fn record_of_processing() -> String {
    let mut out = String::from(
        "| table | column | category | purpose | retention | on erasure |\n|---|---|---|---|---|---|\n",
    );
    for t in PERSONAL_DATA_MAP {
        for c in t.personal_columns() {
            let erasure = match (t.rows, c.erasure) {
                (_, Erasure::Derived) => "follows its source".to_owned(),
                (RowErasure::DeleteRows, _) => "row deleted".to_owned(),
                (RowErasure::KeepRows, Erasure::Keep) => "kept".to_owned(),
                (RowErasure::KeepRows, Erasure::Set(expr)) => format!("set to `{expr}`"),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                t.table,
                c.column,
                c.category.map_or("-", DataCategory::as_str),
                c.purpose,
                c.retention.describe(),
                erasure
            ));
        }
    }
    out
}
