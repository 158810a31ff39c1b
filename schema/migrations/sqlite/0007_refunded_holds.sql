-- custdb schema version 7: a repair, no new tables.
--
-- Up to schema version 6, refunding everything paid on an order that had
-- not shipped in full made it `refunded` (terminal: it never ships) but
-- left its reservations open, so the stock stayed held for ever. A refund
-- that makes an order `refunded` now releases them; this releases the ones
-- such refunds left behind, through the ledger like any release (one
-- `release` movement per reservation; the trigger lowers `reserved`), and
-- closes the reservations as `released`. The time is the migration's, in
-- custdb's storage format (microseconds, UTC).
INSERT INTO stock_movements (variant_id, warehouse_id, kind, on_hand_delta, reserved_delta,
                             reason, reservation_id, order_id, transfer_id, at, actor_id)
SELECT r.variant_id, r.warehouse_id, 'release', 0, -r.open_quantity,
       'the order was refunded before it shipped (schema version 7 repair)',
       r.id, r.order_id, NULL, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), 'system'
FROM stock_reservations r JOIN orders o ON o.id = r.order_id
WHERE o.status = 'refunded' AND r.open_quantity > 0
ORDER BY r.created_at, r.id;

UPDATE stock_reservations
SET open_quantity = 0, closed_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'),
    closed_reason = 'released'
WHERE open_quantity > 0
  AND order_id IN (SELECT id FROM orders WHERE status = 'refunded');
