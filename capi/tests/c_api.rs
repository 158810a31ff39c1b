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
    let lib = lib_dir();
    let mut cmd = Command::new(cc);
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
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
