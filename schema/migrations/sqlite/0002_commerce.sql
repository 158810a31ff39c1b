-- custdb schema version 2: catalog, inventory ledger, orders, payments.
--
-- Money columns end in _e4: the exact amount times 10^4 as an INTEGER, so
-- SUM() is exact (see src/money.rs). Quantities are INTEGERs.

-- Catalog ------------------------------------------------------------------

CREATE TABLE products (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description  TEXT CHECK (length(description) <= 10000),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at  TEXT CHECK (archived_at IS NULL OR archived_at >= created_at)
) STRICT;
CREATE INDEX products_name ON products (name, id);

CREATE TABLE product_variants (
    id               TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    product_id       TEXT NOT NULL REFERENCES products (id),
    sku              TEXT NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    title            TEXT CHECK (length(title) BETWEEN 1 AND 200),
    options          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options) AND json_type(options) = 'object' AND length(options) <= 2048),
    barcode          TEXT CHECK (length(barcode) BETWEEN 1 AND 64),
    price_e4         INTEGER NOT NULL CHECK (price_e4 BETWEEN 0 AND 1000000000000),
    currency         TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    track_stock      INTEGER NOT NULL CHECK (track_stock IN (0, 1)),
    allow_backorder  INTEGER NOT NULL CHECK (allow_backorder IN (0, 1)),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL CHECK (updated_at >= created_at),
    version          INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at      TEXT CHECK (archived_at IS NULL OR archived_at >= created_at)
) STRICT;
CREATE INDEX product_variants_product ON product_variants (product_id, sku);
CREATE UNIQUE INDEX product_variants_barcode ON product_variants (barcode) WHERE barcode IS NOT NULL;

-- Inventory ----------------------------------------------------------------

CREATE TABLE warehouses (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    code         TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32 AND code = upper(code)),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    line1        TEXT CHECK (length(line1) BETWEEN 1 AND 200),
    city         TEXT CHECK (length(city) BETWEEN 1 AND 100),
    postal_code  TEXT CHECK (length(postal_code) BETWEEN 1 AND 20),
    country      TEXT CHECK (length(country) = 2 AND country = upper(country)),
    priority     INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 1000000),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL CHECK (updated_at >= created_at),
    archived_at  TEXT
) STRICT;

-- The balance of one variant in one warehouse. Rows are written only by the
-- trigger on stock_movements below, so a balance can never move without a
-- ledger row. allow_backorder is copied from the variant (and kept in step
-- by a trigger) because a CHECK can only see its own row.
CREATE TABLE stock_levels (
    variant_id       TEXT NOT NULL REFERENCES product_variants (id),
    warehouse_id     TEXT NOT NULL REFERENCES warehouses (id),
    on_hand          INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved         INTEGER NOT NULL CHECK (reserved >= 0),
    allow_backorder  INTEGER NOT NULL CHECK (allow_backorder IN (0, 1)),
    CHECK (on_hand - reserved >= 0 OR allow_backorder = 1),
    PRIMARY KEY (variant_id, warehouse_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX stock_levels_warehouse ON stock_levels (warehouse_id, variant_id);

-- The append-only stock ledger. Each kind moves the balance one way only.
CREATE TABLE stock_movements (
    seq             INTEGER PRIMARY KEY,
    variant_id      TEXT NOT NULL REFERENCES product_variants (id),
    warehouse_id    TEXT NOT NULL REFERENCES warehouses (id),
    kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'adjustment', 'reservation', 'release', 'shipment', 'return', 'transfer_out', 'transfer_in', 'count')),
    on_hand_delta   INTEGER NOT NULL,
    reserved_delta  INTEGER NOT NULL,
    reason          TEXT CHECK (length(reason) BETWEEN 1 AND 200),
    reservation_id  TEXT,
    order_id        TEXT,
    transfer_id     TEXT,
    at              TEXT NOT NULL,
    actor_id        TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    CHECK (on_hand_delta <> 0 OR reserved_delta <> 0),
    CHECK (CASE kind
        WHEN 'receipt'      THEN on_hand_delta > 0 AND reserved_delta = 0
        WHEN 'return'       THEN on_hand_delta > 0 AND reserved_delta = 0
        WHEN 'transfer_in'  THEN on_hand_delta > 0 AND reserved_delta = 0 AND transfer_id IS NOT NULL
        WHEN 'transfer_out' THEN on_hand_delta < 0 AND reserved_delta = 0 AND transfer_id IS NOT NULL
        WHEN 'reservation'  THEN on_hand_delta = 0 AND reserved_delta > 0 AND reservation_id IS NOT NULL
        WHEN 'release'      THEN on_hand_delta = 0 AND reserved_delta < 0 AND reservation_id IS NOT NULL
        WHEN 'shipment'     THEN on_hand_delta < 0 AND reserved_delta = on_hand_delta AND reservation_id IS NOT NULL
        WHEN 'adjustment'   THEN reserved_delta = 0 AND reason IS NOT NULL
        ELSE reserved_delta = 0
    END)
) STRICT;
CREATE INDEX stock_movements_level ON stock_movements (variant_id, warehouse_id, seq);
CREATE INDEX stock_movements_order ON stock_movements (order_id) WHERE order_id IS NOT NULL;

-- The row is created at zero first and then moved: an UPSERT would check the
-- CHECK constraints against the delta alone before seeing the conflict.
CREATE TRIGGER stock_movements_apply AFTER INSERT ON stock_movements BEGIN
    INSERT INTO stock_levels (variant_id, warehouse_id, on_hand, reserved, allow_backorder)
    VALUES (new.variant_id, new.warehouse_id, 0, 0,
            (SELECT allow_backorder FROM product_variants WHERE id = new.variant_id))
    ON CONFLICT (variant_id, warehouse_id) DO NOTHING;
    UPDATE stock_levels
        SET on_hand = on_hand + new.on_hand_delta, reserved = reserved + new.reserved_delta
        WHERE variant_id = new.variant_id AND warehouse_id = new.warehouse_id;
END;
CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements
BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END;
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements
BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END;
CREATE TRIGGER product_variants_backorder AFTER UPDATE OF allow_backorder ON product_variants BEGIN
    UPDATE stock_levels SET allow_backorder = new.allow_backorder WHERE variant_id = new.id;
END;

-- A reservation holds stock for an order line (or a cart). open_quantity is
-- what it still holds; it reaches 0 when shipped, released or expired.
CREATE TABLE stock_reservations (
    id             TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    variant_id     TEXT NOT NULL REFERENCES product_variants (id),
    warehouse_id   TEXT NOT NULL REFERENCES warehouses (id),
    order_id       TEXT REFERENCES orders (id),
    order_line_id  TEXT REFERENCES order_lines (id),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    open_quantity  INTEGER NOT NULL CHECK (open_quantity BETWEEN 0 AND quantity),
    expires_at     TEXT,
    created_at     TEXT NOT NULL,
    closed_at      TEXT,
    closed_reason  TEXT CHECK (closed_reason IN ('shipped', 'released', 'expired', 'cancelled')),
    CHECK ((open_quantity = 0) = (closed_at IS NOT NULL)),
    CHECK ((closed_at IS NULL) = (closed_reason IS NULL))
) STRICT;
CREATE INDEX stock_reservations_open ON stock_reservations (variant_id, warehouse_id) WHERE open_quantity > 0;
-- Expiring holds, by place (availability subtracts them) and by time
-- (release_expired finds them); holds without expiry are not in them, so
-- both lookups stay short however many open reservations there are.
CREATE INDEX stock_reservations_expiring ON stock_reservations (variant_id, warehouse_id, expires_at)
    WHERE open_quantity > 0 AND expires_at IS NOT NULL;
CREATE INDEX stock_reservations_expiry ON stock_reservations (expires_at) WHERE open_quantity > 0 AND expires_at IS NOT NULL;
CREATE INDEX stock_reservations_line ON stock_reservations (order_line_id) WHERE order_line_id IS NOT NULL;
CREATE INDEX stock_reservations_order ON stock_reservations (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE replenishment_rules (
    variant_id      TEXT NOT NULL REFERENCES product_variants (id),
    warehouse_id    TEXT NOT NULL REFERENCES warehouses (id),
    reorder_point   INTEGER NOT NULL CHECK (reorder_point >= 0),
    target_level    INTEGER NOT NULL CHECK (target_level > reorder_point),
    order_multiple  INTEGER NOT NULL CHECK (order_multiple >= 1),
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (variant_id, warehouse_id)
) STRICT, WITHOUT ROWID;

-- Orders -------------------------------------------------------------------

CREATE TABLE orders (
    id                TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    number            INTEGER NOT NULL UNIQUE CHECK (number >= 1),
    customer_id       TEXT REFERENCES customers (id),
    guest_email       TEXT CHECK (length(guest_email) BETWEEN 3 AND 254 AND guest_email = lower(guest_email)),
    currency          TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'partially_shipped', 'shipped', 'delivered', 'cancelled', 'returned', 'refunded')),
    subtotal_e4       INTEGER NOT NULL CHECK (subtotal_e4 >= 0),
    discount_e4       INTEGER NOT NULL CHECK (discount_e4 BETWEEN 0 AND subtotal_e4),
    tax_e4            INTEGER NOT NULL CHECK (tax_e4 >= 0),
    shipping_e4       INTEGER NOT NULL CHECK (shipping_e4 >= 0),
    total_e4          INTEGER NOT NULL CHECK (total_e4 = subtotal_e4 - discount_e4 + tax_e4 + shipping_e4),
    paid_e4           INTEGER NOT NULL DEFAULT 0 CHECK (paid_e4 BETWEEN 0 AND total_e4),
    refunded_e4       INTEGER NOT NULL DEFAULT 0 CHECK (refunded_e4 BETWEEN 0 AND paid_e4),
    shipping_address  TEXT CHECK (shipping_address IS NULL OR json_valid(shipping_address)),
    billing_address   TEXT CHECK (billing_address IS NULL OR json_valid(billing_address)),
    note              TEXT CHECK (length(note) <= 2000),
    idempotency_key   TEXT UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash      TEXT CHECK ((idempotency_key IS NULL) = (request_hash IS NULL)),
    hold_until        TEXT,
    placed_at         TEXT NOT NULL,
    updated_at        TEXT NOT NULL CHECK (updated_at >= placed_at),
    version           INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK ((customer_id IS NULL) <> (guest_email IS NULL))
) STRICT;
CREATE INDEX orders_customer ON orders (customer_id, placed_at DESC, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX orders_status ON orders (status, placed_at DESC, id DESC);
CREATE INDEX orders_placed ON orders (placed_at);
CREATE INDEX orders_guest_email ON orders (guest_email) WHERE guest_email IS NOT NULL;

CREATE TABLE order_lines (
    id                 TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    order_id           TEXT NOT NULL REFERENCES orders (id),
    line_no            INTEGER NOT NULL CHECK (line_no >= 1),
    variant_id         TEXT NOT NULL REFERENCES product_variants (id),
    sku                TEXT NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    title              TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 400),
    quantity           INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    unit_price_e4      INTEGER NOT NULL CHECK (unit_price_e4 >= 0),
    subtotal_e4        INTEGER NOT NULL CHECK (subtotal_e4 >= 0),
    discount_e4        INTEGER NOT NULL CHECK (discount_e4 BETWEEN 0 AND subtotal_e4),
    tax_rate_ppm       INTEGER NOT NULL CHECK (tax_rate_ppm BETWEEN 0 AND 1000000),
    tax_e4             INTEGER NOT NULL CHECK (tax_e4 >= 0),
    total_e4           INTEGER NOT NULL CHECK (total_e4 = subtotal_e4 - discount_e4 + tax_e4),
    warehouse_id       TEXT REFERENCES warehouses (id),
    quantity_shipped   INTEGER NOT NULL DEFAULT 0 CHECK (quantity_shipped BETWEEN 0 AND quantity),
    quantity_returned  INTEGER NOT NULL DEFAULT 0 CHECK (quantity_returned BETWEEN 0 AND quantity_shipped),
    UNIQUE (order_id, line_no),
    UNIQUE (order_id, variant_id)
) STRICT;
CREATE INDEX order_lines_variant ON order_lines (variant_id, order_id);

-- Every status change and every fulfilment or money event of an order.
CREATE TABLE order_events (
    seq          INTEGER PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    at           TEXT NOT NULL,
    actor_id     TEXT NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
    kind         TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;
CREATE INDEX order_events_order ON order_events (order_id, seq);
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;

-- Payments never hold card numbers: only the method, the provider and the
-- provider's own reference.
CREATE TABLE payments (
    id                  TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    order_id            TEXT NOT NULL REFERENCES orders (id),
    method              TEXT NOT NULL CHECK (method IN ('card', 'bank_transfer', 'cash', 'wallet', 'gift_card', 'invoice', 'other')),
    provider            TEXT CHECK (length(provider) BETWEEN 1 AND 64),
    provider_reference  TEXT CHECK (length(provider_reference) BETWEEN 1 AND 128),
    amount_e4           INTEGER NOT NULL CHECK (amount_e4 > 0),
    currency            TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    status              TEXT NOT NULL CHECK (status IN ('authorized', 'captured', 'refunded', 'failed')),
    refunded_e4         INTEGER NOT NULL DEFAULT 0 CHECK (refunded_e4 BETWEEN 0 AND amount_e4),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL CHECK (updated_at >= created_at),
    CHECK (refunded_e4 = 0 OR status IN ('captured', 'refunded')),
    CHECK ((status = 'refunded') = (refunded_e4 = amount_e4))
) STRICT;
CREATE INDEX payments_order ON payments (order_id, created_at);

CREATE TABLE shipments (
    id               TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    order_id         TEXT NOT NULL REFERENCES orders (id),
    carrier          TEXT NOT NULL CHECK (length(carrier) BETWEEN 1 AND 64),
    tracking_number  TEXT CHECK (length(tracking_number) BETWEEN 1 AND 128),
    shipped_at       TEXT NOT NULL,
    delivered_at     TEXT CHECK (delivered_at IS NULL OR delivered_at >= shipped_at)
) STRICT;
CREATE INDEX shipments_order ON shipments (order_id);

CREATE TABLE shipment_lines (
    shipment_id    TEXT NOT NULL REFERENCES shipments (id),
    order_line_id  TEXT NOT NULL REFERENCES order_lines (id),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (shipment_id, order_line_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE returns (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    order_id    TEXT NOT NULL REFERENCES orders (id),
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX returns_order ON returns (order_id);

CREATE TABLE return_lines (
    return_id      TEXT NOT NULL REFERENCES returns (id),
    order_line_id  TEXT NOT NULL REFERENCES order_lines (id),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    restock        INTEGER NOT NULL CHECK (restock IN (0, 1)),
    warehouse_id   TEXT REFERENCES warehouses (id),
    CHECK ((restock = 1) = (warehouse_id IS NOT NULL)),
    PRIMARY KEY (return_id, order_line_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE refunds (
    id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    order_id    TEXT NOT NULL REFERENCES orders (id),
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    amount_e4   INTEGER NOT NULL CHECK (amount_e4 > 0),
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_payment ON refunds (payment_id);
