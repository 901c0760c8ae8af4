//! Fault switches: make a receiver answer like a misbehaving server (partial success, an
//! error status, a slow ack) so every failure path can be reproduced on demand.

use crate::signal::Signal;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

/// How the receivers misbehave for one signal. The default is "behave".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalFault {
    /// Accept, but report this many items rejected with this message.
    pub partial: Option<(i64, String)>,
    /// Answer with this HTTP status (gRPC: the code the collector maps it from).
    pub status: Option<u16>,
    /// Sent as `Retry-After` (seconds) with the status.
    pub retry_after: Option<u64>,
    /// Wait this long before answering.
    pub delay: Duration,
}

#[derive(Debug, Default)]
pub struct Faults {
    by_signal: RwLock<HashMap<Signal, SignalFault>>,
}

impl Faults {
    pub fn set(&self, signal: Signal, fault: SignalFault) {
        self.by_signal
            .write()
            .expect("faults lock")
            .insert(signal, fault);
    }

    pub fn clear(&self) {
        self.by_signal.write().expect("faults lock").clear();
    }

    pub fn get(&self, signal: Signal) -> SignalFault {
        self.by_signal
            .read()
            .expect("faults lock")
            .get(&signal)
            .cloned()
            .unwrap_or_default()
    }
}

/// The gRPC code a collector uses for the HTTP status it would have sent
/// (receiver/otlpreceiver/internal/errors, reversed).
pub fn grpc_code_for_http(status: u16) -> tonic::Code {
    match status {
        400 => tonic::Code::InvalidArgument,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        413 | 429 => tonic::Code::ResourceExhausted,
        502..=504 => tonic::Code::Unavailable,
        500 => tonic::Code::Internal,
        _ => tonic::Code::Unknown,
    }
}
