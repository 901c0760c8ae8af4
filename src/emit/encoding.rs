//! Wire encodings of OTLP messages. Protobuf is prost's; JSON is opentelemetry-proto's serde
//! mapping (hex ids, integer enums, lowerCamelCase, 64-bit integers as strings) with one fix:
//! serde writes unset message fields as `null`, which OTLP/JSON forbids, so nulls are removed.

use crate::signal::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::Serialize;
use serde_json::Value;

/// A message body encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The exact Content-Type OTLP/HTTP requires (servers compare it byte for byte).
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// One signal's export request.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Trace(ExportTraceServiceRequest),
    Log(ExportLogsServiceRequest),
    Metric(ExportMetricsServiceRequest),
}

impl Payload {
    pub fn signal(&self) -> Signal {
        match self {
            Payload::Trace(_) => Signal::Trace,
            Payload::Log(_) => Signal::Log,
            Payload::Metric(_) => Signal::Metric,
        }
    }

    /// The body bytes in the given encoding.
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        match (self, encoding) {
            (Payload::Trace(m), Encoding::Protobuf) => m.encode_to_vec(),
            (Payload::Log(m), Encoding::Protobuf) => m.encode_to_vec(),
            (Payload::Metric(m), Encoding::Protobuf) => m.encode_to_vec(),
            (Payload::Trace(m), Encoding::Json) => to_otlp_json(m),
            (Payload::Log(m), Encoding::Json) => to_otlp_json(m),
            (Payload::Metric(m), Encoding::Json) => to_otlp_json(m),
        }
    }
}

/// Serialises a message as OTLP/JSON.
pub fn to_otlp_json<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut value = serde_json::to_value(msg).expect("OTLP messages always serialise");
    strip_nulls(&mut value);
    serde_json::to_vec(&value).expect("a JSON value always serialises")
}

/// Removes `null` object members recursively (unset optional messages and oneofs).
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
