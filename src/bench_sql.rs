//! `sql_module!`: an area's SQL statements, kept beside the Rust that runs
//! them. They are crate-private; the `bench-internals` feature (for the
//! benchmarks only) makes them public but hidden, so that the raw-rusqlite
//! baselines in `benches/` run the very same statement texts instead of
//! copies. Applications never see them.

/// Declares `mod sql { ... }`: `pub` (and `#[doc(hidden)]`) with the
/// `bench-internals` feature, `pub(crate)` without.
macro_rules! sql_module {
    ($(#[$meta:meta])* mod sql { $($body:tt)* }) => {
        #[cfg(feature = "bench-internals")]
        #[doc(hidden)]
        $(#[$meta])*
        pub mod sql {
            $($body)*
        }

        #[cfg(not(feature = "bench-internals"))]
        $(#[$meta])*
        #[allow(dead_code, unused_imports)]
        pub(crate) mod sql {
            $($body)*
        }
    };
}
pub(crate) use sql_module;

/// The PostgreSQL text custdb runs for a statement written in SQLite's
/// dialect (its `?N` placeholders become `$N`), so that the PostgreSQL
/// baselines in `benches/` run the same text. Not an API.
#[cfg(all(feature = "bench-internals", feature = "postgres"))]
#[doc(hidden)]
pub fn postgres_text(sqlite: &str) -> String {
    crate::db::postgres_placeholders(sqlite)
}
