#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_sansio::sim::fuzz_http::http_event(data));
