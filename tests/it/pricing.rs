//! Prices and tax (docs/PRICING.md): tax classes and rates, customer
//! groups, price lists with groups, periods and quantity breaks, and the
//! quote that says where each number came from. The worked examples of
//! docs/PRICING.md are here, with the figures worked out by hand. Every
//! test runs on each engine and ends with `check()` clean.

use std::str::FromStr;

use chrono::{Duration, TimeZone, Utc};
use custdb::{
    ChangeKind, Currency, Decimal, ErrorKind, NewPriceList, NewProduct, NewTaxRate, NewVariant,
    QuoteRequest, VariantId, VariantPatch,
};

use crate::common::{assert_consistent, every_engine, OnEngine};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn invalid_field(e: &custdb::Error) -> String {
    match e.kind() {
        ErrorKind::Invalid { field, .. } => field.clone(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// A tea at 4.00 GBP (its own price, before tax) in the reduced class,
/// and a mug at 10.00 GBP in the standard class; no stock kept of either.
fn shop(store: &OnEngine) -> (VariantId, VariantId) {
    store
        .pricing()
        .define_tax_class("reduced", "Reduced rate")
        .unwrap();
    let tea = store
        .catalog()
        .create_product(
            NewProduct::new("Tea").variant(
                NewVariant::new("TEA", d("4.00"), Currency::GBP)
                    .tax_class("reduced")
                    .track_stock(false),
            ),
        )
        .unwrap();
    let mug = store
        .catalog()
        .create_product(
            NewProduct::new("Mug")
                .variant(NewVariant::new("MUG", d("10.00"), Currency::GBP).track_stock(false)),
        )
        .unwrap();
    (tea.variants[0].id, mug.variants[0].id)
}

#[test]
fn tax_rates_are_set_per_country_region_and_class() {
    for (engine, store) in every_engine() {
        let (tea, mug) = shop(&store);
        let p = store.pricing();
        // No rate configured at all: no tax, and the quote says so.
        let q = p
            .quote(&QuoteRequest::new(mug, 1, Currency::GBP, "GB"))
            .unwrap();
        assert_eq!(q.tax_rate, Decimal::ZERO, "{engine}");
        assert!(
            q.explanation.contains("no tax configured"),
            "{}",
            q.explanation
        );
        let vat = p
            .set_tax_rate(NewTaxRate::new("gb", d("0.2"), "VAT 20%"))
            .unwrap();
        assert_eq!(
            (vat.country.as_str(), vat.rate),
            ("GB", d("0.2")),
            "{engine}"
        );
        p.set_tax_rate(NewTaxRate::new("GB", d("0.05"), "VAT 5%").tax_class("reduced"))
            .unwrap();
        p.set_tax_rate(NewTaxRate::new("US", d("0.0725"), "CA sales tax").region("CA"))
            .unwrap();
        p.set_tax_rate(NewTaxRate::new("US", d("0"), "No federal sales tax"))
            .unwrap();
        // Setting again replaces; the id stays.
        let again = p
            .set_tax_rate(NewTaxRate::new("GB", d("0.21"), "VAT 21%"))
            .unwrap();
        assert_eq!(
            (again.id, again.rate, again.version),
            (vat.id, d("0.21"), 2)
        );
        assert_eq!(p.tax_rates().unwrap().len(), 4, "{engine}");
        // A region's own rate wins; other regions take the country's.
        let ca = p
            .tax_rate_for("US", Some("CA"), "standard")
            .unwrap()
            .unwrap();
        assert_eq!(ca.rate, d("0.0725"));
        let ny = p
            .tax_rate_for("US", Some("NY"), "standard")
            .unwrap()
            .unwrap();
        assert_eq!(ny.rate, Decimal::ZERO, "{engine}");
        assert_eq!(
            p.quote(&QuoteRequest::new(tea, 1, Currency::GBP, "GB"))
                .unwrap()
                .tax_rate,
            d("0.05")
        );
        // Rates are configured, but none for the class in France: refused.
        let e = p
            .quote(&QuoteRequest::new(tea, 1, Currency::GBP, "FR"))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "country", "{engine}");
        assert!(e.to_string().contains("reduced"), "{e}");
        // Bad input, by field; nothing written.
        for (bad, field) in [
            (NewTaxRate::new("XX", d("0.1"), "x"), "country"),
            (NewTaxRate::new("GB", d("1.5"), "x"), "rate"),
            (NewTaxRate::new("GB", d("-0.1"), "x"), "rate"),
            (NewTaxRate::new("GB", d("0.1234567"), "x"), "rate"),
            (
                NewTaxRate::new("GB", d("0.1"), "x").tax_class("luxury"),
                "tax_class",
            ),
            (
                NewTaxRate::new("GB", d("0.1"), "x").tax_class("Upper"),
                "tax_class",
            ),
            (NewTaxRate::new("GB", d("0.1"), ""), "name"),
            (
                NewTaxRate::new("GB", d("0.1"), "x").region("r".repeat(65)),
                "region",
            ),
        ] {
            let e = p.set_tax_rate(bad).unwrap_err();
            assert_eq!(invalid_field(&e), field, "{engine}");
        }
        let e = p.define_tax_class("reduced", "Again").unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AlreadyExists { .. }),
            "{engine}"
        );
        assert_eq!(p.tax_classes().unwrap().len(), 2);
        p.remove_tax_rate(ca.id).unwrap();
        let e = p.remove_tax_rate(ca.id).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotFound { .. }));
        assert_consistent(&store);
    }
}

#[test]
fn a_variant_takes_only_a_defined_tax_class() {
    for (engine, store) in every_engine() {
        let e = store
            .catalog()
            .create_product(
                NewProduct::new("Book")
                    .variant(NewVariant::new("BOOK", d("9"), Currency::GBP).tax_class("books")),
            )
            .unwrap_err();
        assert_eq!(invalid_field(&e), "variants[0].tax_class", "{engine}");
        store.pricing().define_tax_class("books", "Books").unwrap();
        let book = store
            .catalog()
            .create_product(
                NewProduct::new("Book")
                    .variant(NewVariant::new("BOOK", d("9"), Currency::GBP).tax_class("books")),
            )
            .unwrap();
        let v = &book.variants[0];
        assert_eq!(v.tax_class, "books", "{engine}");
        let e = store
            .catalog()
            .update_variant(
                v.id,
                v.version,
                VariantPatch {
                    tax_class: Some("nope".into()),
                    ..VariantPatch::default()
                },
            )
            .unwrap_err();
        assert_eq!(invalid_field(&e), "variant.tax_class", "{engine}");
        let back = store
            .catalog()
            .update_variant(
                v.id,
                v.version,
                VariantPatch {
                    tax_class: Some("standard".into()),
                    ..VariantPatch::default()
                },
            )
            .unwrap();
        assert_eq!(back.tax_class, "standard");
        assert_consistent(&store);
    }
}

/// docs/PRICING.md, "Worked example 1": a net list, a group's list and a
/// quantity break.
#[test]
fn worked_example_net_prices_group_lists_and_quantity_breaks() {
    for (engine, store) in every_engine() {
        let (_tea, mug) = shop(&store);
        let p = store.pricing();
        p.set_tax_rate(NewTaxRate::new("GB", d("0.2"), "VAT 20%"))
            .unwrap();
        let trade = p.create_customer_group("trade", "Trade customers").unwrap();
        let retail = p
            .create_price_list(NewPriceList::new("retail", "Retail", Currency::GBP))
            .unwrap();
        let wholesale = p
            .create_price_list(
                NewPriceList::new("wholesale", "Wholesale", Currency::GBP).for_group(trade.id),
            )
            .unwrap();
        p.set_price(retail.id, mug, 1, d("9.50")).unwrap();
        p.set_price(retail.id, mug, 10, d("8.75")).unwrap();
        p.set_price(wholesale.id, mug, 1, d("9.00")).unwrap();
        let quote = |qty: i64, group: bool| {
            let mut r = QuoteRequest::new(mug, qty, Currency::GBP, "GB");
            if group {
                r = r.group(trade.id);
            }
            p.quote(&r).unwrap()
        };
        // Three at retail: 3 x 9.50 = 28.50, tax 20 % = 5.70, 34.20.
        let q = quote(3, false);
        assert_eq!(
            (q.subtotal.amount, q.tax.amount, q.total.amount),
            (d("28.50"), d("5.70"), d("34.20")),
            "{engine}"
        );
        assert_eq!(q.source.price_list_key.as_deref(), Some("retail"));
        assert_eq!(
            q.explanation,
            "9.50 GBP excl. tax from price list \"retail\"; tax 20% (standard, GB: VAT 20%)"
        );
        // Twelve at retail: the break from 10 applies, 12 x 8.75 = 105.00.
        let q = quote(12, false);
        assert_eq!(
            (q.unit_price.amount, q.source.min_quantity),
            (d("8.75"), 10)
        );
        assert_eq!(q.total.amount, d("126.00"), "{engine}");
        // A trade customer: its group's list beats the list for everyone,
        // even where the general list is lower (12 units: 9.00 > 8.75).
        let q = quote(12, true);
        assert_eq!(
            q.source.price_list_key.as_deref(),
            Some("wholesale"),
            "{engine}"
        );
        assert_eq!(q.unit_price.amount, d("9.00"));
        assert_eq!(
            (q.subtotal.amount, q.tax.amount, q.total.amount),
            (d("108.00"), d("21.60"), d("129.60")),
            "{engine}"
        );
        assert_eq!(
            q.explanation,
            "9.00 GBP excl. tax from price list \"wholesale\" (a customer group's list); \
             tax 20% (standard, GB: VAT 20%)"
        );
        // No list prices the tea in GBP: its own price is the fallback.
        let tea = store.catalog().variant_by_sku("TEA").unwrap();
        p.set_tax_rate(NewTaxRate::new("GB", d("0.05"), "VAT 5%").tax_class("reduced"))
            .unwrap();
        let q = p
            .quote(&QuoteRequest::new(tea.id, 2, Currency::GBP, "GB"))
            .unwrap();
        assert_eq!(q.source.price_list_id, None, "{engine}");
        assert_eq!(
            (q.subtotal.amount, q.tax.amount, q.total.amount),
            (d("8.00"), d("0.40"), d("8.40"))
        );
        // Nor in euros: refused by field.
        let e = p
            .quote(&QuoteRequest::new(tea.id, 2, Currency::EUR, "GB"))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "currency", "{engine}");
        assert_consistent(&store);
    }
}

/// docs/PRICING.md, "Worked example 2": prices entered with tax.
#[test]
fn worked_example_gross_prices_keep_the_shelf_price() {
    for (engine, store) in every_engine() {
        let (_tea, mug) = shop(&store);
        let p = store.pricing();
        p.set_tax_rate(NewTaxRate::new("GB", d("0.2"), "VAT 20%"))
            .unwrap();
        let shelf = p
            .create_price_list(NewPriceList::new("shelf", "Shelf prices", Currency::GBP).gross())
            .unwrap();
        p.set_price(shelf.id, mug, 1, d("9.99")).unwrap();
        // One at 9.99 with tax: the customer pays 9.99; the tax in it is
        // 9.99 x 0.2 / 1.2 = 1.665, rounded half away from zero to 1.67;
        // 8.32 before tax.
        let q = p
            .quote(&QuoteRequest::new(mug, 1, Currency::GBP, "GB"))
            .unwrap();
        assert_eq!(
            (q.subtotal.amount, q.tax.amount, q.total.amount),
            (d("8.32"), d("1.67"), d("9.99")),
            "{engine}"
        );
        assert!(q.prices_include_tax);
        assert!(q.explanation.contains("incl. tax"), "{}", q.explanation);
        // Three: 29.97 paid, tax 4.995 -> 5.00, 24.97 before tax.
        let q = p
            .quote(&QuoteRequest::new(mug, 3, Currency::GBP, "GB"))
            .unwrap();
        assert_eq!(
            (q.subtotal.amount, q.tax.amount, q.total.amount),
            (d("24.97"), d("5.00"), d("29.97")),
            "{engine}"
        );
        assert_consistent(&store);
    }
}

#[test]
fn price_lists_of_one_currency_and_group_never_overlap_in_time() {
    for (engine, store) in every_engine() {
        let (_tea, mug) = shop(&store);
        let p = store.pricing();
        let jan = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let feb = jan + Duration::days(31);
        let mar = feb + Duration::days(28);
        let winter = p
            .create_price_list(
                NewPriceList::new("winter", "Winter", Currency::GBP).valid(Some(jan), Some(feb)),
            )
            .unwrap();
        // Touching periods are fine: until is exclusive.
        let spring = p
            .create_price_list(
                NewPriceList::new("spring", "Spring", Currency::GBP).valid(Some(feb), Some(mar)),
            )
            .unwrap();
        // An open-ended list for everyone overlaps both.
        let e = p
            .create_price_list(NewPriceList::new("always", "Always", Currency::GBP))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "valid_from", "{engine}");
        assert!(
            e.to_string().contains("spring"),
            "{e}: names the first list it overlaps, by key"
        );
        // Another currency, or a group's list, may overlap.
        p.create_price_list(NewPriceList::new("euro", "Euro", Currency::EUR))
            .unwrap();
        let vip = p.create_customer_group("vip", "VIP").unwrap();
        p.create_price_list(NewPriceList::new("vip", "VIP", Currency::GBP).for_group(vip.id))
            .unwrap();
        // The list in force at the quote's instant applies.
        p.set_price(winter.id, mug, 1, d("7")).unwrap();
        p.set_price(spring.id, mug, 1, d("8")).unwrap();
        let at = |t| {
            p.quote(&QuoteRequest::new(mug, 1, Currency::GBP, "GB").at(t))
                .unwrap()
                .unit_price
                .amount
        };
        assert_eq!(at(jan + Duration::days(3)), d("7"), "{engine}");
        assert_eq!(at(feb), d("8"));
        assert_eq!(
            at(mar),
            d("10"),
            "{engine}: the variant's own price after spring"
        );
        // Bad input, by field.
        let e = p
            .create_price_list(
                NewPriceList::new("backwards", "B", Currency::GBP).valid(Some(feb), Some(jan)),
            )
            .unwrap_err();
        assert_eq!(invalid_field(&e), "valid_until");
        let e = p
            .create_price_list(NewPriceList::new("Bad Key", "B", Currency::GBP))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "key");
        let e = p
            .create_price_list(
                NewPriceList::new("lost", "L", Currency::GBP)
                    .for_group(custdb::CustomerGroupId::new()),
            )
            .unwrap_err();
        assert_eq!(invalid_field(&e), "customer_group_id");
        let e = p
            .create_price_list(NewPriceList::new("winter", "W", Currency::USD))
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AlreadyExists { .. }),
            "{engine}"
        );
        for (min, price, field) in [
            (0, "1", "min_quantity"),
            (1, "-1", "price"),
            (1, "1.00001", "price"),
        ] {
            let e = p.set_price(winter.id, mug, min, d(price)).unwrap_err();
            assert_eq!(invalid_field(&e), field, "{engine}");
        }
        let e = p
            .quote(&QuoteRequest::new(mug, 0, Currency::GBP, "GB"))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "quantity");
        // Removing prices and lists.
        p.remove_price(winter.id, mug, 1).unwrap();
        assert!(p.prices_of(winter.id).unwrap().is_empty());
        p.delete_price_list(spring.id).unwrap();
        assert_eq!(p.price_lists().unwrap().len(), 3, "{engine}");
        assert_consistent(&store);
    }
}

#[test]
fn pricing_changes_are_events_and_check_finds_overlaps_written_behind_custdbs_back() {
    for (engine, store) in every_engine() {
        let (_tea, mug) = shop(&store);
        store.verify_audit().unwrap();
        let head = store.changes().head().unwrap();
        let p = store.pricing();
        let list = p
            .create_price_list(NewPriceList::new("retail", "Retail", Currency::GBP))
            .unwrap();
        p.set_price(list.id, mug, 1, d("9")).unwrap();
        p.set_tax_rate(NewTaxRate::new("GB", d("0.2"), "VAT"))
            .unwrap();
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
                ChangeKind::PriceListCreated,
                ChangeKind::PriceListUpdated,
                ChangeKind::TaxRateSet
            ],
            "{engine}"
        );
        assert_consistent(&store);
        store.tamper(
            "price_lists",
            &[],
            &format!(
                "INSERT INTO price_lists (id, key, name, currency, prices_include_tax, \
                 created_at, updated_at) SELECT '{}', 'twin', 'Twin', currency, 0, created_at, \
                 updated_at FROM price_lists WHERE key = 'retail'",
                custdb::PriceListId::new()
            ),
        );
        let report = store.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("overlap")),
            "{engine}: {:?}",
            report.problems
        );
    }
}

/// docs/PRICING.md, "Orders priced by the catalog".
#[test]
fn place_prices_an_order_itself_and_keeps_where_each_price_came_from() {
    use custdb::{
        AddressKind, NewAddress, NewCustomer, NewOrder, NewOrderLine, OrderPricing, TaxExemption,
    };
    for (engine, store) in every_engine() {
        let (tea, mug) = shop(&store);
        let p = store.pricing();
        p.set_tax_rate(NewTaxRate::new("GB", d("0.2"), "VAT 20%"))
            .unwrap();
        p.set_tax_rate(NewTaxRate::new("GB", d("0.05"), "VAT 5%").tax_class("reduced"))
            .unwrap();
        let shelf = p
            .create_price_list(NewPriceList::new("shelf", "Shelf", Currency::GBP).gross())
            .unwrap();
        p.set_price(shelf.id, mug, 1, d("9.99")).unwrap();
        let trade = p.create_customer_group("trade", "Trade").unwrap();
        let wholesale = p
            .create_price_list(
                NewPriceList::new("wholesale", "Wholesale", Currency::GBP).for_group(trade.id),
            )
            .unwrap();
        p.set_price(wholesale.id, mug, 1, d("7.00")).unwrap();
        let customer = |name: &str| {
            let c = store.customers().create(NewCustomer::new(name)).unwrap();
            store
                .customers()
                .add_address(
                    c.id,
                    NewAddress::new(AddressKind::Shipping, "1 High St", "London", "GB")
                        .make_default(),
                )
                .unwrap();
            c.id
        };
        let ann = customer("Ann");
        let order = |who, lines: Vec<NewOrderLine>| {
            let mut o = NewOrder::for_customer(who, Currency::GBP).priced_by_catalog();
            o.lines = lines;
            store.orders().place(o)
        };
        // Ann: one mug at the shelf price, two teas at their own price.
        let o = order(
            ann,
            vec![NewOrderLine::new("MUG", 1), NewOrderLine::new("TEA", 2)],
        )
        .unwrap();
        let (m, t) = (&o.lines[0], &o.lines[1]);
        assert_eq!(
            (m.total.amount, m.tax.amount, m.prices_include_tax),
            (d("9.99"), d("1.67"), true),
            "{engine}"
        );
        assert_eq!((t.total.amount, t.tax.amount), (d("8.40"), d("0.40")));
        assert_eq!(o.total.amount, d("18.39"), "{engine}");
        let source = m.price_source.as_ref().unwrap();
        assert_eq!(source.price_list_key.as_deref(), Some("shelf"));
        assert_eq!(
            source.explanation,
            "9.99 GBP incl. tax from price list \"shelf\"; tax 20% (standard, GB: VAT 20%)"
        );
        assert!(t.price_source.as_ref().unwrap().price_list_id.is_none());
        // Bob is in the trade group: its list applies.
        let bob = customer("Bob");
        p.add_to_group(trade.id, bob, None, None).unwrap();
        let o = order(bob, vec![NewOrderLine::new("MUG", 2)]).unwrap();
        assert_eq!(
            (o.lines[0].unit_price.amount, o.total.amount),
            (d("7.00"), d("16.80")),
            "{engine}"
        );
        // A membership that ended does not count.
        let ended = Utc::now() - Duration::days(1);
        p.add_to_group(trade.id, bob, None, Some(ended)).unwrap();
        let o = order(bob, vec![NewOrderLine::new("MUG", 1)]).unwrap();
        assert_eq!(o.lines[0].total.amount, d("9.99"), "{engine}");
        // Cara's business is exempt: no tax, the net price.
        let cara = customer("Cara");
        p.set_tax_exemption(
            cara,
            Some(TaxExemption {
                vat_id: "de 123.456.789".into(),
                reason: "EU reverse charge".into(),
            }),
        )
        .unwrap();
        assert_eq!(
            p.tax_exemption(cara).unwrap().unwrap().vat_id,
            "DE123456789"
        );
        let o = order(cara, vec![NewOrderLine::new("MUG", 1)]).unwrap();
        let line = &o.lines[0];
        assert_eq!(
            (line.tax.amount, line.total.amount),
            (d("0.00"), d("8.33")),
            "{engine}: an exempt customer pays the shelf price less its tax, 9.99 / 1.2"
        );
        assert_eq!(line.unit_price.amount, d("8.325"));
        let source = line.price_source.as_ref().unwrap();
        assert!(source.tax_exempt);
        assert_eq!(
            source.explanation,
            "9.99 GBP incl. tax from price list \"shelf\"; the customer is tax exempt: \
             8.325 GBP excl. 20% tax"
        );
        // Bad input, by field; nothing placed.
        let before = store.orders().history(ann, None, 100).unwrap().items.len();
        let e = order(
            ann,
            vec![NewOrderLine {
                unit_price: Some(d("1")),
                ..NewOrderLine::new("MUG", 1)
            }],
        )
        .unwrap_err();
        assert_eq!(invalid_field(&e), "lines[0].unit_price", "{engine}");
        let e = order(
            ann,
            vec![NewOrderLine {
                tax_rate: d("0.1"),
                ..NewOrderLine::new("MUG", 1)
            }],
        )
        .unwrap_err();
        assert_eq!(invalid_field(&e), "lines[0].tax_rate");
        let nowhere = store
            .customers()
            .create(NewCustomer::new("Dee"))
            .unwrap()
            .id;
        let e = order(nowhere, vec![NewOrderLine::new("MUG", 1)]).unwrap_err();
        assert_eq!(invalid_field(&e), "shipping_address", "{engine}");
        let mut abroad = NewOrder::for_customer(ann, Currency::GBP).priced_by_catalog();
        abroad.lines = vec![NewOrderLine::new("MUG", 1)];
        abroad.shipping_address = Some(custdb::AddressSnapshot {
            recipient: None,
            company: None,
            line1: "1 Rue".into(),
            line2: None,
            city: "Paris".into(),
            region: None,
            postal_code: None,
            country: "FR".into(),
        });
        let e = store.orders().place(abroad).unwrap_err();
        assert_eq!(invalid_field(&e), "shipping_address.country", "{engine}");
        let mut euros = NewOrder::for_customer(ann, Currency::EUR).priced_by_catalog();
        euros.lines = vec![NewOrderLine::new("TEA", 1)];
        let e = store.orders().place(euros).unwrap_err();
        assert_eq!(
            invalid_field(&e),
            "lines[0].sku",
            "{engine}: no price in EUR"
        );
        assert_eq!(
            store.orders().history(ann, None, 100).unwrap().items.len(),
            before,
            "{engine}: none of the refused orders was placed"
        );
        // JSON names the mode; the default stays explicit.
        let parsed: NewOrder = serde_json::from_str(&format!(
            r#"{{"customer_id":"{ann}","currency":"GBP","pricing":"catalog","lines":[{{"sku":"MUG","quantity":1}}]}}"#
        ))
        .unwrap();
        assert_eq!(parsed.pricing, OrderPricing::Catalog);
        let _ = tea;
        assert_consistent(&store);
    }
}

#[test]
fn memberships_and_exemptions_are_personal_data_exported_and_erased() {
    use custdb::{ErasureGround, NewCustomer, TaxExemption};
    for (engine, store) in every_engine() {
        let ann = store
            .customers()
            .create(NewCustomer::new("Ann"))
            .unwrap()
            .id;
        let p = store.pricing();
        let trade = p.create_customer_group("trade", "Trade").unwrap();
        let from = Utc::now() - Duration::days(10);
        let until = Utc::now() + Duration::days(10);
        let m = p
            .add_to_group(trade.id, ann, Some(from), Some(until))
            .unwrap();
        assert_eq!(
            m.valid_until.map(|u| u.timestamp()),
            Some(until.timestamp()),
            "{engine}"
        );
        assert_eq!(p.groups_of(ann, Utc::now()).unwrap().len(), 1);
        assert!(
            p.groups_of(ann, until).unwrap().is_empty(),
            "{engine}: until is exclusive"
        );
        let e = p
            .add_to_group(trade.id, ann, Some(until), Some(from))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "valid_until");
        for (vat, reason, field) in [
            ("", "r", "vat_id"),
            ("DE 12/3", "r", "vat_id"),
            ("DE1", "", "reason"),
        ] {
            let e = p
                .set_tax_exemption(
                    ann,
                    Some(TaxExemption {
                        vat_id: vat.into(),
                        reason: reason.into(),
                    }),
                )
                .unwrap_err();
            assert_eq!(invalid_field(&e), field, "{engine}");
        }
        p.set_tax_exemption(
            ann,
            Some(TaxExemption {
                vat_id: "GB123456789".into(),
                reason: "Reverse charge".into(),
            }),
        )
        .unwrap();
        let export = store.read(|r| r.privacy().export(ann)).unwrap();
        assert_eq!(export.tables["customer_group_members"].len(), 1, "{engine}");
        assert_eq!(
            export.tables["customer_tax_exemptions"][0]["vat_id"],
            "GB123456789"
        );
        store
            .write(|tx| tx.privacy().erase(ann, ErasureGround::SubjectRequest))
            .unwrap();
        assert!(p.memberships_of(ann).unwrap().is_empty(), "{engine}");
        assert!(p.tax_exemption(ann).unwrap().is_none(), "{engine}");
        // Ending an exemption and a membership of a live customer.
        let bob = store
            .customers()
            .create(NewCustomer::new("Bob"))
            .unwrap()
            .id;
        p.add_to_group(trade.id, bob, None, None).unwrap();
        p.remove_from_group(trade.id, bob).unwrap();
        assert!(p.memberships_of(bob).unwrap().is_empty());
        assert_eq!(p.set_tax_exemption(bob, None).unwrap(), None);
        assert_consistent(&store);
    }
}

/// What cannot be sold is not quoted: an archived variant, a draft product.
#[test]
fn quotes_refuse_archived_variants_and_draft_products() {
    for (engine, store) in every_engine() {
        let (tea, _) = shop(&store);
        let kit = store
            .catalog()
            .create_product(
                NewProduct::new("Kit")
                    .status(custdb::ProductStatus::Draft)
                    .variant(NewVariant::new("KIT", d("20"), Currency::GBP).track_stock(false)),
            )
            .unwrap();
        let e = store
            .pricing()
            .quote(&QuoteRequest::new(
                kit.variants[0].id,
                1,
                Currency::GBP,
                "GB",
            ))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "variant_id", "{engine}");
        store.catalog().archive_variant(tea).unwrap();
        let e = store
            .pricing()
            .quote(&QuoteRequest::new(tea, 1, Currency::GBP, "GB"))
            .unwrap_err();
        assert_eq!(invalid_field(&e), "variant_id", "{engine}");
        assert!(e.to_string().contains("archived"), "{e}");
    }
}

/// Merging duplicates keeps pricing: the survivor gains the duplicate's
/// groups and, having none, its tax exemption.
#[test]
fn merging_customers_moves_group_memberships_and_the_tax_exemption() {
    use custdb::{NewCustomer, TaxExemption};
    for (engine, store) in every_engine() {
        let p = store.pricing();
        let trade = p.create_customer_group("trade", "Trade").unwrap();
        let vip = p.create_customer_group("vip", "VIP").unwrap();
        let c = store.customers();
        let survivor = c.create(NewCustomer::new("Ann Smith")).unwrap().id;
        let duplicate = c.create(NewCustomer::new("Ann Smith")).unwrap().id;
        p.add_to_group(trade.id, survivor, None, None).unwrap();
        p.add_to_group(trade.id, duplicate, None, None).unwrap();
        p.add_to_group(vip.id, duplicate, None, None).unwrap();
        p.set_tax_exemption(
            duplicate,
            Some(TaxExemption {
                vat_id: "GB123".into(),
                reason: "Reverse charge".into(),
            }),
        )
        .unwrap();
        let plan = store.duplicates().merge(survivor, duplicate).unwrap();
        assert!(
            plan.fields
                .iter()
                .any(|f| f.field == "tax_exemption" && f.taken_from == "duplicate"),
            "{engine}: {:?}",
            plan.fields
        );
        let groups: Vec<String> = p
            .memberships_of(survivor)
            .unwrap()
            .into_iter()
            .map(|m| p.customer_group(m.group_id).unwrap().key)
            .collect();
        assert_eq!(groups.len(), 2, "{engine}: {groups:?}");
        assert!(p.memberships_of(duplicate).unwrap().is_empty());
        assert_eq!(
            p.tax_exemption(survivor).unwrap().unwrap().vat_id,
            "GB123",
            "{engine}"
        );
        assert!(p.tax_exemption(duplicate).unwrap().is_none());
        assert_consistent(&store);
    }
}
