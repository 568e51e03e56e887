#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lambda_sansio::sim::fuzz::sim(data));
