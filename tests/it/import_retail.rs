//! The Online Retail importer on the first 8,000 lines of the real data
//! set (tests/fixtures/online-retail-head.csv.gz, CC BY 4.0, UCI Machine
//! Learning Repository, Daqing Chen 2015).

use std::collections::BTreeSet;
use std::io::Read;
use std::str::FromStr;

use crate::common::{assert_consistent, file_store, RETAIL_HEAD as HEAD};
use custdb::{Decimal, ErrorKind};
use rust_decimal::RoundingStrategy;

const HEADER: &str =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";

#[test]
fn every_line_is_accounted_for_and_a_second_run_changes_nothing() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let mut rejections = Vec::new();
        let mut steps = Vec::new();
        let report = store
            .import_retail_file(HEAD, |p| steps.push(p), |r| rejections.push(r.clone()))
            .unwrap();
        assert_eq!(report.lines_read, 8000);
        assert_eq!(
            report.imported + report.already_present + report.rejected,
            8000
        );
        assert_eq!(report.already_present, 0);
        assert_eq!(rejections.len() as u64, report.rejected);
        assert_eq!(
            report.rejected_by_reason.values().sum::<u64>(),
            report.rejected
        );
        let lines: BTreeSet<u64> = rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines.len(), rejections.len(), "each line rejected once");
        assert!(lines.iter().all(|l| (2..=8001).contains(l)));
        assert!(report.created["orders"] > 300 && report.created["customers"] > 100);
        assert_eq!(steps.last().unwrap().lines_read, 8000);
        assert!(steps.windows(2).all(|w| w[0].lines_read <= w[1].lines_read));
        assert_consistent(&store);

        let before = store.contents();
        let again = store.import_retail_file(HEAD, |_| {}, |_| {}).unwrap();
        assert_eq!(again.imported, 0);
        assert_eq!(again.already_present, report.imported);
        assert_eq!(again.rejected, report.rejected);
        assert_eq!(before, store.contents(), "a second run changes nothing");
    }
}

/// The sales total computed from the file with rust_decimal, independently
/// of the importer: every line of a sale invoice that is not a fee, has a
/// positive quantity and a price (or is a free line of a known customer),
/// line amounts rounded to the penny half away from zero.
fn expected_sales_e2(csv_text: &str) -> i64 {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut total = Decimal::ZERO;
    for record in reader.records() {
        let r = record.unwrap();
        let (invoice, code, quantity, price, customer) = (&r[0], &r[1], &r[3], &r[5], &r[6]);
        let quantity: i64 = quantity.parse().unwrap();
        let price = Decimal::from_str(price).unwrap();
        let fee = ["BANK CHARGES", "AMAZONFEE", "CRUK", "B", "D"].contains(&code);
        let sale = invoice.chars().next().unwrap().is_ascii_digit();
        if !sale || fee || quantity <= 0 || price.is_sign_negative() {
            continue;
        }
        if price.is_zero() && customer.is_empty() {
            continue;
        }
        total += (Decimal::from(quantity) * price)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    }
    i64::try_from(total * Decimal::from(100)).unwrap()
}

#[test]
fn money_is_exact_to_the_penny() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(HEAD).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let report = store
            .import_retail(text.as_bytes(), |_| {}, |_| {})
            .unwrap();
        // Postage-only invoices are rejected whole; the head has none.
        assert!(!report
            .rejected_by_reason
            .contains_key("postage without goods in the invoice"));
        let gross_e4 = store.scalar("SELECT sum(total_e4) FROM orders");
        assert_eq!(gross_e4 / 100, expected_sales_e2(&text));
        assert_eq!(gross_e4 % 100, 0, "GBP totals are whole pennies");
        // Every order is paid in full, and refunds never exceed payments.
        let unpaid = store.scalar("SELECT count(*) FROM orders WHERE paid_e4 <> total_e4");
        assert_eq!(unpaid, 0);
        assert_consistent(&store);
    }
}

#[test]
fn cancellations_become_returns_or_credit_notes() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let report = store.import_retail_file(HEAD, |_| {}, |_| {}).unwrap();
        let count = |sql: &str| -> i64 { store.scalar(sql) };
        assert_eq!(
            count("SELECT count(*) FROM returns"),
            report.created["returns"] as i64
        );
        assert_eq!(
            count("SELECT count(*) FROM credit_notes"),
            report.created["credit_notes"] as i64
        );
        assert!(report.created["returns"] > 0 && report.created["credit_notes"] > 0);
        assert_eq!(
            count("SELECT count(*) FROM returns WHERE reason NOT LIKE 'cancellation C%'"),
            0
        );
        assert!(
            count("SELECT count(*) FROM orders WHERE guest_email LIKE 'guest-%@import.invalid'")
                > 0
        );
        assert_eq!(count("SELECT count(*) FROM orders WHERE country IS NULL AND guest_email IS NULL AND customer_id IS NULL"), 0);
    }
}

#[test]
fn bad_input_is_rejected_line_by_line_or_refused_whole() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let err = store
            .import_retail("a,b,c\n1,2,3\n".as_bytes(), |_| {}, |_| {})
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Invalid { field, .. } if field == "header"));
        let text = format!(
            "{HEADER}\
         536365,85123A,HEART,six,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n\
         536365,85123B,HEART,6,yesterday,2.55,17850.0,United Kingdom\n\
         536365,85123C,HEART,6,2010-12-01 08:26:00,2.5x,17850.0,United Kingdom\n\
         536365,85123D,HEART,6,2010-12-01 08:26:00,2.55,abc,United Kingdom\n\
         536365,85123E,HEART,6,2010-12-01 08:26:00,2.55555,17850.0,United Kingdom\n\
         536365,85123F,HEART,6,2010-12-01 08:26:00,-2.55,17850.0,United Kingdom\n\
         536365,85123G,HEART,6,2010-12-01 08:26:00,2.55,17850.0\n\
         536366,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,Atlantis\n"
        );
        let mut reasons = Vec::new();
        let report = store
            .import_retail(
                text.as_bytes(),
                |_| {},
                |r| reasons.push((r.line, r.reason.clone())),
            )
            .unwrap();
        assert_eq!(
            (report.lines_read, report.imported, report.rejected),
            (8, 1, 7)
        );
        assert_eq!(
            reasons,
            vec![
                (2, "unreadable quantity".to_owned()),
                (3, "unreadable invoice date".to_owned()),
                (4, "unreadable unit price".to_owned()),
                (5, "unreadable customer id".to_owned()),
                (6, "unit price with more than four decimals".to_owned()),
                (7, "negative unit price".to_owned()),
                (8, "wrong number of columns".to_owned()),
            ]
        );
        // An unknown country imports without one.
        let orders = store
            .read(|r| {
                r.orders()
                    .by_status(custdb::OrderStatus::Delivered, None, 10)
            })
            .unwrap();
        assert_eq!(orders.items.len(), 1);
        assert!(store.check().unwrap().is_ok());
    }
}

/// The importer remembers which customer and product each key became
/// between its 500-invoice transactions; a write by anyone else between
/// two of them (here a merge that moves the imported customer's key to
/// the survivor) must make it forget, or the later orders would go to the
/// merged, archived duplicate.
#[test]
fn a_write_between_batches_is_seen_by_the_rest_of_the_import() {
    let (dir, store) = file_store();
    let mut csv = String::from(HEADER);
    for n in 0..1_100 {
        csv.push_str(&format!(
            "{},KEYTEST,KEY TEST ITEM,1,2011-01-0{} 10:00:00,1.25,12345.0,United Kingdom\n",
            600_000 + n,
            1 + n / 500
        ));
    }
    let survivor = store
        .customers()
        .create(custdb::NewCustomer::new("Survivor"))
        .unwrap()
        .id;
    let path = dir.path().join("test.db");
    let mut batches = 0;
    let report = store
        .import_retail(
            csv.as_bytes(),
            |_| {
                batches += 1;
                if batches == 1 {
                    let conn = rusqlite::Connection::open(&path).unwrap();
                    let imported: String = conn
                        .query_row(
                            "SELECT entity_id FROM import_keys WHERE entity = 'customer' AND key = '12345'",
                            [],
                            |r| r.get(0),
                        )
                        .unwrap();
                    let imported = custdb::CustomerId::parse(&imported, "entity_id").unwrap();
                    store
                        .write(|tx| tx.merges().merge(survivor, imported))
                        .unwrap();
                }
            },
            |r| panic!("line {} rejected: {}", r.line, r.reason),
        )
        .unwrap();
    assert!(batches >= 3, "the input spans three transactions");
    assert_eq!(report.imported, 1_100);
    assert_eq!(
        report.created["customers"], 1,
        "the key was found, not re-created"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let of_survivor: i64 = conn
        .query_row(
            "SELECT count(*) FROM orders WHERE customer_id = ?1",
            [survivor.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        of_survivor, 1_100,
        "every order, before and after the merge"
    );
    assert_consistent(&store);
}

/// A huge description is rejected after reading at most the limit of it,
/// and an unclosed quote does not swallow the rest of the file.
#[test]
fn huge_lines_and_unclosed_quotes_are_rejected_on_their_own() {
    use std::io::Read;
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let input =
            b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
        536365,85123A,"
                .chain(std::io::repeat(b'x').take(16 << 20))
                .chain(
                    &b",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n\
            536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n\
            536366,22633,\"HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n\
            536367,84879,ASSORTED BIRD,32,2010-12-01 08:34:00,1.69,13047.0,United Kingdom\n"[..],
                );
        let mut rejected = Vec::new();
        let report = store
            .import_retail(input, |_| {}, |r| rejected.push((r.line, r.reason.clone())))
            .unwrap();
        assert_eq!(report.lines_read, 3, "{rejected:?}");
        assert_eq!(report.imported, 1);
        assert_eq!(rejected.len(), 2, "{rejected:?}");
        assert_eq!(
            rejected[0],
            (
                2,
                format!(
                    "line longer than {} bytes",
                    custdb::import::MAX_RECORD_BYTES
                )
            )
        );
        assert_eq!(rejected[1].0, 4);
        assert!(rejected[1].1.contains("unclosed quote"), "{rejected:?}");
        crate::common::assert_consistent(&store);
    }
}
