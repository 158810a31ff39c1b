//! Import and export: files in, files out, with progress and rejection
//! callbacks.

use std::ffi::{c_char, c_void};
use std::fs::File;

use custdb_core as db;

use crate::boundary::*;
use crate::handle::custdb_store;
use crate::status::*;

/// Called during an import with the running counts (lines read,
/// imported, already present, rejected) and the call's `user_data`.
pub type custdb_import_progress_fn = Option<
    unsafe extern "C" fn(
        lines_read: u64,
        imported: u64,
        already_present: u64,
        rejected: u64,
        user_data: *mut c_void,
    ),
>;

/// Called during an import for each refused line: its number, the reason
/// (valid during the call only) and the call's `user_data`.
pub type custdb_import_rejection_fn =
    Option<unsafe extern "C" fn(line: u64, reason: *const c_char, user_data: *mut c_void)>;

/// An import's C callbacks and the user data they are given back.
struct Callbacks {
    progress: custdb_import_progress_fn,
    rejection: custdb_import_rejection_fn,
    user_data: *mut c_void,
}

impl Callbacks {
    fn progress(&self, p: db::import::ImportProgress) {
        if let Some(f) = self.progress {
            // SAFETY: the caller of the import promised a function safe to
            // call with the `user_data` it gave, on this thread.
            unsafe {
                f(
                    p.lines_read,
                    p.imported,
                    p.already_present,
                    p.rejected,
                    self.user_data,
                )
            }
        }
    }

    fn rejection(&self, r: &db::import::Rejection) {
        if let Some(f) = self.rejection {
            let reason = to_cstring(&r.reason);
            // SAFETY: as for `progress`; `reason` outlives the call.
            unsafe { f(r.line, reason.as_ptr(), self.user_data) }
        }
    }
}

/// An export format, named in plain text.
#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// # Safety
    ///
    /// As [`text`].
    unsafe fn arg(name: &str, s: *const c_char) -> Result<Format, Failure> {
        // SAFETY: forwarded promise.
        match unsafe { text(name, s) }? {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::JsonLines),
            _ => Err(failure(
                CUSTDB_ERR_INVALID,
                format!("invalid {name}: must be one of csv, jsonl"),
            )),
        }
    }
}

/// Opens an import's input file, with the library's error for a file that
/// cannot be opened.
fn open_file(path: &str) -> Result<File, Failure> {
    File::open(path)
        .map_err(|e| failure(CUSTDB_ERR_CANNOT_OPEN, format!("cannot open {path}: {e}")))
}

/// What an export wrote: `rows` (customers, or orders) and `feed_position`,
/// the change feed's head in the export's snapshot: a system loaded from
/// the file follows the feed after it (`custdb_changes_create_consumer`
/// with `"after"`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct custdb_export_report {
    /// Records written.
    pub rows: u64,
    /// The change feed's position in the export's snapshot.
    pub feed_position: i64,
}

/// Writes an export to a new file, removing it again on any error so that
/// no half-written export is left behind.
fn export_to(
    path: &str,
    write: impl FnOnce(&mut std::io::BufWriter<File>) -> db::Result<db::ExportReport>,
) -> Result<custdb_export_report, Failure> {
    let file = File::create_new(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => failure(
            CUSTDB_ERR_INVALID,
            format!("invalid path: {path} exists; an export never overwrites a file"),
        ),
        _ => failure(CUSTDB_ERR_CANNOT_OPEN, format!("cannot create {path}: {e}")),
    })?;
    let mut out = std::io::BufWriter::new(file);
    let written = write(&mut out).map_err(Failure::from).and_then(|n| {
        let file = out
            .into_inner()
            .map_err(|e| failure(CUSTDB_ERR_IO, format!("cannot write {path}: {e}")))?;
        file.sync_all()
            .map_err(|e| failure(CUSTDB_ERR_IO, format!("cannot write {path}: {e}")))?;
        Ok(custdb_export_report {
            rows: n.rows,
            feed_position: n.feed_position,
        })
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Imports customers from a CSV file at `path` (a header line, then one
/// customer a line) with a `CustomerMapping` JSON object: `source` (the
/// system the file comes from) and `columns` (header name to field:
/// `{"E-mail": "email", "Name": "display_name"}`).
/// `progress` (or NULL) is called after every unit of work of 1,000 lines
/// with the running counts; `rejection` (or NULL) with each refused line's
/// number and reason (the text is valid during the call only); both get
/// `user_data`, run on the calling thread, and must not close `store`.
/// `*out` is the `ImportReport`. A file read twice imports nothing twice
/// (rows already present are counted, not written again). Units of work of
/// its own: `CUSTDB_ERR_REENTRANT` inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_import_customers_csv(
    store: *const custdb_store,
    path: *const c_char,
    mapping_json: *const c_char,
    progress: custdb_import_progress_fn,
    rejection: custdb_import_rejection_fn,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let path = string("path", path)?;
        let mapping: db::import::generic::CustomerMapping = json_arg("mapping_json", mapping_json)?;
        let store = cx.outside_unit("custdb_import_customers_csv")?;
        let file = open_file(&path)?;
        let cb = Callbacks {
            progress,
            rejection,
            user_data,
        };
        Ok(store.import_customers_csv(file, &mapping, |x| cb.progress(x), |x| cb.rejection(x))?)
    })
}

/// Imports customers from a JSON Lines file at `path` (one object a line)
/// with a `CustomerMapping` JSON object (`columns`: key to field).
/// `progress` (or NULL) is called after every unit of work of 1,000 lines
/// with the running counts; `rejection` (or NULL) with each refused line's
/// number and reason (the text is valid during the call only); both get
/// `user_data`, run on the calling thread, and must not close `store`.
/// `*out` is the `ImportReport`. A file read twice imports nothing twice
/// (rows already present are counted, not written again). Units of work of
/// its own: `CUSTDB_ERR_REENTRANT` inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_import_customers_jsonl(
    store: *const custdb_store,
    path: *const c_char,
    mapping_json: *const c_char,
    progress: custdb_import_progress_fn,
    rejection: custdb_import_rejection_fn,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let path = string("path", path)?;
        let mapping: db::import::generic::CustomerMapping = json_arg("mapping_json", mapping_json)?;
        let store = cx.outside_unit("custdb_import_customers_jsonl")?;
        let file = std::io::BufReader::new(open_file(&path)?);
        let cb = Callbacks {
            progress,
            rejection,
            user_data,
        };
        Ok(store.import_customers_jsonl(file, &mapping, |x| cb.progress(x), |x| cb.rejection(x))?)
    })
}

/// Imports products from a JSON Lines file at `path`, one `NewProduct` a
/// line.
/// `progress` (or NULL) is called after every unit of work of 1,000 lines
/// with the running counts; `rejection` (or NULL) with each refused line's
/// number and reason (the text is valid during the call only); both get
/// `user_data`, run on the calling thread, and must not close `store`.
/// `*out` is the `ImportReport`. A file read twice imports nothing twice
/// (rows already present are counted, not written again). Units of work of
/// its own: `CUSTDB_ERR_REENTRANT` inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_import_products_jsonl(
    store: *const custdb_store,
    path: *const c_char,
    progress: custdb_import_progress_fn,
    rejection: custdb_import_rejection_fn,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let path = string("path", path)?;
        let store = cx.outside_unit("custdb_import_products_jsonl")?;
        let file = std::io::BufReader::new(open_file(&path)?);
        let cb = Callbacks {
            progress,
            rejection,
            user_data,
        };
        Ok(store.import_products_jsonl(file, |x| cb.progress(x), |x| cb.rejection(x))?)
    })
}

/// Imports historical orders from a JSON Lines file at `path`, one
/// `ImportedOrder` a line, from the system named `source`.
/// `progress` (or NULL) is called after every unit of work of 1,000 lines
/// with the running counts; `rejection` (or NULL) with each refused line's
/// number and reason (the text is valid during the call only); both get
/// `user_data`, run on the calling thread, and must not close `store`.
/// `*out` is the `ImportReport`. A file read twice imports nothing twice
/// (rows already present are counted, not written again). Units of work of
/// its own: `CUSTDB_ERR_REENTRANT` inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_import_orders_jsonl(
    store: *const custdb_store,
    source: *const c_char,
    path: *const c_char,
    progress: custdb_import_progress_fn,
    rejection: custdb_import_rejection_fn,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let path = string("path", path)?;
        let source = string("source", source)?;
        let store = cx.outside_unit("custdb_import_orders_jsonl")?;
        let file = std::io::BufReader::new(open_file(&path)?);
        let cb = Callbacks {
            progress,
            rejection,
            user_data,
        };
        Ok(store.import_orders_jsonl(&source, file, |x| cb.progress(x), |x| cb.rejection(x))?)
    })
}

/// Imports the UCI Online Retail data set (its CSV export, or the file
/// `../shared/data` describes) from `path`: customers, products and
/// historical orders.
/// `progress` (or NULL) is called after every unit of work of 1,000 lines
/// with the running counts; `rejection` (or NULL) with each refused line's
/// number and reason (the text is valid during the call only); both get
/// `user_data`, run on the calling thread, and must not close `store`.
/// `*out` is the `ImportReport`. A file read twice imports nothing twice
/// (rows already present are counted, not written again). Units of work of
/// its own: `CUSTDB_ERR_REENTRANT` inside one.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_import_retail(
    store: *const custdb_store,
    path: *const c_char,
    progress: custdb_import_progress_fn,
    rejection: custdb_import_rejection_fn,
    user_data: *mut c_void,
    out: *mut *mut c_char,
) -> custdb_status {
    ffi!(store, json out, |cx| {
        let path = string("path", path)?;
        let store = cx.outside_unit("custdb_import_retail")?;
        let cb = Callbacks {
            progress,
            rejection,
            user_data,
        };
        Ok(store.import_retail_file(&path, |x| cb.progress(x), |x| cb.rejection(x))?)
    })
}

/// Exports every customer to a new file at `path` in `format` (plain text:
/// `"csv"` or `"jsonl"`; docs/EXPORT.md has the columns). Writes the
/// number of customers and the change feed's position in the export's
/// snapshot to `*out`. `CUSTDB_ERR_INVALID` when `path` exists; on any
/// error the partial file is removed.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_export_customers(
    store: *const custdb_store,
    path: *const c_char,
    format: *const c_char,
    out: *mut custdb_export_report,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let path = string("path", path)?;
        let format = Format::arg("format", format)?;
        let store = cx.store();
        export_to(&path, |file| match format {
            Format::Csv => store.export_customers_csv(file),
            Format::JsonLines => store.export_customers_jsonl(file),
        })
    })
}

/// Exports every order with its lines to a new file at `path` in `format`
/// (`"csv"`: one row per line; `"jsonl"`: one order a line). Writes the
/// number of orders and the feed's position to `*out`. As
/// `custdb_export_customers` otherwise.
///
/// # Safety
///
/// `store` is NULL or a live handle; string arguments NULL or
/// NUL-terminated; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn custdb_export_orders(
    store: *const custdb_store,
    path: *const c_char,
    format: *const c_char,
    out: *mut custdb_export_report,
) -> custdb_status {
    ffi!(store, value out, |cx| {
        let path = string("path", path)?;
        let format = Format::arg("format", format)?;
        let store = cx.store();
        export_to(&path, |file| match format {
            Format::Csv => store.export_orders_csv(file),
            Format::JsonLines => store.export_orders_jsonl(file),
        })
    })
}
