#![no_main]
//! `otel_canary::fuzzing::scenario_toml` under libFuzzer (docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| otel_canary::fuzzing::scenario_toml(data));
