//! Replays the committed corpus of the C API fuzz target
//! (`fuzz/corpus/c_api_json/`) through the same harness the fuzzer runs
//! (`fuzz/harness_capi.rs`): every input returns a defined status, nothing
//! panics across the boundary, and `custdb_check` stays clean.

mod capi {
    pub use custdb::*;
}

#[path = "../../fuzz/harness_capi.rs"]
mod harness;

#[test]
fn c_api_json_corpus_replays_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/c_api_json");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let run = std::panic::catch_unwind(|| harness::c_api_json(&data));
        assert!(run.is_ok(), "{} failed", path.display());
        replayed += 1;
    }
    assert!(replayed > 0, "no corpus in {}", dir.display());
}
