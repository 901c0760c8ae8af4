//! A probe: one uniquely tagged round trip. It owns every identifier and instant the payload
//! builders need, so building a payload is a pure function of the probe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// A half-open span of wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start: SystemTime,
    pub end: SystemTime,
}

/// Everything that identifies one probe in every backend.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// Unique tag carried by the span attribute, the log body and attribute, and (optionally)
    /// the metric label.
    pub probe_id: Uuid,
    /// When the probe began; the reference instant for every hop.
    pub started_at: SystemTime,
    pub trace_id: [u8; 16],
    pub client_span_id: [u8; 8],
    pub server_span_id: [u8; 8],
    pub client_span: Interval,
    pub server_span: Interval,
    /// The metric's sample value: emit time in ms since the epoch. Exact in an f64 (below
    /// 2^53) and unique per process, so a query can recognise "this probe's sample" on a
    /// stable series without a per-probe label.
    pub marker: f64,
}

/// The last marker handed out in this process; markers are strictly increasing so two probes
/// started in the same millisecond still differ.
static LAST_MARKER: AtomicU64 = AtomicU64::new(0);

fn next_marker(now: SystemTime) -> u64 {
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64;
    let mut last = LAST_MARKER.load(Ordering::Relaxed);
    loop {
        let candidate = now_ms.max(last + 1);
        match LAST_MARKER.compare_exchange_weak(
            last,
            candidate,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return candidate,
            Err(seen) => last = seen,
        }
    }
}

fn random_nonzero<const N: usize>() -> [u8; N] {
    loop {
        let bytes = Uuid::new_v4().into_bytes();
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes[..N]);
        if out.iter().any(|b| *b != 0) {
            return out;
        }
    }
}

impl Probe {
    /// Starts a probe now: fresh ids, and the client/server span pair timed for real (the
    /// server span nests inside the client span).
    pub fn start() -> Probe {
        let client_start = SystemTime::now();
        let probe_id = Uuid::new_v4();
        let trace_id = Uuid::new_v4().into_bytes();
        let client_span_id = random_nonzero::<8>();
        let server_span_id = random_nonzero::<8>();
        let server_start = SystemTime::now();
        let marker = next_marker(client_start) as f64;
        let server_end = SystemTime::now();
        let client_end = SystemTime::now();
        Probe {
            probe_id,
            started_at: client_start,
            trace_id,
            client_span_id,
            server_span_id,
            client_span: Interval {
                start: client_start,
                end: client_end,
            },
            server_span: Interval {
                start: server_start,
                end: server_end,
            },
            marker,
        }
    }

    /// Seconds since the probe began (wall clock; zero if the clock stepped back): the shared
    /// axis every lane of a waterfall is drawn on.
    pub fn seconds_since_start(&self) -> f64 {
        SystemTime::now()
            .duration_since(self.started_at)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
    }

    /// The trace id as 32 lowercase hex digits, as Loki and TraceQL results show it.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The client span id as 16 lowercase hex digits.
    pub fn client_span_id_hex(&self) -> String {
        hex(&self.client_span_id)
    }
}

/// Lowercase hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Nanoseconds since the epoch, as OTLP timestamps want them.
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_strictly_increase_and_spans_nest() {
        let a = Probe::start();
        let b = Probe::start();
        assert!(b.marker > a.marker);
        assert_ne!(a.trace_id, b.trace_id);
        assert!(a.client_span.start <= a.server_span.start);
        assert!(a.server_span.end <= a.client_span.end);
        assert_eq!(a.marker, a.marker.trunc());
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
    }
}
