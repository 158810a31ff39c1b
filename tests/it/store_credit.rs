//! Store credit (docs/BALANCES.md): a refund taken as store credit, a
//! credit note to store credit, spending it on an order, its refund coming
//! back, corrections, merges, every refusal with nothing written, a
//! balance that never goes below zero (also with eight orders paying from
//! one balance at once), the ledger append-only, events and `check()`.
//! Every test runs on each engine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Utc;
use custdb::{
    ChangeKind, Currency, CustomerId, Decimal, ErrorKind, NewCreditNote, NewCustomer, NewOrder,
    NewOrderLine, NewPayment, NewProduct, NewRefund, NewVariant, OrderId, OrderStatus,
    PaymentMethod, RefundDestination, Store, StoreCreditEntryKind,
};

use crate::common::{assert_consistent, every_engine};

use crate::common::{dec as d, invalid};

/// A mug at 10.00 GBP (no stock kept) and a customer.
fn shop(store: &Store) -> CustomerId {
    store
        .catalog()
        .create_product(
            NewProduct::new("Mug")
                .variant(NewVariant::new("MUG", d("10.00"), Currency::GBP).track_stock(false)),
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

fn paid_order(store: &Store, who: CustomerId, mugs: i64) -> OrderId {
    let o = order(store, who, mugs);
    let total = store.orders().get(o).unwrap().total.amount;
    store
        .orders()
        .pay(o, NewPayment::new(PaymentMethod::Card, total))
        .unwrap();
    o
}

fn balance(store: &Store, who: CustomerId) -> Decimal {
    store
        .store_credit()
        .store_credit_balance(who, Currency::GBP)
        .unwrap()
        .amount
}

fn credit_note(who: Option<CustomerId>, amount: &str) -> NewCreditNote {
    NewCreditNote {
        customer_id: who,
        currency: Currency::GBP,
        amount: d(amount),
        reason: "goodwill".into(),
        lines: serde_json::json!([]),
        country: None,
        issued_at: Utc::now(),
        to_store_credit: true,
    }
}

#[test]
fn a_refund_taken_as_store_credit_pays_the_next_order_and_comes_back() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        assert_eq!(balance(&store, ann), d("0"), "{engine}");
        assert!(store.store_credit().store_credit(ann).unwrap().is_empty());
        // 20.00 paid by card; 15.00 of it comes back as store credit.
        let first = paid_order(&store, ann, 2);
        let refunds = store
            .orders()
            .refund(first, NewRefund::new(d("15"), "late").to_store_credit())
            .unwrap();
        assert_eq!(refunds.len(), 1);
        assert_eq!(
            refunds[0].destination,
            RefundDestination::StoreCredit,
            "{engine}"
        );
        assert_eq!(balance(&store, ann), d("15"), "{engine}");
        // A credit note to store credit adds 5.00.
        let note = store
            .orders()
            .issue_credit_note(&credit_note(Some(ann), "5"))
            .unwrap();
        assert!(note.to_store_credit);
        assert_eq!(balance(&store, ann), d("20"), "{engine}");
        // 20.00 of a 30.00 order from store credit, the rest by card.
        let second = order(&store, ann, 3);
        let p = store
            .orders()
            .pay_with_store_credit(second, d("20"))
            .unwrap();
        assert_eq!(
            (p.method, p.provider.as_deref()),
            (PaymentMethod::StoreCredit, Some("custdb")),
            "{engine}"
        );
        assert_eq!(balance(&store, ann), d("0"), "{engine}");
        store
            .orders()
            .pay(second, NewPayment::new(PaymentMethod::Card, d("10")))
            .unwrap();
        assert_eq!(
            store.orders().get(second).unwrap().status,
            OrderStatus::Paid
        );
        // Refunds go by the newest payment first: 10.00 back to the card,
        // then 8.00 of the store credit payment back to store credit.
        let back = store
            .orders()
            .refund(second, NewRefund::new(d("18"), "returned"))
            .unwrap();
        let destinations: Vec<(RefundDestination, Decimal)> = back
            .iter()
            .map(|r| (r.destination, r.amount.amount))
            .collect();
        assert_eq!(
            destinations,
            [
                (RefundDestination::Payment, d("10")),
                (RefundDestination::StoreCredit, d("8"))
            ],
            "{engine}"
        );
        assert_eq!(balance(&store, ann), d("8"), "{engine}");
        // An operator's correction.
        let account = store
            .store_credit()
            .adjust_store_credit(ann, Currency::GBP, d("-3"), "double refund")
            .unwrap();
        assert_eq!(account.balance.amount, d("5"));
        let ledger: Vec<(StoreCreditEntryKind, Decimal, Decimal)> = store
            .store_credit()
            .store_credit_entries(ann, Currency::GBP)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.amount.amount, e.balance.amount))
            .collect();
        assert_eq!(
            ledger,
            [
                (StoreCreditEntryKind::Refund, d("15"), d("15")),
                (StoreCreditEntryKind::CreditNote, d("5"), d("20")),
                (StoreCreditEntryKind::Spend, d("-20"), d("0")),
                (StoreCreditEntryKind::Refund, d("8"), d("8")),
                (StoreCreditEntryKind::Adjust, d("-3"), d("5")),
            ],
            "{engine}"
        );
        let entries = store
            .store_credit()
            .store_credit_entries(ann, Currency::GBP)
            .unwrap();
        assert_eq!(entries[1].credit_note_id, Some(note.id));
        assert_eq!(entries[2].payment_id, Some(p.id));
        assert_eq!(entries[3].refund_id, Some(back[1].id));
        assert_eq!(entries[4].reason.as_deref(), Some("double refund"));
        // Accounts are per currency: nothing in euros.
        assert_eq!(
            store
                .store_credit()
                .store_credit_balance(ann, Currency::EUR)
                .unwrap()
                .amount,
            d("0")
        );
        assert_eq!(store.store_credit().store_credit(ann).unwrap().len(), 1);
        assert_consistent(&store);
    }
}

#[test]
fn store_credit_refuses_what_it_cannot_do_naming_the_field_and_writes_nothing() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        store
            .store_credit()
            .adjust_store_credit(ann, Currency::GBP, d("5"), "welcome")
            .unwrap();
        let o = order(&store, ann, 1);
        let refused = |e: custdb::Error, field: &str| {
            let (f, reason) = invalid(&e);
            assert_eq!(f, field, "{engine}: {reason}");
        };
        // More than the customer has, zero, too many decimals, more than due.
        refused(
            store.orders().pay_with_store_credit(o, d("6")).unwrap_err(),
            "amount",
        );
        refused(
            store.orders().pay_with_store_credit(o, d("0")).unwrap_err(),
            "amount",
        );
        refused(
            store
                .orders()
                .pay_with_store_credit(o, d("1.001"))
                .unwrap_err(),
            "amount",
        );
        refused(
            store
                .orders()
                .pay_with_store_credit(o, d("-1"))
                .unwrap_err(),
            "amount",
        );
        // Only pay_with_store_credit makes store credit payments.
        refused(
            store
                .orders()
                .pay(o, NewPayment::new(PaymentMethod::StoreCredit, d("1")))
                .unwrap_err(),
            "method",
        );
        refused(
            store
                .orders()
                .pay(
                    o,
                    NewPayment::new(PaymentMethod::Card, d("1")).provider("custdb", "x"),
                )
                .unwrap_err(),
            "provider",
        );
        // A guest has no store credit.
        let guest = store
            .orders()
            .place(
                NewOrder::for_guest("g@example.com", Currency::GBP)
                    .line(NewOrderLine::new("MUG", 1)),
            )
            .unwrap()
            .id;
        refused(
            store
                .orders()
                .pay_with_store_credit(guest, d("1"))
                .unwrap_err(),
            "order_id",
        );
        store
            .orders()
            .pay(guest, NewPayment::new(PaymentMethod::Card, d("10")))
            .unwrap();
        refused(
            store
                .orders()
                .refund(guest, NewRefund::new(d("1"), "x").to_store_credit())
                .unwrap_err(),
            "to_store_credit",
        );
        assert_eq!(store.orders().refunds(guest).unwrap().len(), 0, "{engine}");
        refused(
            store
                .orders()
                .issue_credit_note(&credit_note(None, "1"))
                .unwrap_err(),
            "customer_id",
        );
        // Corrections: never below zero, never zero, a reason, a limit.
        let sc = store.store_credit();
        refused(
            sc.adjust_store_credit(ann, Currency::GBP, d("-5.01"), "x")
                .unwrap_err(),
            "amount",
        );
        refused(
            sc.adjust_store_credit(ann, Currency::GBP, d("0"), "x")
                .unwrap_err(),
            "amount",
        );
        refused(
            sc.adjust_store_credit(ann, Currency::GBP, d("1"), "  ")
                .unwrap_err(),
            "reason",
        );
        refused(
            sc.adjust_store_credit(ann, Currency::GBP, d("1"), &"r".repeat(201))
                .unwrap_err(),
            "reason",
        );
        refused(
            sc.adjust_store_credit(ann, Currency::GBP, d("999996"), "x")
                .unwrap_err(),
            "amount",
        );
        refused(
            sc.adjust_store_credit(ann, Currency::JPY, d("0.5"), "x")
                .unwrap_err(),
            "amount",
        );
        assert!(matches!(
            sc.adjust_store_credit(CustomerId::new(), Currency::GBP, d("1"), "x")
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound { .. }
        ));
        // An archived customer may be paid out, not credited: neither by
        // an adjustment nor by a refund taken as store credit.
        let bob = store
            .customers()
            .create(NewCustomer::new("Bob"))
            .unwrap()
            .id;
        let bobs = paid_order(&store, bob, 1);
        store.customers().archive(bob).unwrap();
        assert!(matches!(
            store
                .orders()
                .refund(bobs, NewRefund::new(d("10"), "x").to_store_credit())
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidState { .. }
        ));
        assert!(store.orders().refunds(bobs).unwrap().is_empty());
        assert!(matches!(
            sc.adjust_store_credit(bob, Currency::GBP, d("1"), "x")
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidState { .. }
        ));
        // Nothing of any refusal was written.
        assert_eq!(balance(&store, ann), d("5"), "{engine}");
        assert_eq!(
            store
                .store_credit()
                .store_credit_entries(ann, Currency::GBP)
                .unwrap()
                .len(),
            1
        );
        assert!(store.orders().payments(o).unwrap().is_empty());
        assert_consistent(&store);
    }
}

#[test]
fn store_credit_never_goes_below_zero_under_concurrency() {
    const THREADS: usize = 8;
    for (engine, on) in every_engine() {
        let store: Store = (*on).clone();
        let ann = shop(&store);
        store
            .catalog()
            .create_product(
                NewProduct::new("Pen")
                    .variant(NewVariant::new("PEN", d("3.00"), Currency::GBP).track_stock(false)),
            )
            .unwrap();
        store
            .store_credit()
            .adjust_store_credit(ann, Currency::GBP, d("10"), "welcome")
            .unwrap();
        let orders: Vec<OrderId> = (0..THREADS)
            .map(|_| {
                store
                    .orders()
                    .place(
                        NewOrder::for_customer(ann, Currency::GBP)
                            .line(NewOrderLine::new("PEN", 1)),
                    )
                    .unwrap()
                    .id
            })
            .collect();
        let paid = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(THREADS));
        let handles: Vec<_> = orders
            .into_iter()
            .enumerate()
            .map(|(t, o)| {
                let (store, paid, barrier) = (store.clone(), paid.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    match store.orders().pay_with_store_credit(o, d("3")) {
                        Ok(_) => {
                            paid.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            let (field, reason) = invalid(&e);
                            assert_eq!(field, "amount", "thread {t}: {reason}");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(paid.load(Ordering::SeqCst), 3, "{engine}");
        assert_eq!(balance(&store, ann), d("1"), "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn a_merge_moves_store_credit_to_the_survivor() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        let dup = store
            .customers()
            .create(NewCustomer::new("Ann B."))
            .unwrap()
            .id;
        let sc = store.store_credit();
        sc.adjust_store_credit(ann, Currency::GBP, d("2"), "welcome")
            .unwrap();
        sc.adjust_store_credit(dup, Currency::GBP, d("7"), "welcome")
            .unwrap();
        sc.adjust_store_credit(dup, Currency::EUR, d("4"), "welcome")
            .unwrap();
        // A credit note to store credit: the merge moves the note to the
        // survivor and the credit with the rest.
        store
            .orders()
            .issue_credit_note(&credit_note(Some(dup), "1"))
            .unwrap();
        store.duplicates().merge(ann, dup).unwrap();
        assert_eq!(balance(&store, ann), d("10"), "{engine}");
        assert_eq!(balance(&store, dup), d("0"), "{engine}");
        let euros = sc.store_credit_balance(ann, Currency::EUR).unwrap();
        assert_eq!(euros.amount, d("4"), "{engine}");
        let last = sc
            .store_credit_entries(ann, Currency::GBP)
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            (last.kind, last.other_customer_id),
            (StoreCreditEntryKind::Transfer, Some(dup))
        );
        assert_consistent(&store);
    }
}

#[test]
fn store_credit_is_events_the_ledger_is_append_only_and_check_finds_tampering() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        store.verify_audit().unwrap();
        let head = store.changes().head().unwrap();
        store
            .store_credit()
            .adjust_store_credit(ann, Currency::GBP, d("5"), "apology")
            .unwrap();
        store.verify_audit().unwrap();
        let events = store.changes().after(head, 100).unwrap();
        let kinds: Vec<ChangeKind> = events.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [ChangeKind::CustomerStoreCreditAdjusted], "{engine}");
        assert!(store
            .try_sql("UPDATE store_credit_entries SET amount_e4 = 1")
            .is_err());
        assert!(store.try_sql("DELETE FROM store_credit_entries").is_err());
        assert_consistent(&store);
        store.tamper(
            "store_credit_accounts",
            &[],
            "UPDATE store_credit_accounts SET balance_e4 = balance_e4 + 10000",
        );
        let report = store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("store credit")),
            "{engine}: {:?}",
            report.problems
        );
    }
}
