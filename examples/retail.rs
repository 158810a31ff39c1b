//! Imports the real retail data set (541,909 order lines; UCI Machine
//! Learning Repository, "Online Retail", Daqing Chen 2015, CC BY 4.0) into
//! a file database, showing progress, then prints what it found and what
//! the data says: lines imported and rejected by reason, customers and
//! orders, the top customers, revenue by country and by month, RFM
//! segments, and duplicate candidates.
//!
//! ```text
//! cargo run --release --example retail [path/to/online-retail.csv.gz] [database]
//! ```
//!
//! Without arguments it reads `../shared/data/online-retail.csv.gz` and
//! writes `custdb-retail.db` in the current directory (run it twice: the
//! second import finds everything already there).

use std::io::Write;

use chrono::TimeZone;
use custdb::report::Period;
use custdb::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = args
        .next()
        .unwrap_or_else(|| "../shared/data/online-retail.csv.gz".to_owned());
    let database = args.next().unwrap_or_else(|| "custdb-retail.db".to_owned());
    let store = Store::open(&database)?;
    println!("importing {input} into {database}");

    let started = std::time::Instant::now();
    let mut first_rejections = Vec::new();
    let report = store.import_retail_file(
        &input,
        |p| {
            print!(
                "\r  {:>7} lines read: {:>7} imported, {:>7} already there, {:>5} rejected",
                p.lines_read, p.imported, p.already_present, p.rejected
            );
            let _ = std::io::stdout().flush();
        },
        |r| {
            if first_rejections.len() < 5 {
                first_rejections.push(r.clone());
            }
        },
    )?;
    println!("\n  done in {:.1} s", started.elapsed().as_secs_f64());
    println!(
        "\nlines: {} read = {} imported + {} already there + {} rejected",
        report.lines_read, report.imported, report.already_present, report.rejected
    );
    for (reason, n) in &report.rejected_by_reason {
        println!("  rejected {n:>6}: {reason}");
    }
    for r in &first_rejections {
        println!("  e.g. line {}: {}", r.line, r.reason);
    }
    println!("created this run: {:?}", report.created);

    let counts = store.read(|r| r.reports().counts())?;
    println!(
        "\nin the database: {} customers, {} orders, {} credit notes",
        counts.customers, counts.orders, counts.credit_notes
    );

    let top = store.read(|r| r.reports().top_customers(custdb::TimeRange::all(), 10))?;
    println!("\ntop 10 customers by net revenue:");
    for t in &top {
        let name = match &t.key {
            custdb::RevenueKey::Customer(id) => store.customers().get(*id)?.display_name,
            other => other.to_string(),
        };
        println!(
            "  {:<16} {:>4} orders  net {:>11} {}",
            name, t.orders, t.net, t.currency
        );
    }

    let by_country =
        store.read(|r| r.reports().revenue_by_country(custdb::TimeRange::all(), 10))?;
    println!("\nrevenue by country (top 10):");
    for c in &by_country {
        let key = c.key.to_string();
        println!(
            "  {key:<10} net {:>12} {}  ({} orders)",
            c.net, c.currency, c.orders
        );
    }

    let by_month = store.read(|r| {
        r.reports()
            .revenue_by_period(Period::Month, custdb::TimeRange::all())
    })?;
    println!("\nrevenue by month:");
    for m in &by_month {
        println!(
            "  {}  gross {:>11}  refunds {:>9}  credit notes {:>9}  net {:>11} {}",
            m.key, m.gross, m.refunds, m.credit_notes, m.net, m.currency
        );
    }

    let as_of = chrono::Utc
        .with_ymd_and_hms(2011, 12, 10, 0, 0, 0)
        .single()
        .ok_or("a date")?;
    let segments = store.read(|r| r.reports().rfm_segments(as_of))?;
    println!("\nRFM segments as of 2011-12-10:");
    for (name, n) in &segments {
        println!("  {name:<16} {n:>5}");
    }

    let candidates = store.read(|r| r.duplicates().candidates(10))?;
    println!("\nmerge candidates: {}", candidates.len());
    for c in &candidates {
        println!(
            "  {} ~ {} score {} ({})",
            c.first,
            c.second,
            c.score,
            c.reasons.join(", ")
        );
    }
    let check = store.check()?;
    println!("\ncheck: {}", if check.is_ok() { "ok" } else { "FAILED" });
    if !check.is_ok() {
        return Err(format!("{:?}", check.problems).into());
    }
    Ok(())
}
