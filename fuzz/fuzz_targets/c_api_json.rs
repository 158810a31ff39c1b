#![no_main]

mod capi {
    pub use capi::*;
}

#[path = "../harness_capi.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::c_api_json(data));
