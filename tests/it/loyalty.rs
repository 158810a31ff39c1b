//! Loyalty points (docs/BALANCES.md): earning by the rule of the order's
//! currency when an order becomes paid, paying with points, points coming
//! back with a refund of that payment, the earned share of a refund taken
//! back, lots spent soonest-expiring first and expiring, merges, every
//! refusal with nothing written, no overdraft under concurrency, the ledger
//! append-only, events and `check()`. Every test runs on each engine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use custdb::{
    ChangeKind, Currency, CustomerId, ErrorKind, LoyaltyEntryKind, NewCustomer, NewLoyaltyRule,
    NewOrder, NewOrderLine, NewPayment, NewProduct, NewRefund, NewVariant, OrderId, OrderStatus,
    PaymentMethod, RefundDestination, Store,
};

use crate::common::{assert_consistent, every_engine};

use crate::common::{dec as d, invalid};

/// A mug at 10.00 GBP (no stock kept), a rule of 1 point per pound, a
/// point worth 0.01, a year's life; and a customer.
fn shop(store: &Store) -> CustomerId {
    store
        .catalog()
        .create_product(
            NewProduct::new("Mug")
                .variant(NewVariant::new("MUG", d("10.00"), Currency::GBP).track_stock(false)),
        )
        .unwrap();
    store
        .loyalty()
        .set_loyalty_rule(
            NewLoyaltyRule::new(Currency::GBP, d("1"), d("0.01")).expires_after_days(365),
        )
        .unwrap();
    store
        .customers()
        .create(NewCustomer::new("Ann"))
        .unwrap()
        .id
}

fn order(store: &Store, who: CustomerId, mugs: i64) -> OrderId {
    store
        .orders()
        .place(NewOrder::for_customer(who, Currency::GBP).line(NewOrderLine::new("MUG", mugs)))
        .unwrap()
        .id
}

fn pay_by_card(store: &Store, o: OrderId, amount: &str) {
    store
        .orders()
        .pay(o, NewPayment::new(PaymentMethod::Card, d(amount)))
        .unwrap();
}

fn points(store: &Store, who: CustomerId) -> i64 {
    store.loyalty().loyalty_account(who).unwrap().points
}

fn kinds(store: &Store, who: CustomerId) -> Vec<(LoyaltyEntryKind, i64, i64)> {
    store
        .loyalty()
        .loyalty_entries(who)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.points, e.balance))
        .collect()
}

#[test]
fn a_paid_order_earns_points_that_pay_and_come_back_and_a_refund_takes_its_share() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        let account = store.loyalty().loyalty_account(ann).unwrap();
        assert_eq!((account.points, account.version), (0, 0), "{engine}");
        // Nothing until the order is paid in full; then 1 point per pound.
        let first = order(&store, ann, 5);
        pay_by_card(&store, first, "20");
        assert_eq!(points(&store, ann), 0, "{engine}");
        pay_by_card(&store, first, "30");
        assert_eq!(points(&store, ann), 50, "{engine}");
        let earned = &store.loyalty().loyalty_entries(ann).unwrap()[0];
        assert_eq!(earned.order_id, Some(first));
        assert_eq!(earned.base.as_ref().unwrap().amount, d("50"));
        let account = store.loyalty().loyalty_account(ann).unwrap();
        let expiry = account.next_expiry.unwrap();
        assert_eq!(expiry.points, 50);
        assert!(expiry.expires_at > chrono::Utc::now() + chrono::Duration::days(364));
        // 30 points pay 0.30 of a 10.00 order; what points paid earns nothing.
        let second = order(&store, ann, 1);
        let p = store.orders().pay_with_points(second, 30).unwrap();
        assert_eq!(
            (p.method, p.amount.amount, p.provider_reference.as_deref()),
            (PaymentMethod::LoyaltyPoints, d("0.30"), Some("30 points")),
            "{engine}"
        );
        assert_eq!(points(&store, ann), 20);
        pay_by_card(&store, second, "9.70");
        assert_eq!(
            store.orders().get(second).unwrap().status,
            OrderStatus::Paid
        );
        // 9.70 paid in money: 9 points.
        assert_eq!(points(&store, ann), 29, "{engine}");
        // Refunding the whole order: 9.70 back to the card takes back the
        // 9 points it earned, 0.30 back gives the 30 points back.
        let back = store
            .orders()
            .refund(second, NewRefund::new(d("10"), "broken"))
            .unwrap();
        let destinations: Vec<RefundDestination> = back.iter().map(|r| r.destination).collect();
        assert_eq!(
            destinations,
            [RefundDestination::Payment, RefundDestination::LoyaltyPoints],
            "{engine}"
        );
        assert_eq!(points(&store, ann), 50, "{engine}");
        // Half of the first order refunded: half of its 50 points go.
        store
            .orders()
            .refund(first, NewRefund::new(d("25"), "half"))
            .unwrap();
        assert_eq!(points(&store, ann), 25, "{engine}");
        assert_eq!(
            kinds(&store, ann),
            [
                (LoyaltyEntryKind::Earn, 50, 50),
                (LoyaltyEntryKind::Spend, -30, 20),
                (LoyaltyEntryKind::Earn, 9, 29),
                (LoyaltyEntryKind::Refund, 30, 59),
                (LoyaltyEntryKind::Reverse, -9, 50),
                (LoyaltyEntryKind::Reverse, -25, 25),
            ],
            "{engine}"
        );
        assert_consistent(&store);
    }
}

#[test]
fn points_already_spent_are_taken_back_only_as_far_as_there_are_any() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        let first = order(&store, ann, 2);
        pay_by_card(&store, first, "20");
        assert_eq!(points(&store, ann), 20);
        // All 20 points spent on another order.
        let second = order(&store, ann, 1);
        store.orders().pay_with_points(second, 20).unwrap();
        // The first order refunded in full: nothing left to take back.
        store
            .orders()
            .refund(first, NewRefund::new(d("20"), "returned"))
            .unwrap();
        assert_eq!(points(&store, ann), 0, "{engine}");
        // The second order paid in full earns 9 points; its points payment
        // refunded gives its 20 back.
        pay_by_card(&store, second, "9.80");
        assert_eq!(points(&store, ann), 9, "{engine}");
        let by_points = store.orders().payments(second).unwrap()[0].id;
        let mut refund = NewRefund::new(d("0.20"), "price match");
        refund.payment_id = Some(by_points);
        store.orders().refund(second, refund).unwrap();
        assert_eq!(points(&store, ann), 29, "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn points_are_spent_soonest_expiring_first_and_expire_on_their_date() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        // Two grants: a gift that never expires, then an order's points.
        store
            .loyalty()
            .adjust_loyalty_points(ann, 15, "welcome", None)
            .unwrap();
        let first = order(&store, ann, 1);
        pay_by_card(&store, first, "10");
        assert_eq!(points(&store, ann), 25);
        // Spending 5 takes them from the order's points (they expire).
        let second = order(&store, ann, 1);
        store.orders().pay_with_points(second, 5).unwrap();
        let account = store.loyalty().loyalty_account(ann).unwrap();
        assert_eq!(account.next_expiry.unwrap().points, 5, "{engine}");
        // The order's lot reaches its date: its 5 left are not spendable,
        // before and after the sweep writes their expiry.
        store.tamper(
            "loyalty_lots",
            &[],
            "UPDATE loyalty_lots SET expires_at = '2020-01-01T00:00:00.000000Z' \
             WHERE expires_at IS NOT NULL",
        );
        assert_eq!(points(&store, ann), 15, "{engine}");
        let swept = store.loyalty().expire_loyalty_points().unwrap();
        assert_eq!((swept.customers, swept.points, swept.more), (1, 5, false));
        assert_eq!(points(&store, ann), 15, "{engine}");
        assert_eq!(
            kinds(&store, ann).last().copied(),
            Some((LoyaltyEntryKind::Expire, -5, 15))
        );
        // A second sweep finds nothing.
        let again = store.loyalty().expire_loyalty_points().unwrap();
        assert_eq!((again.customers, again.points), (0, 0));
        assert_consistent(&store);
    }
}

#[test]
fn loyalty_refuses_what_it_cannot_do_naming_the_field_and_writes_nothing() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        store
            .loyalty()
            .adjust_loyalty_points(ann, 100, "welcome", Some(Currency::GBP))
            .unwrap();
        let o = order(&store, ann, 1);
        let refused = |e: custdb::Error, field: &str| {
            let (f, reason) = invalid(&e);
            assert_eq!(f, field, "{engine}: {reason}");
        };
        let orders = store.orders();
        refused(orders.pay_with_points(o, 101).unwrap_err(), "points");
        refused(orders.pay_with_points(o, 0).unwrap_err(), "points");
        refused(orders.pay_with_points(o, -1).unwrap_err(), "points");
        refused(orders.pay_with_points(o, i64::MAX).unwrap_err(), "points");
        refused(
            orders
                .pay(o, NewPayment::new(PaymentMethod::LoyaltyPoints, d("1")))
                .unwrap_err(),
            "method",
        );
        // A guest has no points; a currency without a rule takes none.
        let guest = orders
            .place(
                NewOrder::for_guest("g@example.com", Currency::GBP)
                    .line(NewOrderLine::new("MUG", 1)),
            )
            .unwrap()
            .id;
        refused(orders.pay_with_points(guest, 1).unwrap_err(), "order_id");
        store
            .catalog()
            .create_product(
                NewProduct::new("Euro mug")
                    .variant(NewVariant::new("EMUG", d("10"), Currency::EUR).track_stock(false)),
            )
            .unwrap();
        let euros = orders
            .place(NewOrder::for_customer(ann, Currency::EUR).line(NewOrderLine::new("EMUG", 1)))
            .unwrap()
            .id;
        refused(orders.pay_with_points(euros, 1).unwrap_err(), "points");
        // A point worth a fraction of a penny pays only whole pennies.
        let l = store.loyalty();
        l.set_loyalty_rule(NewLoyaltyRule::new(Currency::GBP, d("1"), d("0.005")))
            .unwrap();
        refused(orders.pay_with_points(o, 3).unwrap_err(), "points");
        // More than still due.
        l.set_loyalty_rule(NewLoyaltyRule::new(Currency::GBP, d("1"), d("1")))
            .unwrap();
        refused(orders.pay_with_points(o, 11).unwrap_err(), "amount");
        // Rules.
        let rule = |per: &str, value: &str, days: Option<u32>| {
            let mut r = NewLoyaltyRule::new(Currency::GBP, d(per), d(value));
            r.expires_after_days = days;
            l.set_loyalty_rule(r).unwrap_err()
        };
        refused(rule("-1", "0.01", None), "points_per_unit");
        refused(rule("1001", "0.01", None), "points_per_unit");
        refused(rule("0.00001", "0.01", None), "points_per_unit");
        refused(rule("1", "0", None), "point_value");
        refused(rule("1", "1000.01", None), "point_value");
        refused(rule("1", "0.00001", None), "point_value");
        refused(rule("1", "0.01", Some(0)), "expires_after_days");
        refused(rule("1", "0.01", Some(3661)), "expires_after_days");
        assert!(matches!(
            l.remove_loyalty_rule(Currency::JPY).unwrap_err().kind(),
            ErrorKind::NotFound { .. }
        ));
        // Adjustments.
        refused(
            l.adjust_loyalty_points(ann, -101, "x", None).unwrap_err(),
            "points",
        );
        refused(
            l.adjust_loyalty_points(ann, 0, "x", None).unwrap_err(),
            "points",
        );
        refused(
            l.adjust_loyalty_points(ann, 1_000_000_000, "x", None)
                .unwrap_err(),
            "points",
        );
        refused(
            l.adjust_loyalty_points(ann, 1, "", None).unwrap_err(),
            "reason",
        );
        let bob = store
            .customers()
            .create(NewCustomer::new("Bob"))
            .unwrap()
            .id;
        store.customers().archive(bob).unwrap();
        assert!(matches!(
            l.adjust_loyalty_points(bob, 1, "x", None)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidState { .. }
        ));
        assert!(matches!(
            l.adjust_loyalty_points(CustomerId::new(), 1, "x", None)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound { .. }
        ));
        // Nothing of any refusal was written.
        assert_eq!(points(&store, ann), 100, "{engine}");
        assert_eq!(kinds(&store, ann).len(), 1);
        assert!(store.orders().payments(o).unwrap().is_empty());
        assert_consistent(&store);
    }
}

#[test]
fn points_never_go_below_zero_under_concurrency() {
    const THREADS: usize = 8;
    for (engine, on) in every_engine() {
        let store: Store = (*on).clone();
        let ann = shop(&store);
        store
            .loyalty()
            .adjust_loyalty_points(ann, 1000, "welcome", None)
            .unwrap();
        let orders: Vec<OrderId> = (0..THREADS).map(|_| order(&store, ann, 1)).collect();
        let paid = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(THREADS));
        let handles: Vec<_> = orders
            .into_iter()
            .enumerate()
            .map(|(t, o)| {
                let (store, paid, barrier) = (store.clone(), paid.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    match store.orders().pay_with_points(o, 300) {
                        Ok(_) => {
                            paid.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            let (field, reason) = invalid(&e);
                            assert_eq!(field, "points", "thread {t}: {reason}");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(paid.load(Ordering::SeqCst), 3, "{engine}");
        assert_eq!(points(&store, ann), 100, "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn a_merge_moves_points_with_their_expiry_to_the_survivor() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        let dup = store
            .customers()
            .create(NewCustomer::new("Ann B."))
            .unwrap()
            .id;
        let o = order(&store, dup, 3);
        pay_by_card(&store, o, "30");
        store
            .loyalty()
            .adjust_loyalty_points(dup, 5, "welcome", None)
            .unwrap();
        store
            .loyalty()
            .adjust_loyalty_points(ann, 1, "welcome", None)
            .unwrap();
        store.duplicates().merge(ann, dup).unwrap();
        let account = store.loyalty().loyalty_account(ann).unwrap();
        assert_eq!(account.points, 36, "{engine}");
        assert_eq!(account.next_expiry.unwrap().points, 30, "{engine}");
        assert_eq!(points(&store, dup), 0);
        // A refund of the merged customer's order takes back from the
        // survivor, who holds its points now.
        store
            .orders()
            .refund(o, NewRefund::new(d("30"), "returned"))
            .unwrap();
        assert_eq!(points(&store, ann), 6, "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn loyalty_is_events_the_ledger_is_append_only_and_check_finds_tampering() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        store.verify_audit().unwrap();
        let head = store.changes().head().unwrap();
        let l = store.loyalty();
        l.set_loyalty_rule(NewLoyaltyRule::new(Currency::EUR, d("2"), d("0.01")))
            .unwrap();
        l.adjust_loyalty_points(ann, 5, "apology", None).unwrap();
        l.remove_loyalty_rule(Currency::EUR).unwrap();
        store.verify_audit().unwrap();
        let kinds: Vec<ChangeKind> = store
            .changes()
            .after(head, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::LoyaltyRuleSet,
                ChangeKind::CustomerLoyaltyPointsAdjusted,
                ChangeKind::LoyaltyRuleRemoved
            ],
            "{engine}"
        );
        assert_eq!(l.loyalty_rules().unwrap().len(), 1);
        assert!(store
            .try_sql("UPDATE loyalty_entries SET points = 1")
            .is_err());
        assert!(store.try_sql("DELETE FROM loyalty_entries").is_err());
        assert_consistent(&store);
        store.tamper(
            "loyalty_lots",
            &[],
            "UPDATE loyalty_lots SET points_left = points_left + 1",
        );
        let report = store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("loyalty")),
            "{engine}: {:?}",
            report.problems
        );
    }
}
