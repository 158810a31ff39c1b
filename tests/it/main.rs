//! The integration tests, one module per area, in one binary: each test
//! binary links SQLite, and one links much faster than thirty. `crash` and
//! `processes` stay binaries of their own because they start themselves
//! again as child processes.

mod common;

mod access;
mod addresses;
mod atomicity;
mod audit;
mod backup;
mod bad_input;
mod catalog;
mod changes;
mod commerce;
mod commerce_bad_input;
mod commerce_concurrency;
mod consent;
mod customers;
mod encryption;
#[cfg(feature = "postgres")]
mod engines;
mod extremes;
mod faults;
mod fuzz_corpus;
mod gift_cards;
mod group_commit;
mod import_export;
mod import_retail;
mod inputs;
mod insight;
mod interactions;
mod io_faults;
mod loyalty;
mod migrations;
mod model;
mod model_commerce;
mod one_shot;
mod open;
#[cfg(feature = "postgres")]
mod pg_security;
mod pricing;
mod privacy;
mod privacy_bad_input;
mod privacy_map;
mod promotions;
mod query_plans;
mod store_credit;
mod timestamps;
mod units_of_work;
