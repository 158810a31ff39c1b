//! Gift cards (docs/BALANCES.md): issue, pay an order, refund back onto
//! the card, corrections, every refusal, a balance that never goes below
//! zero (also with eight orders paying from one card at once), the ledger
//! append-only, events and `check()`. Every test runs on each engine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Duration, Utc};
use custdb::{
    ChangeKind, Currency, CustomerId, Decimal, ErrorKind, GiftCardEntryKind, NewCustomer,
    NewGiftCard, NewOrder, NewOrderLine, NewPayment, NewProduct, NewRefund, NewVariant, OrderId,
    OrderStatus, PaymentMethod, Store,
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

#[test]
fn a_gift_card_pays_an_order_and_a_refund_goes_back_onto_it() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        let g = store.gift_cards();
        let issued = g
            .issue_gift_card(NewGiftCard::new(Currency::GBP, d("25")).note("Xmas campaign"))
            .unwrap();
        // A drawn code: 16 characters of Crockford's base 32 in groups.
        assert_eq!(issued.code.len(), 19, "{engine}");
        assert!(issued
            .code
            .chars()
            .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)));
        assert_eq!(issued.card.balance.amount, d("25"));
        assert_eq!(issued.card.code_last4, &issued.code[15..]);
        // Found again by its code as printed: any case, spaces or dashes.
        let spaced = issued.code.to_lowercase().replace('-', " ");
        assert_eq!(g.gift_card_by_code(&spaced).unwrap().id, issued.card.id);
        // 15.00 of a 30.00 order from the card, the rest by card payment.
        let o = order(&store, ann, 3);
        let p = store
            .orders()
            .pay_with_gift_card(o, &issued.code, d("15"))
            .unwrap();
        assert_eq!(
            (p.method, p.provider.as_deref()),
            (PaymentMethod::GiftCard, Some("custdb")),
            "{engine}"
        );
        assert!(p
            .provider_reference
            .unwrap()
            .ends_with(&issued.card.code_last4));
        assert_eq!(g.gift_card(issued.card.id).unwrap().balance.amount, d("10"));
        store
            .orders()
            .pay(o, NewPayment::new(PaymentMethod::Card, d("15")))
            .unwrap();
        assert_eq!(
            store.orders().get(o).unwrap().status,
            OrderStatus::Paid,
            "{engine}"
        );
        // Refunds go back by the newest payment first: 15.00 to the
        // bank card, then 5.00 onto the gift card.
        store
            .orders()
            .refund(o, NewRefund::new(d("20"), "returned"))
            .unwrap();
        let card = g.gift_card(issued.card.id).unwrap();
        assert_eq!(card.balance.amount, d("15"), "{engine}");
        let kinds: Vec<(GiftCardEntryKind, Decimal, Decimal)> = g
            .gift_card_entries(card.id)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.amount.amount, e.balance.amount))
            .collect();
        assert_eq!(
            kinds,
            [
                (GiftCardEntryKind::Issue, d("25"), d("25")),
                (GiftCardEntryKind::Redeem, d("-15"), d("10")),
                (GiftCardEntryKind::Refund, d("5"), d("15"))
            ],
            "{engine}"
        );
        // An operator's correction, with a reason.
        g.adjust_gift_card(card.id, d("-2.50"), "goodwill reversed")
            .unwrap();
        assert_eq!(
            g.gift_card(card.id).unwrap().balance.amount,
            d("12.50"),
            "{engine}"
        );
        assert_consistent(&store);
    }
}

#[test]
fn a_gift_card_refuses_what_it_cannot_pay_naming_the_field() {
    for (engine, store) in every_engine() {
        let ann = shop(&store);
        let g = store.gift_cards();
        let card = g
            .issue_gift_card(NewGiftCard::new(Currency::GBP, d("5")).code("ABCD-1234-EFGH"))
            .unwrap();
        assert_eq!(card.code, "ABCD1234EFGH");
        let euro = g
            .issue_gift_card(NewGiftCard::new(Currency::EUR, d("50")).code("EURO-CARD-0001"))
            .unwrap();
        let off = g
            .issue_gift_card(NewGiftCard::new(Currency::GBP, d("50")).code("LOST-CARD-0001"))
            .unwrap();
        g.set_gift_card_active(off.card.id, false).unwrap();
        g.issue_gift_card(
            NewGiftCard::new(Currency::GBP, d("50"))
                .code("SOON-GONE-0001")
                .expires_at(Utc::now() + Duration::milliseconds(300)),
        )
        .unwrap();
        let o = order(&store, ann, 1);
        let pay = |code: &str, amount: &str| {
            invalid(
                &store
                    .orders()
                    .pay_with_gift_card(o, code, d(amount))
                    .unwrap_err(),
            )
        };
        std::thread::sleep(std::time::Duration::from_millis(400));
        for (code, amount, field, expected) in [
            ("ABCD1234EFGH", "6", "amount", "more than the 5.00 GBP left"),
            ("ABCD1234EFGH", "0", "amount", "above 0"),
            ("ABCD1234EFGH", "-1", "amount", "negative"),
            ("ABCD1234EFGH", "1.001", "amount", "decimals"),
            ("NOPE-NOPE-NOPE", "1", "code", "no gift card"),
            ("EURO-CARD-0001", "1", "code", "is in EUR"),
            ("LOST-CARD-0001", "1", "code", "switched off"),
            ("SOON-GONE-0001", "1", "code", "expired at"),
            ("SHORT-CODE1", "1", "code", "12 to 32"),
            ("ÄÖÜÄÖÜÄÖÜ", "1", "code", "letters and digits"),
        ] {
            let (f, reason) = pay(code, amount);
            assert_eq!(f, field, "{engine} {code} {amount}: {reason}");
            assert!(reason.contains(expected), "{engine} {code}: {reason}");
        }
        // More than the order still owes, though the card holds it.
        let (f, _) = pay("EURO-CARD-0001", "11");
        assert_eq!(f, "code");
        let big = g
            .issue_gift_card(NewGiftCard::new(Currency::GBP, d("100")).code("BIG-CARD-00001"))
            .unwrap();
        let (f, reason) = pay("BIG-CARD-00001", "11");
        assert_eq!(f, "amount", "{reason}");
        // Nothing was written by the refusals.
        assert_eq!(g.gift_card(big.card.id).unwrap().balance.amount, d("100"));
        assert!(store.orders().payments(o).unwrap().is_empty());
        // Issuing: every bad input.
        for (new, field) in [
            (NewGiftCard::new(Currency::GBP, d("0")), "amount"),
            (NewGiftCard::new(Currency::GBP, d("-5")), "amount"),
            (NewGiftCard::new(Currency::GBP, d("1000000.01")), "amount"),
            (NewGiftCard::new(Currency::JPY, d("1.5")), "amount"),
            (
                NewGiftCard::new(Currency::GBP, d("5")).code("ELEVEN-CHAR"),
                "code",
            ),
            (
                NewGiftCard::new(Currency::GBP, d("5")).code("x".repeat(33)),
                "code",
            ),
            (
                NewGiftCard::new(Currency::GBP, d("5")).expires_at(Utc::now() - Duration::days(1)),
                "expires_at",
            ),
            (
                NewGiftCard::new(Currency::GBP, d("5")).note("n".repeat(201)),
                "note",
            ),
        ] {
            let e = g.issue_gift_card(new).unwrap_err();
            assert_eq!(invalid(&e).0, field, "{engine}");
        }
        assert!(matches!(
            g.issue_gift_card(NewGiftCard::new(Currency::GBP, d("5")).code("abcd 1234 efgh"))
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists { field: "code", .. }
        ));
        // Corrections never take a card below zero or above the limit.
        let e = g
            .adjust_gift_card(card.card.id, d("-5.01"), "too much")
            .unwrap_err();
        assert_eq!(invalid(&e).0, "amount");
        let e = g
            .adjust_gift_card(card.card.id, d("0"), "nothing")
            .unwrap_err();
        assert_eq!(invalid(&e).0, "amount");
        let e = g.adjust_gift_card(card.card.id, d("1"), "").unwrap_err();
        assert_eq!(invalid(&e).0, "reason");
        let e = g
            .adjust_gift_card(big.card.id, d("999999"), "over the limit")
            .unwrap_err();
        assert_eq!(invalid(&e).0, "amount");
        // What a card paid counts against the limit: its refund must fit.
        let o2 = order(&store, ann, 5);
        store
            .orders()
            .pay_with_gift_card(o2, "BIG-CARD-00001", d("50"))
            .unwrap();
        let e = g
            .adjust_gift_card(big.card.id, d("999950"), "fills the card")
            .unwrap_err();
        assert!(invalid(&e).1.contains("refunds"), "{e}");
        g.adjust_gift_card(big.card.id, d("999900"), "up to the limit")
            .unwrap();
        store
            .orders()
            .refund(o2, NewRefund::new(d("50"), "back onto the card"))
            .unwrap();
        assert_eq!(
            g.gift_card(big.card.id).unwrap().balance.amount,
            d("1000000"),
            "{engine}"
        );
        // The provider "custdb" is custdb's own.
        let e = store
            .orders()
            .pay(
                o,
                NewPayment::new(PaymentMethod::GiftCard, d("1"))
                    .provider("custdb", "gift card …EFGH"),
            )
            .unwrap_err();
        assert_eq!(invalid(&e).0, "provider");
        // JSON input is strict.
        assert!(serde_json::from_str::<NewGiftCard>(
            r#"{"currency":"GBP","amount":"5","balance":"9"}"#
        )
        .is_err());
        let _ = euro;
        assert_consistent(&store);
    }
}

/// One card of 10.00, eight orders of 3.00 paying from it at once: three
/// are paid, five refused, and the balance is 1.00.
#[test]
fn a_gift_card_never_goes_below_zero_under_concurrency() {
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
        let card = store
            .gift_cards()
            .issue_gift_card(NewGiftCard::new(Currency::GBP, d("10")))
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
                let code = card.code.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let result = if t % 2 == 0 {
                        store.orders().pay_with_gift_card(o, &code, d("3"))
                    } else {
                        store.write(|tx| tx.orders().pay_with_gift_card(o, &code, d("3")))
                    };
                    match result {
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
        assert_eq!(
            store
                .gift_cards()
                .gift_card(card.card.id)
                .unwrap()
                .balance
                .amount,
            d("1"),
            "{engine}"
        );
        assert_consistent(&store);
    }
}

#[test]
fn gift_cards_are_events_the_ledger_is_append_only_and_check_finds_tampering() {
    for (engine, store) in every_engine() {
        shop(&store);
        store.verify_audit().unwrap();
        let head = store.changes().head().unwrap();
        let g = store.gift_cards();
        let card = g
            .issue_gift_card(NewGiftCard::new(Currency::GBP, d("20")))
            .unwrap();
        g.adjust_gift_card(card.card.id, d("5"), "apology").unwrap();
        g.set_gift_card_active(card.card.id, false).unwrap();
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
                ChangeKind::GiftCardIssued,
                ChangeKind::GiftCardAdjusted,
                ChangeKind::GiftCardUpdated
            ],
            "{engine}"
        );
        // The code is not stored: only its hash and its last four.
        let stored = store.contents().join("\n");
        let bare = card.code.replace('-', "");
        assert!(!stored.contains(&bare), "{engine}: the code is stored");
        assert!(store
            .try_sql("UPDATE gift_card_entries SET amount_e4 = 1")
            .is_err());
        assert!(store.try_sql("DELETE FROM gift_card_entries").is_err());
        assert_consistent(&store);
        store.tamper(
            "gift_cards",
            &[],
            "UPDATE gift_cards SET balance_e4 = balance_e4 + 10000",
        );
        let report = store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("gift card")),
            "{engine}: {:?}",
            report.problems
        );
    }
}
