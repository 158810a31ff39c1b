//! Streams an export of a database to a file or to standard output, in
//! constant memory whatever the database's size (the figures in
//! docs/PERFORMANCE.md come from `/usr/bin/time -v` on this example).
//!
//! ```text
//! cargo run --release --example export -- <database> <what> [output]
//! ```
//!
//! `what` is one of `customers.csv`, `customers.jsonl`, `orders.csv` and
//! `orders.jsonl`; without `output` (or with `-`) the export goes to
//! standard output. It prints how many records it wrote on standard error.

use std::fs::File;
use std::io::{BufWriter, Write};

use custdb::{Options, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(database), Some(what)) = (args.next(), args.next()) else {
        return Err("usage: export <database> <customers.csv|customers.jsonl|orders.csv|orders.jsonl> [output]".into());
    };
    let out: Box<dyn Write> = match args.next().as_deref() {
        None | Some("-") => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(File::create(path)?),
    };
    let mut out = BufWriter::new(out);
    // Read-only: an export never writes, and may run beside the application.
    let store = Store::open_with(&database, Options::default().read_only(true))?;
    let started = std::time::Instant::now();
    let written = match what.as_str() {
        "customers.csv" => store.export_customers_csv(&mut out)?.rows,
        "customers.jsonl" => store.export_customers_jsonl(&mut out)?.rows,
        "orders.csv" => store.export_orders_csv(&mut out)?.rows,
        "orders.jsonl" => store.export_orders_jsonl(&mut out)?.rows,
        other => return Err(format!("cannot export {other:?}").into()),
    };
    out.flush()?;
    eprintln!(
        "{written} records of {what} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
