//! Customer import from CSV and JSON Lines with a column mapping, product
//! and order import from JSON Lines, and streaming export.

use crate::common::{assert_consistent, file_store, import_retail_head};
use custdb::import::generic::{CustomerField as F, CustomerMapping};
use custdb::{Customer, ErrorKind, Order};

fn mapping() -> CustomerMapping {
    CustomerMapping::new("crm")
        .column("Id", F::Key)
        .column("Name", F::DisplayName)
        .column("E-mail", F::Email)
        .column("Tags", F::Tags)
        .column("Tier", F::Attribute("tier".into()))
        .column("Street", F::AddressLine1)
        .column("Town", F::City)
        .column("Country", F::Country)
        .column("Zip", F::PostalCode)
}

const CSV: &str = "Id,Name,E-mail,Tags,Tier,Street,Town,Country,Zip,Unused\n\
    1,Ann Lee,ann@example.com,vip;newsletter,gold,1 High St,Bath,GB,BA1 1AA,x\n\
    2,Bob Roy,not-an-email,,,,,,,x\n\
    3,,,,,,,,,x\n\
    4,Cat Kim,cat@example.com,,silver,2 Low St,,GB,,x\n\
    5,Dan Wu,dan@example.com,,,,,,,x\n";

#[test]
fn customers_from_csv_with_a_mapping() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let mut rejections = Vec::new();
        let report = store
            .import_customers_csv(
                CSV.as_bytes(),
                &mapping(),
                |_| {},
                |r| rejections.push(r.clone()),
            )
            .unwrap();
        assert_eq!(
            (report.lines_read, report.imported, report.rejected),
            (5, 2, 3)
        );
        let lines: Vec<u64> = rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(
            rejections[0].reason.contains("email"),
            "{:?}",
            rejections[0]
        );
        assert!(
            rejections[1].reason.contains("display_name"),
            "{:?}",
            rejections[1]
        );
        assert!(
            rejections[2].reason.contains("address"),
            "{:?}",
            rejections[2]
        );
        let ann = store.customers().get_by_email("ann@example.com").unwrap();
        assert_eq!(ann.tags, vec!["newsletter", "vip"]);
        assert_eq!(ann.attributes["tier"], "gold");
        assert_eq!(
            store.customers().addresses(ann.id).unwrap()[0]
                .postal_code
                .as_deref(),
            Some("BA1 1AA")
        );
        // Again: nothing changes.
        let before = store.contents();
        let again = store
            .import_customers_csv(CSV.as_bytes(), &mapping(), |_| {}, |_| {})
            .unwrap();
        assert_eq!(
            (again.imported, again.already_present, again.rejected),
            (0, 2, 3)
        );
        assert_eq!(before, store.contents());
        // A mapping naming a column the file does not have is refused.
        let bad = store
            .import_customers_csv(
                CSV.as_bytes(),
                &mapping().column("Nope", F::Notes),
                |_| {},
                |_| {},
            )
            .unwrap_err();
        assert!(matches!(bad.kind(), ErrorKind::Invalid { field, .. } if field == "mapping"));
        assert_consistent(&store);
    }
}

#[test]
fn customers_from_json_lines() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let jsonl =
            "{\"Id\": 7, \"Name\": \"Eve Ng\", \"E-mail\": \"eve@example.com\", \"Tier\": 3}\n\
                 \n\
                 not json\n\
                 [1, 2]\n";
        let mut reasons = Vec::new();
        let report = store
            .import_customers_jsonl(
                jsonl.as_bytes(),
                &mapping(),
                |_| {},
                |r| reasons.push((r.line, r.reason.clone())),
            )
            .unwrap();
        assert_eq!(
            (report.lines_read, report.imported, report.rejected),
            (3, 1, 2)
        );
        assert_eq!(reasons[0].0, 3);
        assert!(reasons[0].1.starts_with("invalid JSON"));
        assert_eq!(reasons[1], (4, "not a JSON object".to_owned()));
        let eve = store.customers().get_by_email("eve@example.com").unwrap();
        assert_eq!(eve.attributes["tier"], "3");
    }
}

#[test]
fn products_and_orders_from_json_lines() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let products = "{\"name\": \"Tea\", \"variants\": [{\"sku\": \"TEA\", \"price\": \"4.50\", \"currency\": \"GBP\", \"track_stock\": false}]}\n\
                    {\"name\": \"Bad\", \"variants\": [{\"sku\": \"BAD\", \"price\": \"-1\", \"currency\": \"GBP\"}]}\n";
        let p = store
            .import_products_jsonl(products.as_bytes(), |_| {}, |_| {})
            .unwrap();
        assert_eq!((p.imported, p.rejected), (1, 1));
        store
            .customers()
            .create(custdb::NewCustomer::new("Ann").email("ann@example.com"))
            .unwrap();
        let orders = "{\"key\": \"A1\", \"customer_email\": \"ann@example.com\", \"currency\": \"GBP\", \"placed_at\": \"2011-01-05T10:00:00Z\", \"lines\": [{\"sku\": \"TEA\", \"quantity\": 2, \"unit_price\": \"4.50\"}]}\n\
                  {\"key\": \"A2\", \"guest_email\": \"g@example.com\", \"currency\": \"GBP\", \"placed_at\": \"2011-01-06T10:00:00Z\", \"lines\": [{\"sku\": \"NOPE\", \"quantity\": 1, \"unit_price\": \"1\"}]}\n";
        let mut reasons = Vec::new();
        let o = store
            .import_orders_jsonl(
                "shop",
                orders.as_bytes(),
                |_| {},
                |r| reasons.push(r.reason.clone()),
            )
            .unwrap();
        assert_eq!((o.imported, o.rejected), (1, 1));
        assert!(reasons[0].contains("lines[0].sku"));
        let again = store
            .import_orders_jsonl("shop", orders.as_bytes(), |_| {}, |_| {})
            .unwrap();
        assert_eq!((again.imported, again.already_present), (0, 1));
        let ann = store.customers().get_by_email("ann@example.com").unwrap();
        let history = store
            .read(|r| r.orders().history(ann.id, None, 10))
            .unwrap();
        assert_eq!(history.items[0].total.amount, custdb::Decimal::new(900, 2));
        assert_consistent(&store);
    }
}

#[test]
fn exports_stream_everything_and_read_back() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        store
            .import_customers_csv(CSV.as_bytes(), &mapping(), |_| {}, |_| {})
            .unwrap();
        import_retail_head(&store);
        let mut csv_out = Vec::new();
        let n = store.export_customers_csv(&mut csv_out).unwrap().rows;
        let mut reader = csv::Reader::from_reader(csv_out.as_slice());
        assert_eq!(reader.records().count() as u64, n);
        let mut jsonl = Vec::new();
        assert_eq!(store.export_customers_jsonl(&mut jsonl).unwrap().rows, n);
        for line in String::from_utf8(jsonl).unwrap().lines().take(50) {
            let c: Customer = serde_json::from_str(line).unwrap();
            assert_eq!(store.customers().get(c.id).unwrap(), c);
        }
        let mut orders_csv = Vec::new();
        let orders = store.export_orders_csv(&mut orders_csv).unwrap().rows;
        let conn_lines: usize = csv::Reader::from_reader(orders_csv.as_slice())
            .records()
            .count();
        let mut jsonl = Vec::new();
        assert_eq!(store.export_orders_jsonl(&mut jsonl).unwrap().rows, orders);
        let text = String::from_utf8(jsonl).unwrap();
        let mut total_lines = 0;
        for line in text.lines() {
            let o: Order = serde_json::from_str(line).unwrap();
            total_lines += o.lines.len();
        }
        assert_eq!(total_lines, conn_lines);
        let first: Order = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(store.read(|r| r.orders().get(first.id)).unwrap(), first);
    }
}

#[test]
fn overlong_import_keys_are_rejected_not_fatal() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        let long = "k".repeat(129);
        let csv = format!("Id,Name\n{long},Ann\n2,Bob\n");
        let mapping = CustomerMapping::new("crm")
            .column("Id", F::Key)
            .column("Name", F::DisplayName);
        let mut reasons = Vec::new();
        let report = store
            .import_customers_csv(
                csv.as_bytes(),
                &mapping,
                |_| {},
                |r| reasons.push((r.line, r.reason.clone())),
            )
            .unwrap();
        assert_eq!((report.imported, report.rejected), (1, 1));
        assert_eq!(
            reasons,
            vec![(2, "Id: must be 1 to 128 characters".to_owned())]
        );
        let order = format!(
        "{{\"key\": \"{long}\", \"guest_email\": \"g@example.com\", \"currency\": \"GBP\", \"placed_at\": \"2011-01-05T10:00:00Z\", \"lines\": []}}\n"
    );
        let mut reasons = Vec::new();
        let report = store
            .import_orders_jsonl(
                "shop",
                order.as_bytes(),
                |_| {},
                |r| reasons.push(r.reason.clone()),
            )
            .unwrap();
        assert_eq!((report.imported, report.rejected), (0, 1));
        assert_eq!(reasons, vec!["key: must be 1 to 128 characters".to_owned()]);
        assert_consistent(&store);
    }
}

/// CSV and JSON Lines follow one rule for a BOM (skipped at the very start
/// of the input), invalid UTF-8 (the line is rejected, never stored as
/// U+FFFD) and overlong lines (rejected with their number, after reading at
/// most `MAX_RECORD_BYTES` of them); an unclosed CSV quote is rejected
/// instead of swallowing the rest of the file into one name.
#[test]
fn csv_and_json_lines_share_the_rules_for_boms_utf8_and_huge_lines() {
    use std::io::Read;
    let huge = 64 << 20; // 64 MiB of one field or line.
    let simple = || {
        CustomerMapping::new("crm")
            .column("Id", F::Key)
            .column("Name", F::DisplayName)
    };
    let run = |csv: bool, input: Box<dyn Read>| {
        let (_dir, store) = file_store();
        let mut rejected = Vec::new();
        let report = if csv {
            store.import_customers_csv(
                input,
                &simple(),
                |_| {},
                |r| rejected.push((r.line, r.reason.clone())),
            )
        } else {
            store.import_customers_jsonl(
                std::io::BufReader::new(input),
                &simple(),
                |_| {},
                |r| rejected.push((r.line, r.reason.clone())),
            )
        }
        .unwrap();
        let mut names: Vec<String> = store
            .customers()
            .list(&Default::default(), None, 100)
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.display_name)
            .collect();
        names.sort();
        assert_consistent(&store);
        (report.lines_read, names, rejected)
    };

    let csv: Box<dyn Read> = Box::new(
        b"\xEF\xBB\xBFId,Name\n1,Ann\n2,B\xFFb\n3,"
            .chain(std::io::repeat(b'x').take(huge))
            .chain(&b"\n4,Cat\n5,\"Dan\n6,Eve\n"[..]),
    );
    let (read, names, rejected) = run(true, csv);
    assert_eq!(names, vec!["Ann", "Cat"]);
    assert_eq!(read, 5);
    assert_eq!(rejected[0], (3, "not valid UTF-8".to_owned()));
    assert_eq!(
        rejected[1],
        (
            4,
            format!(
                "line longer than {} bytes",
                custdb::import::MAX_RECORD_BYTES
            )
        )
    );
    assert_eq!(rejected[2].0, 6);
    assert!(rejected[2].1.contains("unclosed quote"), "{rejected:?}");

    let jsonl: Box<dyn Read> = Box::new(
        b"\xEF\xBB\xBF{\"Id\":\"1\",\"Name\":\"Ann\"}\n{\"Id\":\"2\",\"Name\":\"B\xFFb\"}\n{\"Id\":\"3\",\"Name\":\""
            .chain(std::io::repeat(b'x').take(huge))
            .chain(&b"\"}\n{\"Id\":\"4\",\"Name\":\"Cat\"}\n"[..]),
    );
    let (read, names, rejected) = run(false, jsonl);
    assert_eq!(names, vec!["Ann", "Cat"]);
    assert_eq!(read, 4);
    assert_eq!(rejected[0], (2, "not valid UTF-8".to_owned()));
    assert_eq!(
        rejected[1],
        (
            3,
            format!(
                "line longer than {} bytes",
                custdb::import::MAX_RECORD_BYTES
            )
        )
    );
}

/// A writer that takes `room` bytes and then fails, as a closed pipe or a
/// full disk does.
struct FailingWriter {
    room: usize,
}

impl std::io::Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the reader went away",
            ));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_export_writer_is_an_io_error_naming_the_writer() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        import_retail_head(&store);
        for room in [0, 100, 5_000] {
            let results = [
                store.export_customers_csv(FailingWriter { room }),
                store.export_customers_jsonl(FailingWriter { room }),
                store.export_orders_csv(FailingWriter { room }),
                store.export_orders_jsonl(FailingWriter { room }),
            ];
            for (i, result) in results.into_iter().enumerate() {
                let err = result.unwrap_err();
                assert!(
                    matches!(err.kind(), custdb::ErrorKind::Io { .. }),
                    "export {i}, room {room}: {err:?}"
                );
                assert!(
                    err.to_string().contains("export's writer"),
                    "export {i}: {err}"
                );
            }
        }
        // The store is untouched and still usable.
        assert!(store.check().unwrap().is_ok());
    }
}

#[test]
fn exported_amounts_carry_the_currency_minor_unit() {
    for (engine, store) in crate::common::every_engine() {
        eprintln!("on {engine}");
        import_retail_head(&store);
        let mut out = Vec::new();
        store.export_orders_csv(&mut out).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let headers = reader.headers().unwrap().clone();
        let mut checked = 0;
        for record in reader.records() {
            let record = record.unwrap();
            for column in ["subtotal", "shipping", "total", "paid", "refunded"] {
                let i = headers.iter().position(|h| h == column).unwrap();
                let text = &record[i];
                let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                assert_eq!(decimals, 2, "{column} {text:?} is not in GBP's minor unit");
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} amounts checked");
    }
}

/// A batch of customer rows pays for no savepoint per row while every row
/// either succeeds or fails before writing (a bad email, a missing name, an
/// email already taken). A row that fails after it began writing (its
/// customer created, then its address's country refused) sends the batch round again
/// with a savepoint per row: the row leaves nothing behind, the others are
/// all imported, and every rejection is reported once.
#[test]
fn customer_rows_need_savepoints_only_when_a_row_fails_after_writing() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.db");
    let log = Arc::new(Mutex::new(std::collections::BTreeSet::<String>::new()));
    let store =
        custdb::Store::open_with(&path, custdb::Options::default().statement_log(log.clone()))
            .unwrap();
    let savepoints = |log: &Arc<Mutex<std::collections::BTreeSet<String>>>| {
        let texts = log.lock().unwrap();
        texts.iter().any(|s| s.starts_with("SAVEPOINT"))
    };
    let clean = "Id,Name,E-mail,Tags,Tier,Street,Town,Country,Zip,Unused\n\
        1,Ann Lee,ann@example.com,,,,,,,x\n\
        2,Bob Roy,not-an-email,,,,,,,x\n\
        3,,,,,,,,,x\n\
        4,Ann Again,ann@example.com,,,,,,,x\n\
        5,Dan Wu,dan@example.com,,,,,,,x\n";
    log.lock().unwrap().clear();
    let mut reasons = Vec::new();
    let report = store
        .import_customers_csv(
            clean.as_bytes(),
            &mapping(),
            |_| {},
            |r| reasons.push(r.line),
        )
        .unwrap();
    assert_eq!((report.imported, report.rejected), (2, 3));
    assert_eq!(reasons, vec![3, 4, 5]);
    assert!(!savepoints(&log), "no row wrote before failing");

    let dirty = "Id,Name,E-mail,Tags,Tier,Street,Town,Country,Zip,Unused\n\
        10,Eve Ng,eve@example.com,,,,,,,x\n\
        11,Cat Kim,cat@example.com,vip,silver,2 Low St,Bath,Narnia,,x\n\
        12,Fay Ho,fay@example.com,,,,,,,x\n";
    log.lock().unwrap().clear();
    let audit_head = || store.read(|r| r.audit().head()).unwrap().unwrap().seq;
    let audit_before = audit_head();
    let mut rejected = Vec::new();
    let report = store
        .import_customers_csv(
            dirty.as_bytes(),
            &mapping(),
            |_| {},
            |r| rejected.push(r.clone()),
        )
        .unwrap();
    assert_eq!((report.imported, report.rejected), (2, 1));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].line, 3);
    assert!(rejected[0].reason.contains("country"), "{rejected:?}");
    assert!(savepoints(&log), "the batch was written again row by row");
    assert!(store
        .customers()
        .get_by_email("cat@example.com")
        .unwrap_err()
        .is_not_found());
    for email in ["eve@example.com", "fay@example.com"] {
        store.customers().get_by_email(email).unwrap();
    }
    let audit_after = audit_head();
    assert_eq!(
        audit_after - audit_before,
        2,
        "one audit row per imported customer"
    );
    assert_consistent(&store);
}
