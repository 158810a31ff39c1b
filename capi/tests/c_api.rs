//! Compiles the C programs against include/custdb.h with every C compiler
//! present (gcc always; clang when installed), with
//! `-std=c11 -Wall -Wextra -Werror -pedantic`, links each once against the
//! static and once against the shared library, and runs them.
//!
//! Cargo does not build a cdylib or staticlib for integration tests, so the
//! first test to need them builds them with a nested `cargo build` into
//! `target/capi-c/` (its own target directory: the outer `cargo test` holds
//! the lock on its own).
//!
//! With the `sqlcipher` feature these tests do not run: they test the C
//! boundary, which is the same on either SQLite, and the plain run covers it.
#![cfg(not(feature = "sqlcipher"))]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the nested build put libcustdb.a and libcustdb.so.
fn lib_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            // <target>/<profile>/deps/c_api-<hash>
            let target = exe
                .ancestors()
                .nth(3)
                .expect("the target directory")
                .join("capi-c");
            // With PostgreSQL, so that the C test opens a store on a server.
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "custdb-capi",
                    "--features",
                    "postgres",
                    "--target-dir",
                ])
                .arg(&target)
                .current_dir(repo())
                .status()
                .expect("run cargo build for the C libraries");
            assert!(status.success(), "cargo build -p custdb-capi failed");
            target.join("debug")
        })
        .clone()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn compilers() -> Vec<&'static str> {
    ["gcc", "clang"]
        .into_iter()
        .filter(|cc| Command::new(cc).arg("--version").output().is_ok())
        .collect()
}

/// The system libraries a Rust staticlib needs on Linux, and OpenSSL for
/// the `postgres` feature's TLS.
const STATIC_DEPS: &[&str] = &[
    "-lssl",
    "-lcrypto",
    "-lpthread",
    "-ldl",
    "-lm",
    "-lrt",
    "-lutil",
];

/// A fresh PostgreSQL database's connection string for the C test
/// (`CUSTDB_TEST_POSTGRES`), when the throwaway cluster runs.
fn postgres_for_c() -> Option<String> {
    custdb_pgcluster::cluster().map(|c| c.connection(&c.empty_database()))
}

fn build(cc: &str, source: &Path, linkage: &str, out: &Path) {
    build_with(cc, source, linkage, out, &[]);
}

fn build_with(cc: &str, source: &Path, linkage: &str, out: &Path, extra: &[&str]) {
    let lib = lib_dir();
    let mut cmd = Command::new(cc);
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .args(extra)
        .arg("-I")
        .arg(repo().join("capi/include"))
        .arg(source)
        .arg("-o")
        .arg(out);
    // The examples read custdb's JSON with cJSON, as docs/C-API.md advises.
    let uses_cjson = source.starts_with(repo().join("examples/c"));
    if uses_cjson {
        ensure_cjson();
    }
    match linkage {
        "static" => {
            cmd.arg(lib.join("libcustdb.a")).args(STATIC_DEPS);
        }
        _ => {
            cmd.arg("-L")
                .arg(&lib)
                .arg("-lcustdb")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
    }
    if uses_cjson {
        cmd.arg("-lcjson");
    }
    let output = cmd.output().expect("run the C compiler");
    assert!(
        output.status.success(),
        "{cc} {linkage} {}: {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// cJSON's header and library, installed from Debian's libcjson-dev when
/// they are missing (the tests set up what they need, as `.ci/run` does).
fn ensure_cjson() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let header = Path::new("/usr/include/cjson/cJSON.h");
        if header.exists() {
            return;
        }
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "libcjson-dev"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success())
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-qq"]).status();
            install();
        }
        assert!(
            header.exists(),
            "the C examples need cJSON: install Debian's libcjson-dev (or your system's cjson \
             package) and run the tests again"
        );
    });
}

fn run(program: &Path, args: &[&Path], cwd: &Path) -> String {
    run_with(program, args, cwd, None)
}

/// [`run`], with `CUSTDB_TEST_POSTGRES` set to `postgres` when given.
fn run_with(program: &Path, args: &[&Path], cwd: &Path, postgres: Option<&str>) -> String {
    let mut command = Command::new(program);
    if let Some(connection) = postgres {
        command.env("CUSTDB_TEST_POSTGRES", connection);
    }
    let output = command
        .args(args)
        .current_dir(cwd)
        // cargo test puts target/<profile>/deps on LD_LIBRARY_PATH, which
        // the loader searches before the program's RUNPATH: a libcustdb.so
        // left there by an earlier build would shadow the fresh one.
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the C program");
    assert!(
        output.status.success(),
        "{} failed:\n{}\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_libraries_are_built() {
    for name in ["libcustdb.a", "libcustdb.so"] {
        assert!(
            lib_dir().join(name).exists(),
            "{name} in {}",
            lib_dir().display()
        );
    }
}

#[test]
fn the_c_test_program_passes_linked_both_ways() {
    for cc in compilers() {
        for linkage in ["static", "shared"] {
            let dir = tempfile::tempdir().unwrap();
            let exe = dir.path().join("api_test");
            build(cc, &repo().join("capi/tests/c/api_test.c"), linkage, &exe);
            let postgres = postgres_for_c();
            let out = run_with(&exe, &[dir.path()], dir.path(), postgres.as_deref());
            assert!(
                out.contains("all C API checks passed"),
                "{cc} {linkage}: {out}"
            );
            if postgres.is_some() {
                assert!(out.contains("PostgreSQL: store opened"), "{out}");
            }
        }
    }
}

/// AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer on
/// the C side of every call, for the C test and the shop example: no
/// invalid access, no leak, no undefined behaviour in what custdb hands to
/// C or takes from it.
#[test]
fn the_c_programs_are_clean_under_asan_and_ubsan() {
    for (source, done) in [
        ("capi/tests/c/api_test.c", "all C API checks passed"),
        ("examples/c/shop.c", "check: ok"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("asan");
        build_with(
            "gcc",
            &repo().join(source),
            "shared",
            &exe,
            &[
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=undefined",
                "-fno-omit-frame-pointer",
            ],
        );
        let mut command = Command::new(&exe);
        if let Some(connection) = postgres_for_c() {
            command.env("CUSTDB_TEST_POSTGRES", connection);
        }
        let output = command
            .arg(dir.path())
            .current_dir(dir.path())
            .env_remove("LD_LIBRARY_PATH")
            .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
            .output()
            .expect("run the C program");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains(done),
            "{source}: {stdout}\n{stderr}"
        );
        assert!(!stderr.contains("Sanitizer"), "{source}: {stderr}");
    }
}

#[test]
fn the_c_quickstart_runs_twice() {
    for cc in compilers() {
        for linkage in ["static", "shared"] {
            let dir = tempfile::tempdir().unwrap();
            let exe = dir.path().join("quickstart");
            build(cc, &repo().join("examples/c/quickstart.c"), linkage, &exe);
            let first = run(&exe, &[], dir.path());
            let second = run(&exe, &[], dir.path());
            for out in [&first, &second] {
                assert!(out.contains("conflict, as expected"), "{out}");
                assert!(out.contains("check: ok"), "{out}");
            }
        }
    }
}

/// The header on its own, as C99, C11 and C17 and as C++11 and C++17, with
/// every warning an error: a program in any of them can include it.
#[test]
fn the_header_compiles_as_c99_c11_c17_and_cpp() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("only_header.c");
    std::fs::write(
        &c,
        "#include \"custdb.h\"\nint main(void) { return custdb_version() == 0; }\n",
    )
    .unwrap();
    let cpp = dir.path().join("only_header.cpp");
    std::fs::write(
        &cpp,
        "#include \"custdb.h\"\nint main() { custdb_store *s = nullptr; (void)s; \
         return custdb_version() == nullptr; }\n",
    )
    .unwrap();
    let include = repo().join("capi/include");
    let mut builds: Vec<(&str, String, &Path)> = ["c99", "c11", "c17"]
        .into_iter()
        .map(|std| ("gcc", format!("-std={std}"), c.as_path()))
        .collect();
    if Command::new("g++").arg("--version").output().is_ok() {
        builds.extend(
            ["c++11", "c++17"]
                .into_iter()
                .map(|std| ("g++", format!("-std={std}"), cpp.as_path())),
        );
    }
    for (cc, std, source) in builds {
        let output = Command::new(cc)
            .args([
                std.as_str(),
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-fsyntax-only",
            ])
            .arg("-I")
            .arg(&include)
            .arg(source)
            .output()
            .expect("run the compiler");
        assert!(
            output.status.success(),
            "{cc} {std}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// docs/C-API.md's table of limits says what the Rust constants are.
#[test]
fn the_limits_table_matches_the_constants() {
    use custdb_core as db;
    let doc = std::fs::read_to_string(repo().join("docs/C-API.md")).unwrap();
    let limits: &[(&str, i128)] = &[
        (
            "MAX_DISPLAY_NAME_LEN",
            db::customer::MAX_DISPLAY_NAME_LEN as i128,
        ),
        (
            "MAX_PERSON_NAME_LEN",
            db::customer::MAX_PERSON_NAME_LEN as i128,
        ),
        ("MAX_COMPANY_LEN", db::customer::MAX_COMPANY_LEN as i128),
        ("MAX_EMAIL_LEN", db::customer::MAX_EMAIL_LEN as i128),
        ("MAX_PHONE_LEN", db::customer::MAX_PHONE_LEN as i128),
        ("MAX_LOCALE_LEN", db::customer::MAX_LOCALE_LEN as i128),
        ("MAX_SOURCE_LEN", db::customer::MAX_SOURCE_LEN as i128),
        ("MAX_NOTES_LEN", db::customer::MAX_NOTES_LEN as i128),
        ("MAX_TAGS", db::customer::MAX_TAGS as i128),
        ("MAX_TAG_LEN", db::customer::MAX_TAG_LEN as i128),
        (
            "MAX_ATTRIBUTES_BYTES",
            db::customer::MAX_ATTRIBUTES_BYTES as i128,
        ),
        (
            "MAX_ATTRIBUTES_DEPTH",
            db::customer::MAX_ATTRIBUTES_DEPTH as i128,
        ),
        (
            "MAX_ATTRIBUTE_KEY_LEN",
            db::customer::MAX_ATTRIBUTE_KEY_LEN as i128,
        ),
        ("MAX_QUERY_LEN", db::customer::MAX_QUERY_LEN as i128),
        ("MAX_QUERY_TERMS", db::customer::MAX_QUERY_TERMS as i128),
        (
            "MAX_SEARCH_RESULTS",
            db::customer::MAX_SEARCH_RESULTS as i128,
        ),
        (
            "MAX_ADDRESSES",
            db::customer::address::MAX_ADDRESSES as i128,
        ),
        (
            "MAX_ADDRESS_LINE_LEN",
            db::customer::address::MAX_ADDRESS_LINE_LEN as i128,
        ),
        ("MAX_CITY_LEN", db::customer::address::MAX_CITY_LEN as i128),
        (
            "MAX_POSTAL_CODE_LEN",
            db::customer::address::MAX_POSTAL_CODE_LEN as i128,
        ),
        (
            "MAX_LABEL_LEN",
            db::customer::address::MAX_LABEL_LEN as i128,
        ),
        (
            "MAX_SUBJECT_LEN",
            db::customer::interaction::MAX_SUBJECT_LEN as i128,
        ),
        (
            "MAX_BODY_LEN",
            db::customer::interaction::MAX_BODY_LEN as i128,
        ),
        (
            "MAX_PRODUCT_NAME_LEN",
            db::catalog::MAX_PRODUCT_NAME_LEN as i128,
        ),
        (
            "MAX_DESCRIPTION_LEN",
            db::catalog::MAX_DESCRIPTION_LEN as i128,
        ),
        ("MAX_SKU_LEN", db::catalog::MAX_SKU_LEN as i128),
        (
            "MAX_VARIANT_TITLE_LEN",
            db::catalog::MAX_VARIANT_TITLE_LEN as i128,
        ),
        ("MAX_BARCODE_LEN", db::catalog::MAX_BARCODE_LEN as i128),
        (
            "MAX_VARIANTS_PER_PRODUCT",
            db::catalog::MAX_VARIANTS_PER_PRODUCT as i128,
        ),
        ("MAX_OPTIONS", db::catalog::MAX_OPTIONS as i128),
        (
            "MAX_OPTION_NAME_LEN",
            db::catalog::MAX_OPTION_NAME_LEN as i128,
        ),
        (
            "MAX_OPTION_VALUE_LEN",
            db::catalog::MAX_OPTION_VALUE_LEN as i128,
        ),
        ("PRICE_DECIMALS", db::money::PRICE_DECIMALS as i128),
        ("MAX_UNIT_PRICE", db::money::MAX_UNIT_PRICE as i128),
        ("MAX_AMOUNT", db::money::MAX_AMOUNT as i128),
        (
            "MAX_WAREHOUSE_CODE_LEN",
            db::inventory::MAX_WAREHOUSE_CODE_LEN as i128,
        ),
        (
            "MAX_WAREHOUSE_NAME_LEN",
            db::inventory::MAX_WAREHOUSE_NAME_LEN as i128,
        ),
        ("MAX_PRIORITY", db::inventory::MAX_PRIORITY as i128),
        (
            "MAX_MOVE_QUANTITY",
            db::inventory::MAX_MOVE_QUANTITY as i128,
        ),
        ("MAX_REASON_LEN", db::inventory::MAX_REASON_LEN as i128),
        (
            "MAX_LINES_PER_ORDER",
            db::order::MAX_LINES_PER_ORDER as i128,
        ),
        ("MAX_LINE_QUANTITY", db::order::MAX_LINE_QUANTITY as i128),
        ("MAX_NOTE_LEN", db::order::MAX_NOTE_LEN as i128),
        (
            "MAX_IDEMPOTENCY_KEY_LEN",
            db::order::MAX_IDEMPOTENCY_KEY_LEN as i128,
        ),
        (
            "MAX_CARRIER_LEN",
            db::order::fulfilment::MAX_CARRIER_LEN as i128,
        ),
        (
            "MAX_REFERENCE_LEN",
            db::order::fulfilment::MAX_REFERENCE_LEN as i128,
        ),
        (
            "MAX_REASON_LEN",
            db::order::fulfilment::MAX_REASON_LEN as i128,
        ),
        (
            "MAX_PURPOSE_ID_LEN",
            db::consent::MAX_PURPOSE_ID_LEN as i128,
        ),
        (
            "MAX_PURPOSE_DESCRIPTION_LEN",
            db::consent::MAX_PURPOSE_DESCRIPTION_LEN as i128,
        ),
        (
            "MAX_NOTICE_TEXT_LEN",
            db::consent::MAX_NOTICE_TEXT_LEN as i128,
        ),
        (
            "MAX_NOTICE_VERSION_LEN",
            db::consent::MAX_NOTICE_VERSION_LEN as i128,
        ),
        (
            "MAX_EVIDENCE_REFERENCE_LEN",
            db::consent::MAX_EVIDENCE_REFERENCE_LEN as i128,
        ),
        (
            "MAX_RETENTION_DAYS",
            db::privacy::MAX_RETENTION_DAYS as i128,
        ),
        ("MAX_PAGE_SIZE", db::page::MAX_PAGE_SIZE as i128),
        ("MAX_CURSOR_CHARS", db::page::MAX_CURSOR_CHARS as i128),
        ("MAX_REPORT_ROWS", db::report::MAX_REPORT_ROWS as i128),
        ("MAX_CANDIDATES", db::dedupe::MAX_CANDIDATES as i128),
        (
            "MAX_SEGMENT_NAME_LEN",
            db::segment::MAX_SEGMENT_NAME_LEN as i128,
        ),
        ("MAX_RECORD_BYTES", db::import::MAX_RECORD_BYTES as i128),
    ];
    for (name, value) in limits {
        assert!(
            doc.contains(&format!("| `{name}` | {value} |")),
            "docs/C-API.md gives {name} another value than {value}"
        );
    }
}

/// The C shop back end (examples/c/shop.c) runs to the end, linked both
/// ways, and its figures hold.
#[test]
fn the_c_shop_example_runs() {
    for linkage in ["static", "shared"] {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("shop");
        build("gcc", &repo().join("examples/c/shop.c"), linkage, &exe);
        let out = run(&exe, &[], dir.path());
        for expected in [
            "retried checkout-1: the same order",
            "delivered orders: 2",
            "TEA-100 available: 38",
            "revenue ",
            "reorder: variant",
            "newsletter recipients: 3",
            "segment newsletter-buyers: 3 customers",
            "the auditor sees: A•••",
            "the auditor archives a customer: permission denied",
            "retention today: 0 tables to trim",
            "exported 3 customers",
            "chain intact",
            "check: ok",
        ] {
            assert!(
                out.contains(expected),
                "{linkage}: no {expected:?} in\n{out}"
            );
        }
    }
}

#[test]
fn the_shared_library_exports_only_custdb_symbols() {
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib_dir().join("libcustdb.so"))
        .output()
        .expect("run nm");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let exported: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            // Code and data symbols; not the linker's own markers.
            matches!(kind, "T" | "D" | "B" | "R").then_some(name)
        })
        .collect();
    assert!(exported.contains(&"custdb_open"));
    let foreign: Vec<&&str> = exported
        .iter()
        .filter(|s| !s.starts_with("custdb_"))
        .collect();
    assert!(foreign.is_empty(), "exported beyond custdb_*: {foreign:?}");
    assert!(!text.contains("sqlite3_"), "SQLite symbols are exported");
}

#[test]
fn every_function_in_the_header_is_called_by_the_c_test() {
    let header = std::fs::read_to_string(repo().join("capi/include/custdb.h")).unwrap();
    let test = std::fs::read_to_string(repo().join("capi/tests/c/api_test.c")).unwrap();
    let functions: Vec<&str> = header
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("custdb_"))
        .filter(|w| header.contains(&format!("{w}(")))
        .collect();
    assert!(functions.len() > 40, "found {} functions", functions.len());
    for f in functions {
        assert!(
            test.contains(&format!("{f}(")),
            "api_test.c never calls {f}"
        );
    }
}

#[test]
fn docs_c_api_md_describes_every_function() {
    let header = std::fs::read_to_string(repo().join("capi/include/custdb.h")).unwrap();
    let doc = std::fs::read_to_string(repo().join("docs/C-API.md")).unwrap();
    for word in header.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.starts_with("custdb_") && header.contains(&format!("{word}(")) {
            assert!(
                doc.contains(&format!("{word}(")),
                "docs/C-API.md does not describe {word}"
            );
        }
    }
}

#[test]
fn the_readme_c_example_compiles_and_runs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("```c\n").expect("a C block in the README") + 5;
    let end = start + readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("readme.c");
    std::fs::write(&source, &readme[start..end]).unwrap();
    let exe = dir.path().join("readme");
    build("gcc", &source, "shared", &exe);
    let out = run(&exe, &[], dir.path());
    assert!(out.contains("\"display_name\":\"Ada\""), "{out}");
}

/// The C functions called from Rust threads sharing one handle, as C
/// threads would: what docs/C-API.md promises about threads holds.
mod threads {
    use std::ffi::{c_char, CStr, CString};
    use std::ptr::{null, null_mut};
    use std::sync::{Arc, Barrier};

    use custdb::*;

    /// A handle shared between threads (the C API's handles are).
    #[derive(Clone, Copy)]
    struct Shared(*mut custdb_store);
    // SAFETY: custdb_store is documented as usable from several threads at
    // once; the tests close it only after joining every thread.
    unsafe impl Send for Shared {}

    /// Opens a database file (WAL: readers do not wait for the writer).
    fn open(dir: &tempfile::TempDir, busy_timeout_ms: u32) -> Shared {
        let mut store = null_mut();
        let path = text(dir.path().join("threads.db").to_str().unwrap());
        // SAFETY: options from custdb_options_new, freed once; `store` is
        // a valid place for the handle.
        unsafe {
            let options = custdb_options_new();
            assert_eq!(
                custdb_options_set_busy_timeout_ms(options, busy_timeout_ms),
                CUSTDB_OK
            );
            assert_eq!(custdb_open(path.as_ptr(), options, &mut store), CUSTDB_OK);
            custdb_options_free(options);
        }
        Shared(store)
    }

    fn text(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    /// Takes a string custdb returned and frees it.
    fn take(s: *mut c_char) -> String {
        assert!(!s.is_null());
        // SAFETY: a NUL-terminated string from custdb, freed once here.
        unsafe {
            let owned = CStr::from_ptr(s).to_string_lossy().into_owned();
            custdb_string_free(s);
            owned
        }
    }

    fn errmsg(store: Shared) -> String {
        // SAFETY: a live handle; the pointer is read before this thread's
        // next call.
        unsafe { CStr::from_ptr(custdb_errmsg(store.0)) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn each_thread_reads_its_own_last_error_on_a_shared_handle() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 5000);
        let barrier = Arc::new(Barrier::new(2));
        let calls: [fn(Shared) -> custdb_status; 2] = [
            |s| {
                let id = text("not-an-id");
                let mut out = null_mut();
                // SAFETY: a live handle, a C string and an out pointer.
                unsafe { custdb_customer_get(s.0, id.as_ptr(), &mut out) }
            },
            |s| {
                let json = text("{not json");
                let mut out = null_mut();
                // SAFETY: as above.
                unsafe { custdb_customer_create(s.0, json.as_ptr(), &mut out) }
            },
        ];
        let expected = [
            ("customer_id", CUSTDB_ERR_INVALID),
            ("new_json", CUSTDB_ERR_JSON),
        ];
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let store = store; // the whole handle, not its pointer field
                    assert_eq!(calls[i](store), expected[i].1);
                    // Both threads have failed before either reads.
                    barrier.wait();
                    let own = errmsg(store);
                    // SAFETY: a live handle.
                    let copy = take(unsafe { custdb_errmsg_copy(store.0) });
                    assert!(own.contains(expected[i].0), "{own}");
                    assert!(!own.contains(expected[1 - i].0), "{own}");
                    assert_eq!(own, copy);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // A thread that never failed on the handle reads "".
        assert_eq!(errmsg(store), "");
        // SAFETY: every thread is done with the handle.
        unsafe { custdb_close(store.0) };
    }

    #[test]
    fn a_unit_of_work_is_its_threads_and_others_wait_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 200);
        let json = text("{\"display_name\":\"Inside\"}");
        let mut out = null_mut();
        // SAFETY: a live handle, C strings, out pointers; the handle is
        // closed after the other thread is joined.
        unsafe {
            assert_eq!(custdb_begin(store.0), CUSTDB_OK);
            assert_eq!(
                custdb_customer_create(store.0, json.as_ptr(), &mut out),
                CUSTDB_OK
            );
            take(out);
        }
        let other = std::thread::spawn(move || {
            let store = store; // the whole handle, not its pointer field
            let mut out = null_mut();
            // SAFETY: as above.
            unsafe {
                // Reads see only what is committed; writes wait, then BUSY.
                assert_eq!(
                    custdb_customer_list(store.0, null(), null(), 10, &mut out),
                    CUSTDB_OK
                );
                assert!(!take(out).contains("Inside"));
                let json = text("{\"display_name\":\"Outside\"}");
                assert_eq!(
                    custdb_customer_create(store.0, json.as_ptr(), &mut out),
                    CUSTDB_ERR_BUSY
                );
                // Not this thread's unit: nothing to commit here.
                assert_eq!(custdb_commit(store.0), CUSTDB_ERR_INVALID_STATE);
            }
        });
        other.join().unwrap();
        // SAFETY: as above.
        unsafe {
            assert_eq!(custdb_commit(store.0), CUSTDB_OK);
            assert_eq!(
                custdb_customer_list(store.0, null(), null(), 10, &mut out),
                CUSTDB_OK
            );
            assert!(take(out).contains("Inside"));
            custdb_close(store.0);
        }
    }

    /// Every function that takes a JSON object refuses the wrong shapes the
    /// same way: `CUSTDB_ERR_JSON`, naming the argument, and the field when
    /// there is one; nothing written.
    #[test]
    fn every_json_argument_refuses_arrays_unknown_fields_and_wrong_types() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 5000);
        let mut out = null_mut();
        let some_id = text("01900000-0000-7000-8000-000000000000");
        // SAFETY: a live handle, C strings that outlive each call, and out
        // pointers; every string custdb returns is freed by `take`.
        unsafe {
            type Call = Box<dyn Fn(Shared, *const c_char, *mut *mut c_char) -> custdb_status>;
            let id = some_id.as_ptr() as usize;
            let calls: Vec<(&str, Call)> = vec![
                (
                    "new_json",
                    Box::new(|s, j, o| custdb_customer_create(s.0, j, o)),
                ),
                (
                    "patch_json",
                    Box::new(move |s, j, o| {
                        custdb_customer_update(s.0, id as *const c_char, 1, j, o)
                    }),
                ),
                (
                    "filter_json",
                    Box::new(|s, j, o| custdb_customer_list(s.0, j, null(), 10, o)),
                ),
                (
                    "address_json",
                    Box::new(move |s, j, o| {
                        custdb_customer_add_address(s.0, id as *const c_char, j, o)
                    }),
                ),
                (
                    "patch_json",
                    Box::new(move |s, j, o| custdb_address_update(s.0, id as *const c_char, j, o)),
                ),
                (
                    "interaction_json",
                    Box::new(move |s, j, o| {
                        custdb_customer_add_interaction(s.0, id as *const c_char, j, o)
                    }),
                ),
                (
                    "product_json",
                    Box::new(|s, j, o| custdb_product_create(s.0, j, o)),
                ),
                (
                    "variant_json",
                    Box::new(move |s, j, o| {
                        custdb_product_add_variant(s.0, id as *const c_char, j, o)
                    }),
                ),
                (
                    "patch_json",
                    Box::new(move |s, j, o| {
                        custdb_variant_update(s.0, id as *const c_char, 1, j, o)
                    }),
                ),
                (
                    "warehouse_json",
                    Box::new(|s, j, o| custdb_warehouse_create(s.0, j, o)),
                ),
                (
                    "order_json",
                    Box::new(|s, j, o| custdb_order_place(s.0, j, o)),
                ),
                (
                    "payment_json",
                    Box::new(move |s, j, o| custdb_order_pay(s.0, id as *const c_char, j, o)),
                ),
                (
                    "payment_json",
                    Box::new(move |s, j, o| {
                        custdb_order_authorize_payment(s.0, id as *const c_char, j, o)
                    }),
                ),
                (
                    "shipment_json",
                    Box::new(move |s, j, o| custdb_order_ship(s.0, id as *const c_char, j, o)),
                ),
                (
                    "return_json",
                    Box::new(move |s, j, o| custdb_order_return(s.0, id as *const c_char, j, o)),
                ),
                (
                    "refund_json",
                    Box::new(move |s, j, o| custdb_order_refund(s.0, id as *const c_char, j, o)),
                ),
                (
                    "credit_note_json",
                    Box::new(|s, j, o| custdb_credit_note_issue(s.0, j, o)),
                ),
                (
                    "purpose_json",
                    Box::new(|s, j, o| custdb_purpose_register(s.0, j, o)),
                ),
                (
                    "consent_json",
                    Box::new(|s, j, o| custdb_consent_record(s.0, j, o)),
                ),
                (
                    "controller_json",
                    Box::new(move |s, j, o| {
                        custdb_consent_receipt(
                            s.0,
                            id as *const c_char,
                            j,
                            c"u".as_ptr(),
                            c"s".as_ptr(),
                            o,
                        )
                    }),
                ),
                (
                    "filter_json",
                    Box::new(|s, j, o| custdb_audit_query(s.0, j, null(), 10, o)),
                ),
                (
                    "segment_json",
                    Box::new(|s, j, o| custdb_segment_evaluate(s.0, j, null(), 10, o)),
                ),
                (
                    "mapping_json",
                    Box::new(|s, j, o| {
                        custdb_import_customers_csv(
                            s.0,
                            c"/nonexistent".as_ptr(),
                            j,
                            None,
                            None,
                            null_mut(),
                            o,
                        )
                    }),
                ),
            ];
            for (argument, call) in &calls {
                for bad in [
                    "[]",
                    "[1, 2]",
                    "5",
                    "\"text\"",
                    "null",
                    "{\"zzz_unknown\": 1}",
                    "{\"a\":",
                ] {
                    let json = text(bad);
                    let status = call(store, json.as_ptr(), &mut out);
                    let message = errmsg(store);
                    assert_eq!(status, CUSTDB_ERR_JSON, "{argument} {bad}: {message}");
                    assert!(message.contains(argument), "{argument} {bad}: {message}");
                    if bad.contains("zzz_unknown") {
                        assert!(message.contains("zzz_unknown"), "{argument}: {message}");
                    }
                    assert!(out.is_null(), "an output on an error");
                }
            }
            // A wrong type names the field.
            let json = text("{\"display_name\": 5}");
            assert_eq!(
                custdb_customer_create(store.0, json.as_ptr(), &mut out),
                CUSTDB_ERR_JSON
            );
            assert!(errmsg(store).contains("display_name"), "{}", errmsg(store));
            let json = text("{\"currency\":\"GBP\",\"guest_email\":\"g@example.com\",\"lines\":[{\"sku\":\"A\",\"quantity\":\"2\"}]}");
            assert_eq!(
                custdb_order_place(store.0, json.as_ptr(), &mut out),
                CUSTDB_ERR_JSON
            );
            let message = errmsg(store);
            assert!(
                message.contains("lines[0]") && message.contains("quantity"),
                "{message}"
            );
            // Nothing was written by any of it.
            assert_eq!(custdb_check(store.0, &mut out), CUSTDB_OK);
            assert_eq!(take(out), "[]");
            let mut v = custdb_audit_verification::default();
            assert_eq!(custdb_audit_verify(store.0, &mut v), CUSTDB_OK);
            assert_eq!(v.entries, 0, "audit entries after refused calls");
            custdb_close(store.0);
        }
    }

    /// An error message quotes at most a bounded prefix of a long input.
    #[test]
    fn error_messages_are_bounded_whatever_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 5000);
        let mut out = null_mut();
        let long = "x".repeat(100_000);
        for json in [
            format!("{{\"display_name\":\"A\",\"email\":\"{long}@example.com\"}}"),
            format!("{{\"display_name\":[\"{long}\"]}}"),
            format!("{{\"{long}\":1}}"),
        ] {
            let json = text(&json);
            // SAFETY: a live handle, a C string and an out pointer.
            let status = unsafe { custdb_customer_create(store.0, json.as_ptr(), &mut out) };
            assert_ne!(status, CUSTDB_OK);
            let message = errmsg(store);
            assert!(message.len() <= 512, "{} bytes", message.len());
            assert!(!message.is_empty());
        }
        // SAFETY: done with the handle.
        unsafe { custdb_close(store.0) };
    }
}

/// The JSON Schemas of every record the C API takes or returns, generated
/// from the Rust types into docs/c-api/schemas/ and compared with the
/// committed files: a change to a type that is not regenerated fails here.
/// Regenerate with `CUSTDB_BLESS_SCHEMAS=1 cargo test -p custdb-capi --test c_api schemas`.
mod schemas {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use custdb_core as db;
    use schemars::{schema_for, Schema};

    fn dir() -> PathBuf {
        super::repo().join("docs/c-api/schemas")
    }

    /// Every shape, by the name the docs use.
    fn all() -> BTreeMap<&'static str, Schema> {
        let mut s = BTreeMap::new();
        macro_rules! shapes {
            ($($name:literal => $ty:ty),* $(,)?) => {
                $( s.insert($name, schema_for!($ty)); )*
            };
        }
        shapes! {
            // Inputs.
            "NewCustomer" => db::NewCustomer,
            "CustomerPatch" => db::CustomerPatch,
            "CustomerFilter" => db::CustomerFilter,
            "NewAddress" => db::NewAddress,
            "AddressPatch" => db::AddressPatch,
            "NewInteraction" => db::NewInteraction,
            "NewProduct" => db::NewProduct,
            "NewVariant" => db::NewVariant,
            "VariantPatch" => db::VariantPatch,
            "ProductPatch" => db::ProductPatch,
            "NewMedia" => db::NewMedia,
            "NewCategory" => db::NewCategory,
            "CategoryPatch" => db::CategoryPatch,
            "NewCollection" => db::NewCollection,
            "CollectionPatch" => db::CollectionPatch,
            "NewTaxRate" => db::NewTaxRate,
            "NewPriceList" => db::NewPriceList,
            "NewPromotion" => db::NewPromotion,
            "NewCoupon" => db::NewCoupon,
            "NewGiftCard" => db::NewGiftCard,
            "NewLoyaltyRule" => db::NewLoyaltyRule,
            "QuoteRequest" => db::QuoteRequest,
            "TaxExemption" => db::TaxExemption,
            "NewWarehouse" => db::NewWarehouse,
            "ReplenishmentRule" => db::ReplenishmentRule,
            "NewOrder" => db::NewOrder,
            "NewPayment" => db::NewPayment,
            "NewShipment" => db::NewShipment,
            "NewReturn" => db::NewReturn,
            "NewRefund" => db::NewRefund,
            "NewCreditNote" => db::NewCreditNote,
            "NewPurpose" => db::NewPurpose,
            "NewConsent" => db::NewConsent,
            "Controller" => db::Controller,
            "AuditFilter" => db::AuditFilter,
            "AuditHead" => db::AuditHead,
            "FeedRetention" => db::FeedRetention,
            "Segment" => db::Segment,
            "CustomerMapping" => db::import::generic::CustomerMapping,
            "ImportedOrder" => db::import::generic::ImportedOrder,
            "Permissions" => Vec<db::Permission>,
            "Tags" => Vec<String>,
            // Outputs.
            "Customer" => db::Customer,
            "Address" => db::Address,
            "Interaction" => db::Interaction,
            "Product" => db::Product,
            "Variant" => db::Variant,
            "ProductMedia" => db::ProductMedia,
            "Category" => db::Category,
            "Collection" => db::Collection,
            "TaxClass" => db::TaxClass,
            "TaxRate" => db::TaxRate,
            "CustomerGroup" => db::CustomerGroup,
            "PriceList" => db::PriceList,
            "Promotion" => db::Promotion,
            "Coupon" => db::Coupon,
            "Redemption" => db::Redemption,
            "GiftCard" => db::GiftCard,
            "IssuedGiftCard" => db::IssuedGiftCard,
            "GiftCardEntry" => db::GiftCardEntry,
            "StoreCredit" => db::StoreCredit,
            "StoreCreditEntry" => db::StoreCreditEntry,
            "LoyaltyRule" => db::LoyaltyRule,
            "LoyaltyAccount" => db::LoyaltyAccount,
            "LoyaltyEntry" => db::LoyaltyEntry,
            "PointsExpired" => db::PointsExpired,
            "ListPrice" => db::ListPrice,
            "Quote" => db::Quote,
            "GroupMembership" => db::GroupMembership,
            "Warehouse" => db::Warehouse,
            "Movement" => db::Movement,
            "StockLevel" => db::StockLevel,
            "Reservation" => db::Reservation,
            "StockReportLine" => db::StockReportLine,
            "Order" => db::Order,
            "OrderSummary" => db::OrderSummary,
            "OrderEvent" => db::OrderEvent,
            "Payment" => db::Payment,
            "Shipment" => db::Shipment,
            "Return" => db::Return,
            "Refund" => db::Refund,
            "CreditNote" => db::CreditNote,
            "Purpose" => db::Purpose,
            "ConsentEvent" => db::ConsentEvent,
            "ConsentStatus" => db::ConsentStatus,
            "ConsentReceipt" => db::ConsentReceipt,
            "SubjectExport" => db::SubjectExport,
            "ErasureReport" => db::ErasureReport,
            "RetentionRule" => db::privacy::RetentionRule,
            "RetentionReport" => db::RetentionReport,
            "Role" => db::Role,
            "Grants" => db::Grants,
            "AuditEntry" => db::AuditEntry,
            "ChangeEvent" => db::ChangeEvent,
            "Consumer" => db::Consumer,
            "FeedStatus" => db::FeedStatus,
            "PruneReport" => db::PruneReport,
            "Counts" => db::report::Counts,
            "Revenue" => db::Revenue,
            "ProductSales" => db::report::ProductSales,
            "AverageOrderValue" => db::report::AverageOrderValue,
            "RepeatPurchase" => db::report::RepeatPurchase,
            "CancellationsAndReturns" => db::report::CancellationsAndReturns,
            "StockOutRisk" => db::report::StockOutRisk,
            "RfmScore" => db::RfmScore,
            "DuplicateCandidate" => db::DuplicateCandidate,
            "MergePlan" => db::MergePlan,
            "ImportReport" => db::import::ImportReport,
            "Money" => db::Money,
            "VariantSales" => db::VariantSales,
            "Page" => db::Page<serde_json::Value>,
        }
        s
    }

    /// The schema as committed: pretty JSON, descriptions cut before their
    /// first Markdown heading (the Rust examples and error lists), one
    /// trailing newline.
    fn text(schema: &Schema) -> String {
        let mut value = schema.as_value().clone();
        trim_descriptions(&mut value);
        serde_json::to_string_pretty(&value).unwrap() + "\n"
    }

    /// What custdb reads and writes as a decimal: text only, no exponent
    /// (schemars' own schema for `Decimal` also allows numbers and `1e1`).
    const DECIMAL_PATTERN: &str = "^-?[0-9]+(\\.[0-9]+)?$";

    fn trim_descriptions(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(d)) = map.get_mut("description") {
                    if let Some(cut) = d.find("\n\n# ") {
                        d.truncate(cut);
                    }
                    *d = plain_links(d);
                }
                if map.get("pattern").and_then(|p| p.as_str())
                    == Some("^-?\\d+(\\.\\d+)?([eE]\\d+)?$")
                {
                    let nullable = map
                        .get("type")
                        .and_then(|t| t.as_array())
                        .is_some_and(|types| types.iter().any(|t| t == "null"));
                    let types = if nullable {
                        serde_json::json!(["string", "null"])
                    } else {
                        serde_json::json!("string")
                    };
                    map.insert("type".into(), types);
                    map.insert("pattern".into(), DECIMAL_PATTERN.into());
                    map.insert("format".into(), "decimal".into());
                }
                map.values_mut().for_each(trim_descriptions);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(trim_descriptions),
            _ => {}
        }
    }

    /// Rust doc links read as their text: "[`Customer`](crate::Customer)"
    /// and "[`Customer`]" become "`Customer`".
    fn plain_links(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("[`") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find("`]") {
                Some(close) => {
                    out.push_str(&after[..close + 1]);
                    rest = &after[close + 2..];
                    if rest.starts_with('(') {
                        if let Some(end) = rest.find(')') {
                            rest = &rest[end + 1..];
                        }
                    }
                }
                None => {
                    out.push_str("[`");
                    rest = after.get(1..).unwrap_or("");
                }
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn the_committed_schemas_match_the_rust_types() {
        let bless = std::env::var_os("CUSTDB_BLESS_SCHEMAS").is_some();
        let dir = dir();
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let shapes = all();
        let mut stale = Vec::new();
        for (name, schema) in &shapes {
            let path = dir.join(format!("{name}.json"));
            let fresh = text(schema);
            if bless {
                std::fs::write(&path, &fresh).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
                stale.push(*name);
            }
        }
        // No file for a shape that is gone.
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if !shapes.contains_key(name.as_str()) {
                if bless {
                    std::fs::remove_file(&path).unwrap();
                } else {
                    stale.push(Box::leak(name.into_boxed_str()));
                }
            }
        }
        assert!(
            stale.is_empty(),
            "docs/c-api/schemas/ is stale for {stale:?}: regenerate with \
             CUSTDB_BLESS_SCHEMAS=1 cargo test -p custdb-capi --test c_api schemas, and review the diff"
        );
    }

    /// Every record a function's description names (a `NewCustomer` JSON
    /// object, `*out` is the `Customer`) has its schema, and docs/C-API.md
    /// links it.
    #[test]
    fn every_shape_a_function_names_has_a_schema_linked_from_the_docs() {
        let header = std::fs::read_to_string(super::repo().join("capi/include/custdb.h")).unwrap();
        let doc = std::fs::read_to_string(super::repo().join("docs/C-API.md")).unwrap();
        let shapes = all();
        let mut named = 0;
        for word in header.split('`') {
            if shapes.contains_key(word) {
                named += 1;
                assert!(
                    doc.contains(&format!("(c-api/schemas/{word}.json)")),
                    "docs/C-API.md does not link the schema of {word}"
                );
            }
        }
        assert!(named > 50, "only {named} shapes named in the header");
    }
}
