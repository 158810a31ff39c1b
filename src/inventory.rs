//! Inventory: warehouses, the append-only stock ledger, balances,
//! reservations and replenishment.
//!
//! Every change of stock is a row of `stock_movements`; a trigger applies
//! it to the balance of its (variant, warehouse) in `stock_levels` in the
//! same statement, so a balance cannot move without a ledger row. SQL
//! `CHECK` constraints on the balance refuse a negative on-hand or reserved
//! count and an available count (`on_hand - reserved`) below zero unless the
//! variant allows backorders. custdb checks the same rules first, so a caller
//! gets a [`Shortfall`](crate::ErrorKind::Shortfall) naming the SKU and the
//! quantities instead of a constraint error.
//!
//! Reservations may expire. An expired reservation never counts against
//! availability: reads subtract it, and every write that needs stock first
//! releases the expired reservations of that variant (see
//! [`Inventory::release_expired`]). Variants that do not track stock have no
//! ledger at all.

use chrono::{DateTime, Utc};

use crate::audit::Change;
use crate::catalog::{CatalogReader, Variant};
use crate::db::{sql, Conn, Row};
use crate::error::{Error, ErrorKind, Result};
use crate::id::{OrderId, OrderLineId, ReservationId, TransferId, VariantId, WarehouseId};
use crate::page::{check_limit, into_page, Cursor, Page};
use crate::text_enum::text_enum;
use crate::unit::{CheckReport, WriteTx};
use crate::validate;

/// Longest warehouse code, in characters.
pub const MAX_WAREHOUSE_CODE_LEN: usize = 32;
/// Longest warehouse name, in characters.
pub const MAX_WAREHOUSE_NAME_LEN: usize = 200;
/// Highest warehouse priority number.
pub const MAX_PRIORITY: i64 = 1_000_000;
/// Largest quantity one movement may move.
pub const MAX_MOVE_QUANTITY: i64 = 1_000_000_000;
/// Longest movement reason, in characters.
pub const MAX_REASON_LEN: usize = 200;

text_enum!(
    /// What a stock movement did.
    MovementKind {
        /// Goods received into a warehouse (on hand up).
        Receipt = "receipt",
        /// A manual correction with a reason (on hand up or down).
        Adjustment = "adjustment",
        /// Stock held for an order or a cart (reserved up).
        Reservation = "reservation",
        /// A hold given back (reserved down).
        Release = "release",
        /// Reserved goods left the warehouse (on hand and reserved down).
        Shipment = "shipment",
        /// Returned goods put back on the shelf (on hand up).
        Return = "return",
        /// Goods sent to another warehouse (on hand down).
        TransferOut = "transfer_out",
        /// Goods arrived from another warehouse (on hand up).
        TransferIn = "transfer_in",
        /// A stock count's correction to the counted quantity.
        Count = "count",
    }
);

/// A stock location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Warehouse {
    /// The id.
    pub id: WarehouseId,
    /// A short unique code, upper case (e.g. `LON`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Street line.
    pub line1: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// Allocation order: lower numbers are tried first.
    pub priority: i64,
}

/// A warehouse to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewWarehouse {
    /// Code (required, unique; letters, digits, `-` and `_`).
    pub code: String,
    /// Name (required).
    pub name: String,
    /// Street line.
    #[serde(default)]
    pub line1: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Priority, 0 to [`MAX_PRIORITY`]; lower is tried first.
    #[serde(default)]
    pub priority: i64,
}
crate::input::strict_serde!(NewWarehouse);

impl NewWarehouse {
    /// A warehouse with this code and name, priority 0.
    pub fn new(code: impl Into<String>, name: impl Into<String>) -> Self {
        NewWarehouse {
            code: code.into(),
            name: name.into(),
            ..NewWarehouse::default()
        }
    }

    /// Sets the address.
    pub fn address(
        mut self,
        line1: impl Into<String>,
        city: impl Into<String>,
        postal_code: impl Into<String>,
        country: impl Into<String>,
    ) -> Self {
        self.line1 = Some(line1.into());
        self.city = Some(city.into());
        self.postal_code = Some(postal_code.into());
        self.country = Some(country.into());
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }
}

/// One row of the stock ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Movement {
    /// Position in the ledger.
    pub seq: i64,
    /// The variant.
    pub variant_id: VariantId,
    /// The warehouse.
    pub warehouse_id: WarehouseId,
    /// What happened.
    pub kind: MovementKind,
    /// Change of the on-hand count.
    pub on_hand_delta: i64,
    /// Change of the reserved count.
    pub reserved_delta: i64,
    /// Why (adjustments, counts).
    pub reason: Option<String>,
    /// The reservation it belongs to.
    pub reservation_id: Option<ReservationId>,
    /// The order it belongs to.
    pub order_id: Option<OrderId>,
    /// The transfer it belongs to.
    pub transfer_id: Option<TransferId>,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor_id: String,
}

/// The balance of one variant in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct StockLevel {
    /// The variant.
    pub variant_id: VariantId,
    /// Its SKU.
    pub sku: String,
    /// The warehouse.
    pub warehouse_id: WarehouseId,
    /// Its code.
    pub warehouse_code: String,
    /// Units in the warehouse.
    pub on_hand: i64,
    /// Units held by reservations that have not expired.
    pub reserved: i64,
    /// `on_hand - reserved`: what can still be promised (negative only for
    /// backordered variants).
    pub available: i64,
}

/// Stock held for an order line or a cart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Reservation {
    /// The id.
    pub id: ReservationId,
    /// The variant.
    pub variant_id: VariantId,
    /// The warehouse.
    pub warehouse_id: WarehouseId,
    /// The order, for order reservations.
    pub order_id: Option<OrderId>,
    /// Units reserved at the start.
    pub quantity: i64,
    /// Units still held (0 once shipped, released or expired).
    pub open_quantity: i64,
    /// When the hold lapses, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stopped holding anything.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why: `shipped`, `released`, `expired` or `cancelled`.
    pub closed_reason: Option<String>,
}

/// A replenishment rule for one variant in one warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ReplenishmentRule {
    /// Reorder when available falls to this or below.
    pub reorder_point: i64,
    /// Order up to this level; also the line above which stock is overstock.
    pub target_level: i64,
    /// Order in multiples of this (a case of 12).
    pub order_multiple: i64,
}
crate::input::strict_serde!(ReplenishmentRule);

/// One line of the replenishment, low-stock or overstock report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct StockReportLine {
    /// The balance.
    pub level: StockLevel,
    /// The rule it was judged by.
    pub rule: ReplenishmentRule,
    /// For suggestions: units to order (a multiple of `order_multiple` that
    /// brings available to the target or just above); for overstock: units
    /// on hand above the target; for low stock: units below the reorder
    /// point plus one.
    pub quantity: i64,
}

macro_rules! select_level {
    () => {
        "SELECT l.variant_id, v.sku, l.warehouse_id, w.code, l.on_hand, \
         l.reserved - CAST(coalesce((SELECT sum(r.open_quantity) FROM stock_reservations r \
           WHERE r.variant_id = l.variant_id AND r.warehouse_id = l.warehouse_id \
           AND r.open_quantity > 0 AND r.expires_at <= ?1), 0) AS bigint) \
         FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id \
         JOIN warehouses w ON w.id = l.warehouse_id "
    };
}

fn level_from_row(row: &Row<'_>) -> Result<StockLevel> {
    let on_hand: i64 = row.get(4)?;
    let reserved: i64 = row.get(5)?;
    Ok(StockLevel {
        variant_id: row.get(0)?,
        sku: row.get(1)?,
        warehouse_id: row.get(2)?,
        warehouse_code: row.get(3)?,
        on_hand,
        reserved,
        available: on_hand - reserved,
    })
}

macro_rules! select_warehouse {
    () => {
        "SELECT id, code, name, line1, city, postal_code, country, priority FROM warehouses "
    };
}

fn warehouse_from_row(row: &Row<'_>) -> Result<Warehouse> {
    Ok(Warehouse {
        id: row.get(0)?,
        code: row.get(1)?,
        name: row.get(2)?,
        line1: row.get(3)?,
        city: row.get(4)?,
        postal_code: row.get(5)?,
        country: row.get(6)?,
        priority: row.get(7)?,
    })
}

macro_rules! select_movement {
    () => {
        "SELECT seq, variant_id, warehouse_id, kind, on_hand_delta, reserved_delta, reason, \
         reservation_id, order_id, transfer_id, at, actor_id FROM stock_movements "
    };
}

fn movement_from_row(row: &Row<'_>) -> Result<Movement> {
    Ok(Movement {
        seq: row.get(0)?,
        variant_id: row.get(1)?,
        warehouse_id: row.get(2)?,
        kind: row.get(3)?,
        on_hand_delta: row.get(4)?,
        reserved_delta: row.get(5)?,
        reason: row.get(6)?,
        reservation_id: row.get(7)?,
        order_id: row.get(8)?,
        transfer_id: row.get(9)?,
        at: row.get(10)?,
        actor_id: row.get(11)?,
    })
}

macro_rules! select_reservation {
    () => {
        "SELECT id, variant_id, warehouse_id, order_id, quantity, open_quantity, expires_at, \
         created_at, closed_at, closed_reason FROM stock_reservations "
    };
}

fn reservation_from_row(row: &Row<'_>) -> Result<Reservation> {
    Ok(Reservation {
        id: row.get(0)?,
        variant_id: row.get(1)?,
        warehouse_id: row.get(2)?,
        order_id: row.get(3)?,
        quantity: row.get(4)?,
        open_quantity: row.get(5)?,
        expires_at: row.get(6)?,
        created_at: row.get(7)?,
        closed_at: row.get(8)?,
        closed_reason: row.get(9)?,
    })
}

/// Read access to inventory.
#[derive(Debug)]
pub struct InventoryReader<'a> {
    db: Conn<'a>,
}

impl<'a> InventoryReader<'a> {
    pub(crate) fn new(db: Conn<'a>) -> Self {
        InventoryReader { db }
    }

    /// A warehouse by id.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn warehouse(&self, id: WarehouseId) -> Result<Warehouse> {
        self.db
            .query_opt(
                sql!(concat!(select_warehouse!(), "WHERE id = ?1")),
                &[&id],
                warehouse_from_row,
            )?
            .ok_or_else(|| Error::not_found("warehouse", id))
    }

    /// A warehouse by code (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown code.
    pub fn warehouse_by_code(&self, code: &str) -> Result<Warehouse> {
        let code = code.trim().to_uppercase();
        self.db
            .query_opt(
                sql!(concat!(select_warehouse!(), "WHERE code = ?1")),
                &[&code],
                warehouse_from_row,
            )?
            .ok_or_else(|| Error::not_found("warehouse", format!("with code {code:?}")))
    }

    /// Every warehouse, in allocation order (priority, then code).
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn warehouses(&self) -> Result<Vec<Warehouse>> {
        self.db.query_vec(
            sql!(concat!(
                select_warehouse!(),
                "WHERE archived_at IS NULL ORDER BY priority, code"
            )),
            &[],
            warehouse_from_row,
        )
    }

    /// The balance of a variant in a warehouse; zeros when nothing ever
    /// moved there. Reservations that have expired are not counted.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown variant or warehouse.
    pub fn level(&self, variant_id: VariantId, warehouse_id: WarehouseId) -> Result<StockLevel> {
        let found = self.db.query_opt(
            sql!(concat!(
                select_level!(),
                "WHERE l.variant_id = ?2 AND l.warehouse_id = ?3"
            )),
            &[&crate::time::now(), &variant_id, &warehouse_id],
            level_from_row,
        )?;
        match found {
            Some(level) => Ok(level),
            None => {
                let variant = CatalogReader::new(self.db).variant(variant_id)?;
                let warehouse = self.warehouse(warehouse_id)?;
                Ok(StockLevel {
                    variant_id,
                    sku: variant.sku,
                    warehouse_id,
                    warehouse_code: warehouse.code,
                    on_hand: 0,
                    reserved: 0,
                    available: 0,
                })
            }
        }
    }

    /// A variant's balances in every warehouse that ever held it, in
    /// allocation order.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn levels(&self, variant_id: VariantId) -> Result<Vec<StockLevel>> {
        self.db.query_vec(
            sql!(concat!(
                select_level!(),
                "WHERE l.variant_id = ?2 AND w.archived_at IS NULL ORDER BY w.priority, w.code"
            )),
            &[&crate::time::now(), &variant_id],
            level_from_row,
        )
    }

    /// Every active warehouse in allocation order (priority, then code),
    /// with what it has available of a variant at `now`: one statement per
    /// order line, so placement reads each variant's stock once.
    pub(crate) fn allocation_candidates(
        &self,
        variant_id: VariantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<(WarehouseId, i64)>> {
        self.db
            .query_vec(sql!(sql::ALLOCATION), &[&variant_id, &now], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
    }

    /// Units of a variant available across all warehouses.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn available(&self, variant_id: VariantId) -> Result<i64> {
        Ok(self.levels(variant_id)?.iter().map(|l| l.available).sum())
    }

    /// A variant's ledger, oldest first, after the cursor.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] for a bad cursor or limit.
    pub fn movements(
        &self,
        variant_id: VariantId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Movement>> {
        let limit = check_limit(limit)?;
        let after_seq: i64 = match after {
            None => 0,
            Some(c) => c
                .key()?
                .parse()
                .map_err(|_| Error::invalid("cursor", "is not a movement cursor"))?,
        };
        let items = self.db.query_vec(
            sql!(concat!(
                select_movement!(),
                "WHERE variant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            )),
            &[&variant_id, &after_seq, &(limit + 1)],
            movement_from_row,
        )?;
        Ok(into_page(items, limit, |m| m.seq.to_string()))
    }

    /// The movements written for an order, in ledger order.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn movements_of_order(&self, order_id: OrderId) -> Result<Vec<Movement>> {
        self.db.query_vec(
            sql!(concat!(
                select_movement!(),
                "WHERE order_id = ?1 ORDER BY seq"
            )),
            &[&order_id],
            movement_from_row,
        )
    }

    /// A reservation.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown id.
    pub fn reservation(&self, id: ReservationId) -> Result<Reservation> {
        self.db
            .query_opt(
                sql!(concat!(select_reservation!(), "WHERE id = ?1")),
                &[&id],
                reservation_from_row,
            )?
            .ok_or_else(|| Error::not_found("reservation", id))
    }

    pub(crate) fn open_reservations_of_line(&self, line: OrderLineId) -> Result<Vec<Reservation>> {
        self.db.query_vec(
            sql!(sql::OPEN_RESERVATIONS_OF_LINE),
            &[&line],
            reservation_from_row,
        )
    }

    pub(crate) fn reservations_of_line(&self, line: OrderLineId) -> Result<Vec<Reservation>> {
        self.db.query_vec(
            sql!(concat!(
                select_reservation!(),
                "WHERE order_line_id = ?1 ORDER BY rowid"
            )),
            &[&line],
            reservation_from_row,
        )
    }

    fn report(&self, statement: &crate::db::Sql) -> Result<Vec<(StockLevel, ReplenishmentRule)>> {
        self.db.query_vec(statement, &[&crate::time::now()], |row| {
            Ok((
                level_from_row(row)?,
                ReplenishmentRule {
                    reorder_point: row.get(6)?,
                    target_level: row.get(7)?,
                    order_multiple: row.get(8)?,
                },
            ))
        })
    }

    /// What to order: every (variant, warehouse) with a rule whose available
    /// count is at or below the reorder point, with the quantity that brings
    /// it to the target, rounded up to the order multiple. Sorted by
    /// warehouse code, then SKU.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn replenishment_suggestions(&self) -> Result<Vec<StockReportLine>> {
        Ok(self
            .report(sql!(sql::LOW_STOCK))?
            .into_iter()
            .map(|(level, rule)| {
                let short = rule.target_level - level.available;
                // short > 0: available is at or below the reorder point, below the target.
                let quantity =
                    (short + rule.order_multiple - 1) / rule.order_multiple * rule.order_multiple;
                StockReportLine {
                    level,
                    rule,
                    quantity,
                }
            })
            .collect())
    }

    /// Variants at or below their reorder point; `quantity` is how far below
    /// (0 when exactly at it).
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn low_stock(&self) -> Result<Vec<StockReportLine>> {
        Ok(self
            .report(sql!(sql::LOW_STOCK))?
            .into_iter()
            .map(|(level, rule)| StockReportLine {
                quantity: rule.reorder_point - level.available,
                level,
                rule,
            })
            .collect())
    }

    /// Variants with more on hand than their target level; `quantity` is the
    /// excess.
    ///
    /// # Errors
    ///
    /// A database error.
    pub fn overstock(&self) -> Result<Vec<StockReportLine>> {
        Ok(self
            .report(sql!(sql::OVERSTOCK))?
            .into_iter()
            .map(|(level, rule)| StockReportLine {
                quantity: level.on_hand - rule.target_level,
                level,
                rule,
            })
            .collect())
    }
}

/// Inventory inside a unit of work.
#[derive(Debug)]
pub struct Inventory<'t> {
    tx: &'t WriteTx<'t>,
    reader: InventoryReader<'t>,
}

impl<'t> std::ops::Deref for Inventory<'t> {
    type Target = InventoryReader<'t>;
    fn deref(&self) -> &InventoryReader<'t> {
        &self.reader
    }
}

/// One movement to write.
pub(crate) struct Move<'v> {
    pub variant: &'v Variant,
    pub warehouse_id: WarehouseId,
    pub kind: MovementKind,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub reason: Option<&'v str>,
    pub reservation_id: Option<ReservationId>,
    pub order_id: Option<OrderId>,
    pub transfer_id: Option<TransferId>,
}

impl<'v> Move<'v> {
    pub(crate) fn new(
        variant: &'v Variant,
        warehouse_id: WarehouseId,
        kind: MovementKind,
        on_hand_delta: i64,
        reserved_delta: i64,
    ) -> Self {
        Move {
            variant,
            warehouse_id,
            kind,
            on_hand_delta,
            reserved_delta,
            reason: None,
            reservation_id: None,
            order_id: None,
            transfer_id: None,
        }
    }
}

fn quantity(field: &str, value: i64) -> Result<i64> {
    if value <= 0 {
        return Err(Error::invalid(
            field,
            format!("is {value}, must be above 0"),
        ));
    }
    if value > MAX_MOVE_QUANTITY {
        return Err(Error::invalid(
            field,
            format!("is {value}, at most {MAX_MOVE_QUANTITY}"),
        ));
    }
    Ok(value)
}

impl<'t> Inventory<'t> {
    pub(crate) fn new(tx: &'t WriteTx<'t>) -> Self {
        Inventory {
            tx,
            reader: InventoryReader::new(tx.db()),
        }
    }

    /// Creates a warehouse.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming the field (`code`, `name`, `country`,
    /// `priority`); [`ErrorKind::AlreadyExists`] for a taken code.
    pub fn create_warehouse(&self, new: NewWarehouse) -> Result<Warehouse> {
        self.tx.atomic(|| {
            let code =
                validate::required_text("code", &new.code, MAX_WAREHOUSE_CODE_LEN)?.to_uppercase();
            if !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Error::invalid(
                    "code",
                    "may hold only ASCII letters, digits, '-' and '_'",
                ));
            }
            let name = validate::required_text("name", &new.name, MAX_WAREHOUSE_NAME_LEN)?;
            let line1 = validate::optional_text("line1", new.line1.as_deref(), 200)?;
            let city = validate::optional_text("city", new.city.as_deref(), 100)?;
            let postal_code =
                validate::optional_text("postal_code", new.postal_code.as_deref(), 20)?;
            let country = new
                .country
                .as_deref()
                .map(|c| validate::country("country", c))
                .transpose()?;
            if !(0..=MAX_PRIORITY).contains(&new.priority) {
                return Err(Error::invalid(
                    "priority",
                    format!("is {}, must be between 0 and {MAX_PRIORITY}", new.priority),
                ));
            }
            if self.warehouse_by_code(&code).is_ok() {
                return Err(Error::new(ErrorKind::AlreadyExists {
                    entity: "warehouse",
                    field: "code",
                }));
            }
            let id = WarehouseId::new();
            self.tx
                .db()
                .execute(
                    sql!(
                        "INSERT INTO warehouses (id, code, name, line1, city, postal_code, \
                         country, priority, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
                    ),
                    &[
                        &id,
                        &code,
                        &name,
                        &line1,
                        &city,
                        &postal_code,
                        &country,
                        &new.priority,
                        &self.tx.now(),
                    ],
                )
                .map_err(|e| match e.violated_unique() {
                    // Another server took the code between the check and here.
                    Some(_) => Error::new(ErrorKind::AlreadyExists {
                        entity: "warehouse",
                        field: "code",
                    }),
                    None => e,
                })?;
            self.tx.audit_change(Change {
                action: "create",
                entity_type: "warehouse",
                entity_id: &id.to_string(),
                changed_fields: &["code", "name", "address", "priority"],
            })?;
            self.warehouse(id)
        })
    }

    /// Changes a warehouse's allocation priority.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`], or [`ErrorKind::Invalid`] on `priority`.
    pub fn set_warehouse_priority(&self, id: WarehouseId, priority: i64) -> Result<Warehouse> {
        self.tx.atomic(|| {
            self.warehouse(id)?;
            if !(0..=MAX_PRIORITY).contains(&priority) {
                return Err(Error::invalid(
                    "priority",
                    format!("is {priority}, must be between 0 and {MAX_PRIORITY}"),
                ));
            }
            self.tx.db().execute(
                sql!("UPDATE warehouses SET priority = ?2, updated_at = ?3 WHERE id = ?1"),
                &[&id, &priority, &self.tx.now()],
            )?;
            self.tx.audit_change(Change {
                action: "update",
                entity_type: "warehouse",
                entity_id: &id.to_string(),
                changed_fields: &["priority"],
            })?;
            self.warehouse(id)
        })
    }

    /// The variant, checked to exist, be active and track stock.
    pub(crate) fn stocked_variant(&self, id: VariantId) -> Result<Variant> {
        let v = CatalogReader::new(self.tx.db()).variant(id)?;
        if !v.track_stock {
            return Err(Error::new(ErrorKind::InvalidState {
                entity: "variant",
                id: v.sku,
                reason: "does not track stock".into(),
            }));
        }
        Ok(v)
    }

    /// On PostgreSQL, locks the balances of `pairs` in one fixed order (by
    /// variant, then warehouse, as text) before a unit of work moves
    /// several of them, so that two units of work on the same balances
    /// queue instead of deadlocking (a transfer one way and one the other
    /// way, two orders with the same lines in another order). SQLite has
    /// one writer and needs none.
    pub(crate) fn lock_balances(&self, pairs: &mut [(VariantId, WarehouseId)]) -> Result<()> {
        let db = self.tx.db();
        if !db.is_postgres() {
            return Ok(());
        }
        pairs.sort_by_key(|(v, w)| (v.to_string(), w.to_string()));
        for (v, w) in pairs.iter() {
            db.lock_for_update(
                sql!(
                    postgres_only: "SELECT 1 FROM stock_levels \
                     WHERE variant_id = $1 AND warehouse_id = $2 FOR UPDATE"
                ),
                &[v, w],
            )?;
        }
        Ok(())
    }

    /// On PostgreSQL, locks a reservation's row until the unit of work
    /// ends, so that what is read of it (how much it still holds) stays
    /// true until it is closed: two servers releasing one reservation
    /// queue, and the second sees it closed.
    fn lock_reservation(&self, id: ReservationId) -> Result<()> {
        self.tx.db().lock_for_update(
            sql!(postgres_only: "SELECT 1 FROM stock_reservations WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
    }

    /// Writes one movement after checking that the balance stays legal.
    /// The trigger on `stock_movements` applies it to `stock_levels`.
    pub(crate) fn record(&self, m: Move<'_>) -> Result<Movement> {
        debug_assert!(m.variant.track_stock, "untracked variants have no ledger");
        let lowers_available = m.on_hand_delta - m.reserved_delta < 0;
        let now = self.tx.now();
        let balance = || -> Result<(i64, i64, bool)> {
            Ok(self
                .tx
                .db()
                .query_opt(
                    sql!(sqlite: sql::BALANCE, postgres: sql::BALANCE_PG),
                    &[&m.variant.id, &m.warehouse_id, &now],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
                .unwrap_or((0, 0, false)))
        };
        let (mut on_hand, mut reserved, expired) = balance()?;
        // Availability never counts an expired hold: before taking stock,
        // release the ones in this balance and read it again.
        if lowers_available && expired {
            self.release_expired_where(self.tx.now(), Some((m.variant.id, m.warehouse_id)))?;
            (on_hand, reserved, _) = balance()?;
        }
        let warehouse_code =
            || -> Result<Option<String>> { Ok(Some(self.warehouse(m.warehouse_id)?.code)) };
        if on_hand + m.on_hand_delta < 0 {
            return Err(Error::new(ErrorKind::Shortfall {
                sku: m.variant.sku.clone(),
                warehouse: warehouse_code()?,
                requested: -m.on_hand_delta,
                available: on_hand,
            }));
        }
        let available_after = on_hand + m.on_hand_delta - reserved - m.reserved_delta;
        if lowers_available && available_after < 0 && !m.variant.allow_backorder {
            return Err(Error::new(ErrorKind::Shortfall {
                sku: m.variant.sku.clone(),
                warehouse: warehouse_code()?,
                requested: m.reserved_delta - m.on_hand_delta,
                available: (on_hand - reserved).max(0),
            }));
        }
        let db = self.tx.db();
        let values: [&dyn crate::db::ToValue; 11] = [
            &m.variant.id,
            &m.warehouse_id,
            &m.kind.as_str(),
            &m.on_hand_delta,
            &m.reserved_delta,
            &m.reason,
            &m.reservation_id,
            &m.order_id,
            &m.transfer_id,
            &now,
            &self.tx.actor().id(),
        ];
        let seq = if db.is_postgres() {
            db.query_row(sql!(postgres_only: sql::INSERT_MOVEMENT_PG), &values, |r| {
                r.get(0)
            })?
        } else {
            db.execute(sql!(sql::INSERT_MOVEMENT), &values)?;
            db.as_sqlite("the ledger")?.last_insert_rowid()
        };
        // Every movement is a change-feed event with the balance after it
        // (the balance was read under the level's lock). Not the deltas:
        // they follow from two events of the same balance, and each
        // byte of an event row costs on every line of a long order
        // (docs/PERFORMANCE.md, "The change feed").
        let mut facts = crate::changes::ChangeFacts::current();
        facts.warehouse_id = Some(m.warehouse_id.to_string());
        facts.movement = Some(m.kind.as_str().to_owned());
        facts.on_hand = Some(on_hand + m.on_hand_delta);
        facts.reserved = Some(reserved + m.reserved_delta);
        facts.available = Some(available_after);
        facts.order_id = m.order_id.map(|o| o.to_string());
        crate::changes::emit(
            self.tx,
            crate::changes::ChangeKind::StockChanged,
            &m.variant.id.to_string(),
            &facts,
        )?;
        Ok(Movement {
            seq,
            variant_id: m.variant.id,
            warehouse_id: m.warehouse_id,
            kind: m.kind,
            on_hand_delta: m.on_hand_delta,
            reserved_delta: m.reserved_delta,
            reason: m.reason.map(str::to_owned),
            reservation_id: m.reservation_id,
            order_id: m.order_id,
            transfer_id: m.transfer_id,
            at: self.tx.now(),
            actor_id: self.tx.actor().id().to_owned(),
        })
    }

    /// The change-feed event of a reservation made or given back outside
    /// an order (an order's holds are in its own events).
    fn reservation_event(&self, r: &Reservation, kind: crate::changes::ChangeKind) -> Result<()> {
        let mut facts = crate::changes::ChangeFacts::current();
        facts.variant_id = Some(r.variant_id.to_string());
        facts.warehouse_id = Some(r.warehouse_id.to_string());
        facts.quantity = Some(r.quantity);
        crate::changes::emit(self.tx, kind, &r.id.to_string(), &facts)
    }

    fn audit_stock(&self, variant: &Variant, action: &str) -> Result<()> {
        self.tx.audit_change(Change {
            action,
            entity_type: "variant",
            entity_id: &variant.id.to_string(),
            changed_fields: &["stock"],
        })
    }

    /// Books goods into a warehouse.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] for an unknown variant or warehouse;
    /// [`ErrorKind::Invalid`] on `quantity` (0, negative or above
    /// [`MAX_MOVE_QUANTITY`]); [`ErrorKind::InvalidState`] for a variant that
    /// does not track stock.
    pub fn receive(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        quantity_received: i64,
    ) -> Result<Movement> {
        self.tx.atomic(|| {
            let q = quantity("quantity", quantity_received)?;
            let v = self.stocked_variant(variant_id)?;
            self.warehouse(warehouse_id)?;
            let m = self.record(Move::new(&v, warehouse_id, MovementKind::Receipt, q, 0))?;
            self.audit_stock(&v, "stock_receipt")?;
            Ok(m)
        })
    }

    /// Corrects the on-hand count by `quantity_delta` (positive or negative)
    /// for a stated reason (damaged, found, ...).
    ///
    /// # Errors
    ///
    /// As [`receive`](Inventory::receive), plus [`ErrorKind::Invalid`] on
    /// `reason` (empty or too long) and [`ErrorKind::Shortfall`] when the
    /// correction would take on-hand below zero or available below zero
    /// without backorders.
    pub fn adjust(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        quantity_delta: i64,
        reason: &str,
    ) -> Result<Movement> {
        self.tx.atomic(|| {
            if quantity_delta == 0 {
                return Err(Error::invalid("quantity_delta", "must not be 0"));
            }
            quantity("quantity_delta", quantity_delta.abs())?;
            let reason = validate::required_text("reason", reason, MAX_REASON_LEN)?;
            let v = self.stocked_variant(variant_id)?;
            self.warehouse(warehouse_id)?;
            let mut mv = Move::new(
                &v,
                warehouse_id,
                MovementKind::Adjustment,
                quantity_delta,
                0,
            );
            mv.reason = Some(&reason);
            let m = self.record(mv)?;
            self.audit_stock(&v, "stock_adjustment")?;
            Ok(m)
        })
    }

    /// Records a physical count: writes a `count` movement that brings
    /// on-hand to `counted_quantity`, or nothing when it already matches.
    ///
    /// # Errors
    ///
    /// As [`adjust`](Inventory::adjust); a count below what is reserved is a
    /// [`ErrorKind::Shortfall`] unless the variant allows backorders.
    pub fn count(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        counted_quantity: i64,
    ) -> Result<Option<Movement>> {
        self.tx.atomic(|| {
            if !(0..=MAX_MOVE_QUANTITY).contains(&counted_quantity) {
                return Err(Error::invalid(
                    "counted_quantity",
                    format!("is {counted_quantity}, must be between 0 and {MAX_MOVE_QUANTITY}"),
                ));
            }
            let v = self.stocked_variant(variant_id)?;
            // The delta is worked out from this balance: no other server may
            // move it before the count's movement is written.
            self.lock_balances(&mut [(variant_id, warehouse_id)])?;
            let level = self.level(variant_id, warehouse_id)?;
            let delta = counted_quantity - level.on_hand;
            if delta == 0 {
                return Ok(None);
            }
            let mut mv = Move::new(&v, warehouse_id, MovementKind::Count, delta, 0);
            mv.reason = Some("stock count");
            let m = self.record(mv)?;
            self.audit_stock(&v, "stock_count")?;
            Ok(Some(m))
        })
    }

    /// Moves goods from one warehouse to another: a `transfer_out` and a
    /// `transfer_in` movement sharing one [`TransferId`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `to_warehouse` when it is the same as the
    /// source, or on `quantity`; [`ErrorKind::Shortfall`] when the source has
    /// fewer available; [`ErrorKind::NotFound`] for unknown ids.
    pub fn transfer(
        &self,
        variant_id: VariantId,
        from_warehouse: WarehouseId,
        to_warehouse: WarehouseId,
        quantity_moved: i64,
    ) -> Result<TransferId> {
        self.tx.atomic(|| {
            let q = quantity("quantity", quantity_moved)?;
            if from_warehouse == to_warehouse {
                return Err(Error::invalid(
                    "to_warehouse",
                    "is the same as the source warehouse",
                ));
            }
            let v = self.stocked_variant(variant_id)?;
            self.warehouse(from_warehouse)?;
            self.warehouse(to_warehouse)?;
            self.lock_balances(&mut [(v.id, from_warehouse), (v.id, to_warehouse)])?;
            let id = TransferId::new();
            let mut out = Move::new(&v, from_warehouse, MovementKind::TransferOut, -q, 0);
            out.transfer_id = Some(id);
            self.record(out)?;
            let mut inbound = Move::new(&v, to_warehouse, MovementKind::TransferIn, q, 0);
            inbound.transfer_id = Some(id);
            self.record(inbound)?;
            self.audit_stock(&v, "stock_transfer")?;
            Ok(id)
        })
    }

    /// Holds stock for a cart or a manual hold, optionally until
    /// `expires_at`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Shortfall`] when not enough is available (and the
    /// variant does not allow backorders); [`ErrorKind::Invalid`] on
    /// `quantity`, or on an `expires_at` that is not after now or lies
    /// outside the range of [`crate::time`].
    pub fn reserve(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        quantity_reserved: i64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Reservation> {
        self.tx.atomic(|| {
            let q = quantity("quantity", quantity_reserved)?;
            let expires_at = crate::time::checked_opt("expires_at", expires_at)?;
            let v = self.stocked_variant(variant_id)?;
            self.warehouse(warehouse_id)?;
            let id = self.reserve_for(&v, warehouse_id, q, None, None, expires_at)?;
            self.audit_stock(&v, "stock_reservation")?;
            let reservation = self.reservation(id)?;
            self.reservation_event(&reservation, crate::changes::ChangeKind::ReservationMade)?;
            Ok(reservation)
        })
    }

    pub(crate) fn reserve_for(
        &self,
        variant: &Variant,
        warehouse_id: WarehouseId,
        q: i64,
        order_id: Option<OrderId>,
        line_id: Option<OrderLineId>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ReservationId> {
        if let Some(at) = expires_at {
            if at <= self.tx.now() {
                return Err(Error::invalid("expires_at", "must be in the future"));
            }
        }
        let id = ReservationId::new();
        let mut mv = Move::new(variant, warehouse_id, MovementKind::Reservation, 0, q);
        mv.reservation_id = Some(id);
        mv.order_id = order_id;
        // The movement is checked (and expired holds released) before the
        // reservation row exists.
        self.record(mv)?;
        self.tx.db().execute(
            sql!(sql::INSERT_RESERVATION),
            &[
                &id,
                &variant.id,
                &warehouse_id,
                &order_id,
                &line_id,
                &q,
                &expires_at,
                &self.tx.now(),
            ],
        )?;
        Ok(id)
    }

    /// Gives back what a reservation still holds.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`]; [`ErrorKind::InvalidState`] when it holds
    /// nothing any more, or belongs to an order (cancel the order instead).
    pub fn release(&self, id: ReservationId) -> Result<Reservation> {
        self.tx.atomic(|| {
            self.lock_reservation(id)?;
            let r = self.reservation(id)?;
            if r.order_id.is_some() {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "reservation",
                    id: id.to_string(),
                    reason: "belongs to an order; cancel the order to release it".into(),
                }));
            }
            if r.open_quantity == 0 {
                return Err(Error::new(ErrorKind::InvalidState {
                    entity: "reservation",
                    id: id.to_string(),
                    reason: "holds nothing any more".into(),
                }));
            }
            let v = CatalogReader::new(self.tx.db()).variant(r.variant_id)?;
            self.close_reservation(&v, &r, r.open_quantity, "released")?;
            self.audit_stock(&v, "stock_release")?;
            let reservation = self.reservation(id)?;
            self.reservation_event(
                &reservation,
                crate::changes::ChangeKind::ReservationReleased,
            )?;
            Ok(reservation)
        })
    }

    /// Takes `q` units out of a reservation: shipped (a `shipment`
    /// movement) or given back (a `release` movement).
    pub(crate) fn close_reservation(
        &self,
        variant: &Variant,
        r: &Reservation,
        q: i64,
        reason: &str,
    ) -> Result<()> {
        debug_assert!(q > 0 && q <= r.open_quantity);
        let (kind, on_hand) = if reason == "shipped" {
            (MovementKind::Shipment, -q)
        } else {
            (MovementKind::Release, 0)
        };
        let mut mv = Move::new(variant, r.warehouse_id, kind, on_hand, -q);
        mv.reservation_id = Some(r.id);
        mv.order_id = r.order_id;
        self.record(mv)?;
        self.tx.db().execute(
            sql!(sqlite: sql::CLOSE_RESERVATION, postgres: sql::CLOSE_RESERVATION_PG),
            &[&r.id, &q, &self.tx.now(), &reason],
        )?;
        Ok(())
    }

    /// Releases every reservation that expired at or before `now`. An
    /// expired reservation of a pending order cancels that order (its other
    /// reservations are released with it); a paid order's reservations do
    /// not expire. Returns how many reservations were released.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `now` outside the range of
    /// [`crate::time`]; a database error.
    pub fn release_expired(&self, now: DateTime<Utc>) -> Result<usize> {
        self.tx.atomic(|| {
            let now = crate::time::checked("now", now)?;
            self.release_expired_where(now, None)
        })
    }

    fn release_expired_where(
        &self,
        now: DateTime<Utc>,
        only: Option<(VariantId, WarehouseId)>,
    ) -> Result<usize> {
        let expired: Vec<Reservation> = self.tx.db().query_vec(
            sql!(
                sqlite: concat!(
                    select_reservation!(),
                    "WHERE open_quantity > 0 AND expires_at <= ?1 \
                     AND (?2 IS NULL OR (variant_id = ?2 AND warehouse_id = ?3)) \
                     ORDER BY expires_at"
                ),
                postgres: concat!(
                    select_reservation!(),
                    "WHERE open_quantity > 0 AND expires_at <= ?1 \
                     AND (CAST(?2 AS uuid) IS NULL OR (variant_id = ?2 AND warehouse_id = ?3)) \
                     ORDER BY expires_at"
                ),
            ),
            &[&now, &only.map(|o| o.0), &only.map(|o| o.1)],
            reservation_from_row,
        )?;
        let mut released = 0;
        for r in expired {
            if let Some(order_id) = r.order_id {
                // The order's row before its reservation's, the order in
                // which every order operation locks them (no deadlock with
                // a payment or cancellation of the same order).
                self.tx.db().lock_for_update(
                    sql!(postgres_only: "SELECT 1 FROM orders WHERE id = $1 FOR UPDATE"),
                    &[&order_id],
                )?;
            }
            // An earlier order cancellation in this loop may have closed it.
            self.lock_reservation(r.id)?;
            let r = self.reservation(r.id)?;
            if r.open_quantity == 0 {
                continue;
            }
            match r.order_id {
                Some(order_id) => {
                    released += expire_order_hold(self.tx, order_id)?;
                }
                None => {
                    let v = CatalogReader::new(self.tx.db()).variant(r.variant_id)?;
                    self.close_reservation(&v, &r, r.open_quantity, "expired")?;
                    self.audit_stock(&v, "stock_release")?;
                    self.reservation_event(&r, crate::changes::ChangeKind::ReservationExpired)?;
                    released += 1;
                }
            }
        }
        Ok(released)
    }

    /// Sets (or replaces) the replenishment rule of a variant in a warehouse.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] naming `reorder_point` (negative),
    /// `target_level` (not above the reorder point) or `order_multiple`
    /// (below 1); [`ErrorKind::NotFound`] for unknown ids.
    pub fn set_replenishment_rule(
        &self,
        variant_id: VariantId,
        warehouse_id: WarehouseId,
        rule: ReplenishmentRule,
    ) -> Result<()> {
        self.tx.atomic(|| {
            if !(0..=MAX_MOVE_QUANTITY).contains(&rule.reorder_point) {
                return Err(Error::invalid(
                    "reorder_point",
                    format!(
                        "is {}, must be between 0 and {MAX_MOVE_QUANTITY}",
                        rule.reorder_point
                    ),
                ));
            }
            if rule.target_level <= rule.reorder_point || rule.target_level > MAX_MOVE_QUANTITY {
                return Err(Error::invalid(
                    "target_level",
                    format!(
                    "is {}, must be above the reorder point ({}) and at most {MAX_MOVE_QUANTITY}",
                    rule.target_level, rule.reorder_point
                ),
                ));
            }
            if !(1..=MAX_MOVE_QUANTITY).contains(&rule.order_multiple) {
                return Err(Error::invalid(
                    "order_multiple",
                    format!("is {}, must be at least 1", rule.order_multiple),
                ));
            }
            let v = self.stocked_variant(variant_id)?;
            self.warehouse(warehouse_id)?;
            self.tx.db().execute(
                sql!(
                    "INSERT INTO replenishment_rules (variant_id, warehouse_id, reorder_point, \
                     target_level, order_multiple, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (variant_id, warehouse_id) DO UPDATE SET \
                     reorder_point = excluded.reorder_point, target_level = excluded.target_level, \
                     order_multiple = excluded.order_multiple, updated_at = excluded.updated_at"
                ),
                &[
                    &variant_id,
                    &warehouse_id,
                    &rule.reorder_point,
                    &rule.target_level,
                    &rule.order_multiple,
                    &self.tx.now(),
                ],
            )?;
            self.tx.audit_change(Change {
                action: "set_replenishment_rule",
                entity_type: "variant",
                entity_id: &v.id.to_string(),
                changed_fields: &["reorder_point", "target_level", "order_multiple"],
            })
        })
    }
}

/// A stock report over every (variant, warehouse) with a replenishment
/// rule, its availability at `?1` (expired holds not counted), filtered by
/// a condition on `on_hand`, `reserved` and the rule's columns.
macro_rules! stock_report {
    ($condition:literal) => {
        concat!(
            "SELECT * FROM (SELECT lv.*, q.reorder_point, q.target_level, q.order_multiple FROM \
             (SELECT v.id AS variant_id, v.sku, w.id AS warehouse_id, w.code, \
               coalesce(l.on_hand, 0) AS on_hand, \
               coalesce(l.reserved, 0) - CAST(coalesce((SELECT sum(r.open_quantity) \
                 FROM stock_reservations r WHERE r.variant_id = v.id AND r.warehouse_id = w.id \
                 AND r.open_quantity > 0 AND r.expires_at <= ?1), 0) AS bigint) AS reserved \
              FROM replenishment_rules q0 JOIN product_variants v ON v.id = q0.variant_id \
              JOIN warehouses w ON w.id = q0.warehouse_id \
              LEFT JOIN stock_levels l ON l.variant_id = v.id AND l.warehouse_id = w.id \
              WHERE v.archived_at IS NULL AND w.archived_at IS NULL) lv \
             JOIN replenishment_rules q ON q.variant_id = lv.variant_id AND q.warehouse_id = lv.warehouse_id) \
             AS report WHERE ",
            $condition,
            " ORDER BY code, sku"
        )
    };
}

crate::bench_sql::sql_module! {
    /// The ledger statements, public only so that the benchmarks' raw-rusqlite
    /// baselines run exactly the same text. Not part of the API.
    mod sql {
    /// The low-stock report (and replenishment suggestions).
    pub const LOW_STOCK: &str = stock_report!("on_hand - reserved <= reorder_point");
    /// The overstock report.
    pub const OVERSTOCK: &str = stock_report!("on_hand > target_level");
    /// A line's open reservations, oldest first.
    pub const OPEN_RESERVATIONS_OF_LINE: &str = concat!(
        select_reservation!(),
        "WHERE order_line_id = ?1 AND open_quantity > 0 ORDER BY rowid"
    );
    /// Takes `?2` units off a reservation, closing it at `?3` for reason
    /// `?4` when nothing is left open.
    pub const CLOSE_RESERVATION: &str =
        "UPDATE stock_reservations SET open_quantity = open_quantity - ?2, \
         closed_at = CASE WHEN open_quantity - ?2 = 0 THEN ?3 END, \
         closed_reason = CASE WHEN open_quantity - ?2 = 0 THEN ?4 END WHERE id = ?1";
    /// Appends a movement (the trigger applies it to the balance).
    pub const INSERT_MOVEMENT: &str = "INSERT INTO stock_movements (variant_id, warehouse_id, \
        kind, on_hand_delta, reserved_delta, reason, reservation_id, order_id, transfer_id, at, \
        actor_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    /// Records a reservation.
    pub const INSERT_RESERVATION: &str = "INSERT INTO stock_reservations (id, variant_id, \
        warehouse_id, order_id, order_line_id, quantity, open_quantity, expires_at, created_at) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)";
    /// The balance of one variant in one warehouse, and whether an open
    /// reservation there expired at or before `?3`.
    pub const BALANCE: &str = "SELECT l.on_hand, l.reserved, EXISTS (SELECT 1 FROM \
        stock_reservations r WHERE r.variant_id = ?1 AND r.warehouse_id = ?2 \
        AND r.open_quantity > 0 AND r.expires_at <= ?3) FROM stock_levels l \
        WHERE l.variant_id = ?1 AND l.warehouse_id = ?2";
    /// Every active warehouse in allocation order with what it has available
    /// of variant `?1` at `?2` (expired holds not counted; no row, nothing).
    pub const ALLOCATION: &str = "SELECT w.id, coalesce(l.on_hand - l.reserved + \
        (SELECT CAST(coalesce(sum(r.open_quantity), 0) AS bigint) FROM stock_reservations r \
         WHERE r.variant_id = ?1 AND r.warehouse_id = w.id AND r.open_quantity > 0 \
         AND r.expires_at <= ?2), 0) FROM warehouses w LEFT JOIN stock_levels l \
        ON l.variant_id = ?1 AND l.warehouse_id = w.id \
        WHERE w.archived_at IS NULL ORDER BY w.priority, w.code";
    /// [`BALANCE`] on PostgreSQL, where several servers write at once:
    /// it locks the balance's row until the unit of work ends, so the check
    /// against it holds until the movement is written (no oversell between
    /// servers; the CHECKs on `stock_levels` stay as the last line).
    pub const BALANCE_PG: &str = "SELECT l.on_hand, l.reserved, EXISTS (SELECT 1 FROM \
        stock_reservations r WHERE r.variant_id = ?1 AND r.warehouse_id = ?2 \
        AND r.open_quantity > 0 AND r.expires_at <= ?3) FROM stock_levels l \
        WHERE l.variant_id = ?1 AND l.warehouse_id = ?2 FOR UPDATE OF l";

    /// [`CLOSE_RESERVATION`] on PostgreSQL, where a parameter inside
    /// `CASE` needs its type.
    pub const CLOSE_RESERVATION_PG: &str =
        "UPDATE stock_reservations SET open_quantity = open_quantity - ?2, \
         closed_at = CASE WHEN open_quantity - ?2 = 0 THEN CAST(?3 AS timestamptz) END, \
         closed_reason = CASE WHEN open_quantity - ?2 = 0 THEN CAST(?4 AS text) END WHERE id = ?1";

    /// [`sql::INSERT_MOVEMENT`] on PostgreSQL, returning the position.
    pub const INSERT_MOVEMENT_PG: &str = "INSERT INTO stock_movements (variant_id, warehouse_id, \
        kind, on_hand_delta, reserved_delta, reason, reservation_id, order_id, transfer_id, at, \
        actor_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq";
    }
}

/// Ledger invariants: every balance equals the sum of its movements; the
/// reserved count equals what open reservations hold; no balance is
/// negative, nor available below zero without backorders; untracked
/// variants have no ledger.
pub(crate) fn check(conn: Conn<'_>, report: &mut CheckReport) -> Result<()> {
    conn.query_each(
        sql!(
            "SELECT coalesce(l.variant_id, m.variant_id), coalesce(l.warehouse_id, m.warehouse_id), \
             l.on_hand, l.reserved, m.on_hand, m.reserved FROM stock_levels l FULL JOIN \
             (SELECT variant_id, warehouse_id, CAST(sum(on_hand_delta) AS bigint) AS on_hand, \
              CAST(sum(reserved_delta) AS bigint) AS reserved FROM stock_movements GROUP BY 1, 2) m \
             ON m.variant_id = l.variant_id AND m.warehouse_id = l.warehouse_id \
             WHERE l.on_hand IS DISTINCT FROM m.on_hand OR l.reserved IS DISTINCT FROM m.reserved"
        ),
        &[],
        |r| {
            let (v, w): (VariantId, WarehouseId) = (r.get(0)?, r.get(1)?);
            let (on_hand, reserved): (Option<i64>, Option<i64>) = (r.get(2)?, r.get(3)?);
            let (m_on_hand, m_reserved): (Option<i64>, Option<i64>) = (r.get(4)?, r.get(5)?);
            report.push(format!(
                "stock of variant {v} in warehouse {w}: balance on_hand {on_hand:?} reserved \
                 {reserved:?}, ledger sums to on_hand {m_on_hand:?} reserved {m_reserved:?}"
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT l.variant_id, l.warehouse_id, l.reserved, coalesce(r.held, 0) \
             FROM stock_levels l LEFT JOIN (SELECT variant_id, warehouse_id, \
             CAST(sum(open_quantity) AS bigint) AS held FROM stock_reservations GROUP BY 1, 2) r \
             ON r.variant_id = l.variant_id AND r.warehouse_id = l.warehouse_id \
             WHERE l.reserved <> coalesce(r.held, 0)"
        ),
        &[],
        |r| {
            let (v, w): (VariantId, WarehouseId) = (r.get(0)?, r.get(1)?);
            let (reserved, held): (i64, i64) = (r.get(2)?, r.get(3)?);
            report.push(format!(
                "stock of variant {v} in warehouse {w}: reserved {reserved} but open \
                 reservations hold {held}"
            ));
            Ok(())
        },
    )?;
    conn.query_each(
        sql!(
            "SELECT l.variant_id, l.warehouse_id, l.on_hand, l.reserved FROM stock_levels l \
             JOIN product_variants v ON v.id = l.variant_id \
             WHERE l.on_hand < 0 OR l.reserved < 0 \
             OR (l.on_hand - l.reserved < 0 AND v.allow_backorder = 0) \
             OR l.allow_backorder <> v.allow_backorder \
             OR (v.track_stock = 0 AND (l.on_hand <> 0 OR l.reserved <> 0))"
        ),
        &[],
        |r| {
            let (v, w): (VariantId, WarehouseId) = (r.get(0)?, r.get(1)?);
            let (on_hand, reserved): (i64, i64) = (r.get(2)?, r.get(3)?);
            report.push(format!(
                "stock of variant {v} in warehouse {w}: on_hand {on_hand}, reserved {reserved} \
                 breaks the balance rules (negative, oversold without backorders, or untracked)"
            ));
            Ok(())
        },
    )
}

crate::one_shot::one_shot! {
    /// Stock for single operations, each its own unit of work:
    /// `store.inventory().receive(variant, warehouse, 12)`.
    StoreInventory => write inventory: Inventory, read inventory: InventoryReader;
    write {
        fn create_warehouse(new: NewWarehouse) -> Warehouse;
        fn set_warehouse_priority(id: WarehouseId, priority: i64) -> Warehouse;
        fn receive(variant_id: VariantId, warehouse_id: WarehouseId, quantity_received: i64) -> Movement;
        fn adjust(variant_id: VariantId, warehouse_id: WarehouseId, quantity_delta: i64, reason: &str) -> Movement;
        fn count(variant_id: VariantId, warehouse_id: WarehouseId, counted_quantity: i64) -> Option<Movement>;
        fn transfer(variant_id: VariantId, from_warehouse: WarehouseId, to_warehouse: WarehouseId, quantity_moved: i64) -> TransferId;
        fn reserve(variant_id: VariantId, warehouse_id: WarehouseId, quantity_reserved: i64, expires_at: Option<DateTime<Utc>>) -> Reservation;
        fn release(id: ReservationId) -> Reservation;
        fn release_expired(now: DateTime<Utc>) -> usize;
        fn set_replenishment_rule(variant_id: VariantId, warehouse_id: WarehouseId, rule: ReplenishmentRule) -> ();
    }
    read {
        fn warehouse(id: WarehouseId) -> Warehouse;
        fn warehouse_by_code(code: &str) -> Warehouse;
        fn warehouses() -> Vec<Warehouse>;
        fn level(variant_id: VariantId, warehouse_id: WarehouseId) -> StockLevel;
        fn levels(variant_id: VariantId) -> Vec<StockLevel>;
        fn available(variant_id: VariantId) -> i64;
        fn movements(variant_id: VariantId, after: Option<&Cursor>, limit: usize) -> Page<Movement>;
        fn movements_of_order(order_id: OrderId) -> Vec<Movement>;
        fn reservation(id: ReservationId) -> Reservation;
        fn replenishment_suggestions() -> Vec<StockReportLine>;
        fn low_stock() -> Vec<StockReportLine>;
        fn overstock() -> Vec<StockReportLine>;
    }
}

// One-shot calls on the store: this domain's accessors (the store layer names no domain).
impl crate::Store {
    /// Stock for one-shot calls.
    pub fn inventory(&self) -> crate::inventory::StoreInventory<'_> {
        crate::inventory::StoreInventory::new(self)
    }
}

// Inside a unit of work: this domain's accessors (the store layer names no domain).
impl<'a> crate::WriteTx<'a> {
    /// Inventory inside this transaction.
    pub fn inventory(&self) -> crate::inventory::Inventory<'_> {
        crate::inventory::Inventory::new(self)
    }
}

// Inside a read transaction: this domain's accessors (the store layer names no domain).
impl<'a> crate::ReadTx<'a> {
    /// Inventory, read-only.
    pub fn inventory(&self) -> crate::inventory::InventoryReader<'a> {
        crate::inventory::InventoryReader::new(self.db())
    }
}

/// Who decides what a lapsed hold of an order means. The stock ledger
/// knows reservations, not the orders above it: the order module registers
/// the one handler (with `inventory::submit!`; it cancels an unpaid order
/// and keeps a paid one's stock), so this module never imports `order`.
pub(crate) struct OrderHoldExpiry {
    /// Handles an expired reservation held for the order; returns how
    /// many reservations it released.
    pub(crate) expire: fn(&WriteTx<'_>, OrderId) -> Result<usize>,
}

::inventory::collect!(OrderHoldExpiry);

fn expire_order_hold(tx: &WriteTx<'_>, order_id: OrderId) -> Result<usize> {
    let mut handlers = ::inventory::iter::<OrderHoldExpiry>.into_iter();
    let handler = handlers.next().ok_or_else(|| {
        Error::new(ErrorKind::Internal {
            reason: "no handler for an order's expired stock hold is registered".into(),
        })
    })?;
    debug_assert!(handlers.next().is_none(), "one handler for order holds");
    (handler.expire)(tx, order_id)
}
