//! What the lab received, kept in memory (bounded, oldest dropped first) so tests and the
//! query APIs can look at it. Each item carries, decided once at ingest time from the faults
//! switched on then, when the query side may show it and to which tenant it belongs: a fault
//! switched off later must not resurrect or hide data already written, as in a real backend.

use super::faults::SignalFault;
use super::generator::DEFAULT_GENERATOR_DELAY;
use super::loki_mapping::LokiEntry;
use super::params::nanos_of;
use super::prom_mapping::PromSample;
use crate::emit::encoding::{Encoding, Payload};
use crate::signal::Signal;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

/// How many export requests the lab remembers; older ones are dropped.
pub const STORE_CAPACITY: usize = 10_000;

/// The header that names the tenant on Tempo, Loki and Mimir (lowercase, as stored).
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// The transport a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceivedVia {
    Http(Encoding),
    Grpc,
}

/// One export request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub via: ReceivedVia,
    /// Request headers (HTTP) or metadata (gRPC), names lowercase.
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
    pub at: SystemTime,
    /// From when the query APIs show it; `None` = dropped (acknowledged, never visible), the
    /// "200 but gone" incident.
    pub visible_at: Option<SystemTime>,
    /// Traces: from when Tempo's search finds it (search lags trace-by-id in real Tempo).
    pub searchable_at: Option<SystemTime>,
    /// Traces: from when the metrics-generator's series count it (`lab::generator`); `None`
    /// when dropped or the generator was disabled for it.
    pub generated_at: Option<SystemTime>,
    /// The write's `X-Scope-OrgID`, if any; queries of a multi-tenant lab only see their own.
    pub tenant: Option<String>,
    /// The payload as Loki entries (native OTLP mapping) and as Prometheus samples, mapped
    /// on first query and kept: a canary probing every few milliseconds (the `serve`
    /// benchmark) would otherwise re-map the whole store on every read.
    loki_entries: OnceLock<Vec<LokiEntry>>,
    prom_samples: OnceLock<Vec<PromSample>>,
}

impl Received {
    /// A request received now, with visibility decided by `fault` (the one switched on now).
    pub fn stamped(
        via: ReceivedVia,
        headers: Vec<(String, String)>,
        payload: Payload,
        fault: &SignalFault,
    ) -> Received {
        let at = SystemTime::now();
        let visible_at = (!fault.drop).then(|| at + fault.ingest_delay);
        let searchable_at = visible_at.map(|v| v + fault.search_delay);
        let generated_at = visible_at
            .filter(|_| !fault.generator_disabled)
            .map(|v| v + fault.generator_delay.unwrap_or(DEFAULT_GENERATOR_DELAY));
        let tenant = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(TENANT_HEADER))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty());
        Received {
            via,
            headers,
            payload,
            at,
            visible_at,
            searchable_at,
            generated_at,
            tenant,
            loki_entries: OnceLock::new(),
            prom_samples: OnceLock::new(),
        }
    }

    /// A log payload as Loki's native OTLP ingest stores it (mapped once).
    pub fn loki_entries(&self) -> &[LokiEntry] {
        self.loki_entries.get_or_init(|| match &self.payload {
            Payload::Log(req) => super::loki_mapping::entries(req, nanos_of(self.at)),
            _ => Vec::new(),
        })
    }

    /// A metrics payload as Mimir/Prometheus store it (mapped once).
    pub fn prom_samples(&self) -> &[PromSample] {
        self.prom_samples.get_or_init(|| match &self.payload {
            Payload::Metric(req) => super::prom_mapping::samples(req),
            _ => Vec::new(),
        })
    }

    pub fn signal(&self) -> Signal {
        self.payload.signal()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether queries at `now` see it (trace by id, Loki, Prometheus).
    pub fn visible(&self, now: SystemTime) -> bool {
        self.visible_at.is_some_and(|t| t <= now)
    }

    /// Whether Tempo's search sees it at `now`.
    pub fn searchable(&self, now: SystemTime) -> bool {
        self.searchable_at.is_some_and(|t| t <= now)
    }
}

/// The lab's memory. Items are shared (`Arc`) so a query can scan a snapshot without holding
/// the lock or copying payloads.
#[derive(Debug, Default)]
pub struct Store {
    items: Mutex<VecDeque<Arc<Received>>>,
}

impl Store {
    /// Remembers a request, forgetting the oldest beyond `STORE_CAPACITY`.
    pub fn push(&self, r: Received) {
        let mut items = self.items.lock().expect("store lock");
        if items.len() >= STORE_CAPACITY {
            items.pop_front();
        }
        items.push_back(Arc::new(r));
    }

    /// Everything received for a signal, oldest first.
    pub fn of(&self, signal: Signal) -> Vec<Received> {
        let items = self.items.lock().expect("store lock");
        items
            .iter()
            .filter(|r| r.signal() == signal)
            .map(|r| Received::clone(r))
            .collect()
    }

    /// A cheap snapshot of a signal's items, oldest first, for the query APIs.
    pub fn snapshot(&self, signal: Signal) -> Vec<Arc<Received>> {
        let items = self.items.lock().expect("store lock");
        items
            .iter()
            .filter(|r| r.signal() == signal)
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
