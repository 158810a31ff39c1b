//! The C API of custdb. Every `extern "C"` function of the project lives in
//! this crate; it wraps the library's calls and adds no logic of its own.
//! `include/custdb.h` is generated from these files by cbindgen
//! (`cbindgen.toml`); docs/C-API.md gives the conventions.
//!
//! Conventions, in short: every fallible function returns a
//! `custdb_status` (`CUSTDB_OK` is 0) and writes its outputs only on
//! success; handles are opaque; `_free` functions accept NULL; strings are
//! UTF-8, checked on the way in; every function runs inside a panic
//! boundary and checks its pointers.
//!
//! One file per area, as the Rust library has one module per aggregate:
//! `library` (version, errors, options, opening, units of work, the whole
//! database), `customers`, `catalog`, `stock`, `orders`, `consent`,
//! `privacy`. `boundary` holds the `ffi!` macro, the only place where a
//! function's pointers meet the checks, and `handle` the store handle and
//! its units of work across calls.

#![allow(non_camel_case_types)]
#![deny(missing_docs)]

mod boundary;
mod handle;
mod status;

mod access;
mod acting;
mod audit;
mod catalog;
mod changes;
mod consent;
mod customers;
mod exchange;
mod giftcards;
mod insight;
mod library;
mod loyalty;
mod orders;
mod pricing;
mod privacy;
mod promotions;
mod stock;
mod storecredit;

pub use access::*;
pub use acting::*;
pub use audit::*;
pub use catalog::*;
pub use consent::*;
pub use customers::*;
pub use exchange::*;
pub use handle::{custdb_options, custdb_store};
pub use insight::*;
pub use library::*;
pub use orders::*;
pub use privacy::*;
pub use status::*;
pub use stock::*;
