//! A day in a small shop with two warehouses: receive stock, place orders
//! (one refused for a shortfall, one priced by custdb from a price list, a
//! customer group's list, a coupon and VAT), take payment (one partly with
//! a gift card), earn loyalty points, ship with tracking, take a return
//! refunded as store credit, spend points and store credit, and ask what to
//! reorder. Prints the ledger, the balances and the totals.
//!
//! ```text
//! cargo run --example shop
//! ```
//!
//! It works on a fresh in-memory store each run, so the figures are the same
//! every time.

use custdb::Currency;
use custdb::{
    Actor, AddressKind, Decimal, NewAddress, NewCoupon, NewCustomer, NewGiftCard, NewLoyaltyRule,
    NewOrder, NewOrderLine, NewPayment, NewPriceList, NewProduct, NewPromotion, NewRefund,
    NewReturn, NewShipment, NewTaxRate, NewVariant, NewWarehouse, Options, PaymentMethod,
    PromotionEffect, ReplenishmentRule, Store,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clerk = Actor::new("shop-clerk", "Shop clerk")?;
    let store = Store::open_in_memory_with(Options::default().actor(clerk))?;
    let gbp = |cents: i64| Decimal::new(cents, 2);

    // Morning: the catalog, two warehouses, a delivery.
    let (tee_m, tee_l, mug) = store.write(|tx| {
        let tee = tx.catalog().create_product(
            NewProduct::new("Organic tee")
                .variant(
                    NewVariant::new("TEE-M", gbp(1800), Currency::GBP)
                        .option("size", "M")
                        .title("M"),
                )
                .variant(
                    NewVariant::new("TEE-L", gbp(1800), Currency::GBP)
                        .option("size", "L")
                        .title("L"),
                ),
        )?;
        let mug =
            tx.catalog()
                .create_product(NewProduct::new("Enamel mug").variant(NewVariant::new(
                    "MUG",
                    gbp(900),
                    Currency::GBP,
                )))?;
        let inv = tx.inventory();
        let leeds = inv.create_warehouse(
            NewWarehouse::new("LDS", "Leeds")
                .address("1 Mill St", "Leeds", "LS1 1AA", "GB")
                .priority(1),
        )?;
        let bristol = inv.create_warehouse(
            NewWarehouse::new("BRS", "Bristol")
                .address("9 Quay", "Bristol", "BS1 4AA", "GB")
                .priority(2),
        )?;
        // Variants come in the order given: M, then L.
        let (m, l, mug) = (tee.variants[0].id, tee.variants[1].id, mug.variants[0].id);
        inv.receive(m, leeds.id, 6)?;
        inv.receive(m, bristol.id, 4)?;
        inv.receive(l, leeds.id, 3)?;
        inv.receive(mug, bristol.id, 12)?;
        for (v, w) in [(m, leeds.id), (l, leeds.id), (mug, bristol.id)] {
            inv.set_replenishment_rule(
                v,
                w,
                ReplenishmentRule {
                    reorder_point: 4,
                    target_level: 12,
                    order_multiple: 6,
                },
            )?;
        }
        Ok::<_, custdb::Error>((m, l, mug))
    })?;

    // Customers.
    let (ada, grace) = store.write(|tx| {
        let ada = tx
            .customers()
            .create(NewCustomer::new("Ada Lovelace").email("ada@example.com"))?;
        tx.customers().add_address(
            ada.id,
            NewAddress::new(
                AddressKind::Shipping,
                "12 St James's Square",
                "London",
                "GB",
            )
            .postal_code("SW1Y 4JH"),
        )?;
        let grace = tx
            .customers()
            .create(NewCustomer::new("Grace Hopper").email("grace@example.org"))?;
        tx.customers().add_address(
            grace.id,
            NewAddress::new(AddressKind::Shipping, "1 Navy Way", "Arlington", "US"),
        )?;
        Ok::<_, custdb::Error>((ada.id, grace.id))
    })?;

    // Orders: Ada's is split across warehouses; Grace asks for too much.
    let first = store.write(|tx| {
        tx.orders().place(
            NewOrder::for_customer(ada, Currency::GBP)
                .line(NewOrderLine::new("TEE-M", 8).tax_rate(Decimal::new(2, 1)))
                .line(
                    NewOrderLine::new("MUG", 2)
                        .discount(gbp(150))
                        .tax_rate(Decimal::new(2, 1)),
                )
                .shipping(gbp(495))
                .idempotency_key("web-checkout-1001"),
        )
    })?;
    println!(
        "order #{} placed for Ada: total {}",
        first.number, first.total
    );
    match store.write(|tx| {
        tx.orders()
            .place(NewOrder::for_customer(grace, Currency::GBP).line(NewOrderLine::new("TEE-L", 5)))
    }) {
        Ok(o) => println!("unexpected: order #{} placed", o.number),
        Err(e) => println!("order for Grace refused: {e}"),
    }
    let second = store.write(|tx| {
        tx.orders()
            .place(NewOrder::for_customer(grace, Currency::GBP).line(NewOrderLine::new("TEE-L", 3)))
    })?;
    println!(
        "order #{} placed for Grace: total {}",
        second.number, second.total
    );

    // Midday: custdb prices an order itself (docs/PRICING.md). VAT at 20 %,
    // shelf prices with tax included, and a trade price list for the
    // trade group, which Ada joins.
    let priced = store.write(|tx| {
        let p = tx.pricing();
        p.set_tax_rate(NewTaxRate::new("GB", Decimal::new(2, 1), "VAT 20%"))?;
        let shelf =
            p.create_price_list(NewPriceList::new("shelf", "Shelf prices", Currency::GBP).gross())?;
        p.set_price(shelf.id, mug, 1, gbp(1099))?;
        p.set_price(shelf.id, tee_m, 1, gbp(2160))?;
        let trade = p.create_customer_group("trade", "Trade customers")?;
        let trade_list = p.create_price_list(
            NewPriceList::new("trade", "Trade prices", Currency::GBP).for_group(trade.id),
        )?;
        // Trade buys mugs by the box: 7.50 each from 4.
        p.set_price(trade_list.id, mug, 4, gbp(750))?;
        p.add_to_group(trade.id, ada, None, None)?;
        // A spring campaign: 10 % off with a code, once per customer
        // (docs/PRICING.md, "Promotions").
        let spring = tx.promotions().create_promotion(
            NewPromotion::new(
                "spring10",
                "Spring 10% off",
                PromotionEffect::PercentOffOrder {
                    percent: Decimal::TEN,
                },
            )
            .requires_coupon(),
        )?;
        tx.promotions()
            .create_coupon(NewCoupon::new("SPRING10", spring.id).per_customer_limit(1))?;
        tx.orders().place(
            NewOrder::for_customer(ada, Currency::GBP)
                .priced_by_catalog()
                .coupon("spring10")
                .line(NewOrderLine::new("MUG", 4))
                .line(NewOrderLine::new("TEE-M", 1)),
        )
    })?;
    println!(
        "order #{} priced by custdb for Ada: total {}",
        priced.number, priced.total
    );
    for line in &priced.lines {
        if let Some(source) = &line.price_source {
            println!("  {} × {}: {}", line.quantity, line.sku, source.explanation);
            for d in &source.discounts {
                println!(
                    "    less {} by promotion {:?} (coupon {})",
                    d.amount,
                    d.promotion_key,
                    d.coupon_code.as_deref().unwrap_or("none")
                );
            }
        }
    }

    // Afternoon: payment, shipping with tracking, a return and a refund.
    // Customers earn a point per pound paid, each worth a penny, for a
    // year (docs/BALANCES.md).
    store.loyalty().set_loyalty_rule(
        NewLoyaltyRule::new(Currency::GBP, Decimal::ONE, gbp(1)).expires_after_days(365),
    )?;
    // Ada pays her priced order with a 20.00 gift card she was given and
    // the rest by card (the shop prints its own codes on its cards).
    let card = store
        .gift_cards()
        .issue_gift_card(NewGiftCard::new(Currency::GBP, gbp(2000)).code("GIFT-ADA1-2026-XMAS"))?;
    store.write(|tx| {
        let o = tx.orders();
        o.pay_with_gift_card(priced.id, &card.code, gbp(2000))?;
        o.pay(
            priced.id,
            NewPayment::new(PaymentMethod::Card, priced.total.amount - gbp(2000))
                .provider("stripe", "pi_3Ny"),
        )
    })?;
    store.write(|tx| {
        let o = tx.orders();
        o.pay(
            first.id,
            NewPayment::new(PaymentMethod::Card, first.total.amount).provider("stripe", "pi_3Nx"),
        )?;
        o.pay(
            second.id,
            NewPayment::new(PaymentMethod::Wallet, second.total.amount)
                .provider("paypal", "PAY-77"),
        )?;
        o.ship(
            first.id,
            NewShipment::everything("Royal Mail", "RM123456785GB").line("TEE-M", 6),
        )?;
        o.ship(first.id, NewShipment::everything("DPD", "15501234567890"))?;
        o.ship(
            second.id,
            NewShipment::everything("UPS", "1Z999AA10123456784"),
        )?;
        o.mark_delivered(first.id)?;
        o.return_items(
            first.id,
            NewReturn::new("too small").line(custdb::NewReturnLine::restocked("TEE-M", 2)),
        )?;
        // Ada takes the refund as store credit rather than back on her card.
        o.refund(
            first.id,
            NewRefund::new(gbp(4320), "two tees returned").to_store_credit(),
        )?;
        Ok::<_, custdb::Error>(())
    })?;

    // Late afternoon: Ada spends 100 points and 10.00 of her store credit
    // on a mug, and pays the rest by card.
    let third = store.write(|tx| {
        let o = tx.orders();
        let mug_order = o.place(
            NewOrder::for_customer(ada, Currency::GBP)
                .priced_by_catalog()
                .line(NewOrderLine::new("MUG", 2)),
        )?;
        o.pay_with_points(mug_order.id, 100)?;
        o.pay_with_store_credit(mug_order.id, gbp(1000))?;
        let due = mug_order.total.amount - gbp(100) - gbp(1000);
        o.pay(mug_order.id, NewPayment::new(PaymentMethod::Card, due))?;
        o.get(mug_order.id)
    })?;
    println!(
        "order #{} for Ada: total {}, paid with 100 points, 10.00 of store credit and a card",
        third.number, third.total
    );

    // Evening: the books.
    store.read(|r| {
        println!("\nstock ledger, TEE-M:");
        for m in r.inventory().movements(tee_m, None, 100)?.items {
            let code = r.inventory().warehouse(m.warehouse_id)?.code;
            println!(
                "  #{:<3} {:<12} {:<4} on hand {:+4}  reserved {:+4}",
                m.seq,
                m.kind.as_str(),
                code,
                m.on_hand_delta,
                m.reserved_delta
            );
        }
        println!("\nbalances:");
        for v in [tee_m, tee_l, mug] {
            for l in r.inventory().levels(v)? {
                println!(
                    "  {:<6} {:<4} on hand {:>3}  reserved {:>3}  available {:>3}",
                    l.sku, l.warehouse_code, l.on_hand, l.reserved, l.available
                );
            }
        }
        println!("\norders:");
        for id in [first.id, second.id, priced.id, third.id] {
            let o = r.orders().get(id)?;
            println!(
                "  #{} {:<10} subtotal {} discount {} tax {} shipping {} total {} paid {} refunded {}",
                o.number,
                o.status.as_str(),
                o.subtotal,
                o.discount_total,
                o.tax_total,
                o.shipping,
                o.total,
                o.paid,
                o.refunded
            );
            for s in r.orders().shipments(id)? {
                println!(
                    "     shipped by {} ({})",
                    s.carrier,
                    s.tracking_number.unwrap_or_default()
                );
            }
        }
        println!("\nAda's balances:");
        let gift = r.gift_cards().gift_card(card.card.id)?;
        println!("  gift card …{}: {}", gift.code_last4, gift.balance);
        println!(
            "  store credit: {}",
            r.store_credit().store_credit_balance(ada, Currency::GBP)?
        );
        let points = r.loyalty().loyalty_account(ada)?;
        println!("  loyalty points: {}", points.points);
        for e in r.loyalty().loyalty_entries(ada)? {
            println!(
                "    {:<7} {:>5} (balance {})",
                e.kind.as_str(),
                e.points,
                e.balance
            );
        }
        for (who, id) in [("Ada", ada), ("Grace", grace)] {
            let ltv: Vec<String> = r.orders().lifetime_value(id)?.iter().map(ToString::to_string).collect();
            println!("  lifetime value of {who}: {}", ltv.join(", "));
        }
        println!("\nreplenishment suggestions:");
        for s in r.inventory().replenishment_suggestions()? {
            println!(
                "  order {:>3} × {} for {} (available {}, reorder point {})",
                s.quantity, s.level.sku, s.level.warehouse_code, s.level.available, s.rule.reorder_point
            );
        }
        Ok::<_, custdb::Error>(())
    })?;
    let report = store.check()?;
    println!(
        "\ncheck: {}",
        if report.is_ok() {
            "ok".to_owned()
        } else {
            format!("{:?}", report.problems)
        }
    );
    Ok(())
}
