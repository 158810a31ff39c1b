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
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "custdb-capi", "--target-dir"])
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

/// The system libraries a Rust staticlib needs on Linux.
const STATIC_DEPS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt", "-lutil"];

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
        .arg("-I")
        .arg(repo().join("examples/c"))
        .arg(source)
        .arg("-o")
        .arg(out);
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
    let output = cmd.output().expect("run the C compiler");
    assert!(
        output.status.success(),
        "{cc} {linkage} {}: {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run(program: &Path, args: &[&Path], cwd: &Path) -> String {
    let output = Command::new(program)
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
            let out = run(&exe, &[dir.path()], dir.path());
            assert!(
                out.contains("all C API checks passed"),
                "{cc} {linkage}: {out}"
            );
        }
    }
}

/// AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer on
/// the C side of every call: no invalid access, no leak, no undefined
/// behaviour in what custdb hands to C or takes from it.
#[test]
fn the_c_test_program_is_clean_under_asan_and_ubsan() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("api_test_asan");
    build_with(
        "gcc",
        &repo().join("capi/tests/c/api_test.c"),
        "shared",
        &exe,
        &[
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
        ],
    );
    let output = Command::new(&exe)
        .arg(dir.path())
        .current_dir(dir.path())
        .env_remove("LD_LIBRARY_PATH")
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        .output()
        .expect("run the C program");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("all C API checks passed"),
        "{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("Sanitizer"), "{stderr}");
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
}
