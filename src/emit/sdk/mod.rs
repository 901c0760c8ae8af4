//! The SDK emitter: the probe sent through `opentelemetry_sdk` providers and
//! `opentelemetry-otlp` exporters configured the way an instrumented Rust app is (from the
//! standard `OTEL_*` environment, the SDK's own defaults where it is unset, flags as the
//! app's code). It answers what the wire emitter cannot: "does an app configured with exactly
//! this environment get through?" (a stale default endpoint, an exporter that fails
//! silently, variables read differently than the operator believes).

pub mod diagnostics;
pub mod emitter;
pub mod ids;
pub mod observe;
pub mod outcome;
pub mod resource;
pub mod settings;

pub use emitter::SdkEmitter;
pub use settings::{SdkTarget, resolve_sdk_target};
