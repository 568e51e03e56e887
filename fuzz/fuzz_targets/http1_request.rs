#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_sansio_blocking::http1::fuzz::request_decoder(data));
