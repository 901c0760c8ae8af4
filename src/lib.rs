//! otel-canary: emit a uniquely tagged trace, log and metric over OTLP, prove each arrived,
//! measure every hop and say which hop broke and why.

pub mod backends;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod emit;
pub mod fuzzing;
pub mod lab;
pub mod poll;
pub mod probe;
pub mod redact;
pub mod report;
pub mod roundtrip;
pub mod self_trace;
pub mod serve;
pub mod signal;

/// What `--version` prints: the crate version, plus `git describe` when built from a git work
/// tree of this crate or the `OTEL_CANARY_VERSION` given at build time (see build.rs).
pub const VERSION: &str = env!("OTEL_CANARY_VERSION");
