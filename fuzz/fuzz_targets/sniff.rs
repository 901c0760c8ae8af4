#![no_main]
//! `otel_canary::fuzzing::sniff` under libFuzzer (docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| otel_canary::fuzzing::sniff(data));
