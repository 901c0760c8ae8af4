//! The probe's own ids for the SDK's spans. The readers look a trace up by its id and the
//! spans by theirs (and the log carries them), so the SDK must not invent them: each probe's
//! provider gets a generator that hands out exactly the probe's trace id and one span id.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;

/// Always the same trace id and span id: one provider per probe and per span.
#[derive(Clone, Copy, Debug)]
pub struct ProbeIds {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

impl IdGenerator for ProbeIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from_bytes(self.trace_id)
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from_bytes(self.span_id)
    }
}
