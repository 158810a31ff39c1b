//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! same harness the fuzzer runs (`fuzz/harness.rs`): the importers and the
//! customer and order inputs, each on a fresh store, each input refused or
//! accepted without a panic and with `check()` clean afterwards. New
//! inputs the fuzzer finds are added to the corpus and replayed here.

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} failed", path.display());
        replayed += 1;
    }
    assert!(replayed > 0, "no corpus in {}", dir.display());
}

#[test]
fn retail_csv_corpus() {
    replay("retail_csv", harness::retail_csv);
}

#[test]
fn customer_import_corpus() {
    replay("customer_import", harness::customer_import);
}

#[test]
fn jsonl_import_corpus() {
    replay("jsonl_import", harness::jsonl_import);
}

#[test]
fn customer_input_corpus() {
    replay("customer_input", harness::customer_input);
}

#[test]
fn order_input_corpus() {
    replay("order_input", harness::order_input);
}
