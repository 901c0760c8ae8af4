#![no_main]
//! `otel_canary::fuzzing::prom_query` under libFuzzer (docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| otel_canary::fuzzing::prom_query(data));
