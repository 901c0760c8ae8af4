//! Emitting a probe: payloads (opentelemetry-proto messages tagged with the probe) and the
//! transports that send them, each export returning status, timing and an error class.

pub mod encoding;
pub mod exporter;
pub mod grpc;
pub mod http;
pub mod outcome;
pub mod payload;
pub mod probe_emitter;
pub mod response;
pub mod sdk;
pub mod tls;
