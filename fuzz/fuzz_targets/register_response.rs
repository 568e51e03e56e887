#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_sansio::sim::fuzz::register_response(data));
