#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_sansio::http1::fuzz::request_decoder(data));
