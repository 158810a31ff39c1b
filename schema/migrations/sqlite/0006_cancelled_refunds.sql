-- custdb schema version 6: a repair, no new tables.
--
-- Up to schema version 5, refunding everything paid on a cancelled order
-- made its status `refunded`. Reports read `refunded` as a sale that was
-- paid back, and check() expected such an order to still hold stock for
-- shipping, so it reported problems that were not there. A cancelled order
-- stays cancelled now; this puts back the orders that lost the status. Its
-- events keep the history as it was written (the `refunded` event records
-- the status it gave then).
UPDATE orders SET status = 'cancelled', version = version + 1
WHERE status = 'refunded'
  AND EXISTS (SELECT 1 FROM order_events e
              WHERE e.order_id = orders.id AND e.to_status = 'cancelled');
