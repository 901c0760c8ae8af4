//! The built-in stack: in-memory stand-ins for an OTLP collector (and, later, Tempo, Loki and
//! Prometheus query APIs) that answer exactly as the real servers do (shared/fixtures), with
//! fault switches to reproduce field incidents. Used by tests, `otel-canary lab` and `demo`.

pub mod faults;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod receivers;
pub mod store;
pub mod tls;

pub use faults::{Faults, SignalFault};
pub use receivers::{LabReceivers, ReceiverConfig};
pub use store::{Received, ReceivedVia, Store};
pub use tls::LabTls;

use std::sync::Arc;

/// What the receivers share: what arrived and which faults are switched on.
#[derive(Debug, Default)]
pub struct LabState {
    pub store: Store,
    pub faults: Faults,
}

impl LabState {
    pub fn new() -> Arc<LabState> {
        Arc::new(LabState::default())
    }
}
