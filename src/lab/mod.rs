//! The built-in stack: in-memory stand-ins for an OTLP collector and for the Tempo, Loki and
//! Prometheus/Mimir query APIs, answering exactly as the real servers do (shared/fixtures),
//! with fault switches to reproduce field incidents; plus a Prometheus-style scraper and a
//! file tailer, so the pull paths (a `/metrics` page, a log file) can be proven too. Used by
//! tests, `otel-canary lab` and `demo`.

pub mod aggregate;
pub mod backend_otlp;
pub mod exposition;
pub mod faults;
pub mod generator;
pub mod grafana_api;
pub mod http_util;
mod lexing;
pub mod logql;
pub mod loki_api;
pub mod loki_exporter_mapping;
pub mod loki_json;
pub mod loki_mapping;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod params;
pub mod pipeline;
pub mod prom_api;
pub mod prom_mapping;
pub mod promql;
pub mod receivers;
pub mod scrape_store;
pub mod scraper;
pub mod stack;
pub mod store;
pub mod tail_store;
pub mod tailer;
pub mod tempo_api;
pub mod tempo_data;
pub mod tempo_json;
pub mod tempo_metrics;
pub mod tenancy;
pub mod tls;
pub mod traceql;

pub use faults::{FaultSetting, Faults, GrafanaFault, SignalFault, parse_fault_spec};
pub use grafana_api::{LAB_GRAFANA_TOKEN, LabGrafanaConfig};
pub use pipeline::{PipelineCounters, Transport};
pub use receivers::{LabReceivers, ReceiverConfig};
pub use scraper::ScrapeTarget;
pub use stack::{LabStack, LabStackConfig};
pub use store::{Received, ReceivedVia, Store};
pub use tls::LabTls;

use crate::emit::encoding::Payload;
use pipeline::{Forwarded, TEMPO_SINGLE_TENANT, item_count};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the receivers and query APIs share: what arrived, which faults are switched on, the
/// collector's and Tempo's self-metrics, and whether the backends run multi-tenant.
#[derive(Debug, Default)]
pub struct LabState {
    pub store: Store,
    /// What the lab's scraper pulled from `/metrics` pages (the pull path for metrics).
    pub scraped: scrape_store::ScrapeStore,
    /// What the lab's tailer read from log files (the pull path for logs).
    pub tailed: tail_store::TailStore,
    pub faults: Faults,
    /// What the collector's `/metrics` and Tempo's `/metrics` count.
    pub pipeline: PipelineCounters,
    /// Multi-tenant mode (Loki `auth_enabled`, Mimir `multitenancy_enabled`): backend ingest
    /// and query endpoints demand `X-Scope-OrgID` and queries only see their tenant's data.
    require_tenant: AtomicBool,
}

impl LabState {
    pub fn new() -> Arc<LabState> {
        Arc::new(LabState::default())
    }

    /// Switches multi-tenant mode on or off at runtime (affects later requests only).
    pub fn set_require_tenant(&self, on: bool) {
        self.require_tenant.store(on, Ordering::SeqCst);
    }

    /// Whether backend endpoints currently demand `X-Scope-OrgID`.
    pub fn requires_tenant(&self) -> bool {
        self.require_tenant.load(Ordering::SeqCst)
    }

    /// Stores a request received now, its visibility decided by the signal's current fault.
    /// For a backend's own ingest endpoint; the collector's receivers use `accept`.
    pub fn record(&self, via: ReceivedVia, headers: Vec<(String, String)>, payload: Payload) {
        let fault = self.faults.get(payload.signal());
        self.store
            .push(Received::stamped(via, headers, payload, &fault));
    }

    /// An export the collector's receiver accepted: counted in the self-metrics the way the
    /// pipeline would, then stored if it reached a backend. `drop` stores it never visible
    /// (no pipeline), `export_fail` and `ingester_fail` store nothing (the exporter failed).
    pub fn accept(&self, via: ReceivedVia, headers: Vec<(String, String)>, payload: Payload) {
        let signal = payload.signal();
        let fault = self.faults.get(signal);
        let tenant = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(store::TENANT_HEADER))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty() && self.requires_tenant())
            .unwrap_or(TEMPO_SINGLE_TENANT)
            .to_string();
        let forwarded = self.pipeline.accepted(
            signal,
            transport_of(via),
            item_count(&payload),
            &fault,
            &tenant,
        );
        if forwarded != Forwarded::Failed {
            self.store
                .push(Received::stamped(via, headers, payload, &fault));
        }
    }

    /// The collector's receiver answered `status` instead of accepting. A 429 or 5xx is the
    /// pipeline pushing back (memory limiter, an exporter without a queue failing), which the
    /// collector counts as refused; a 4xx is the request's own fault and counts nowhere.
    pub fn answered_error(&self, via: ReceivedVia, payload: &Payload, status: u16) {
        if status == 429 || status >= 500 {
            self.pipeline
                .refused(payload.signal(), transport_of(via), item_count(payload));
        }
    }
}

fn transport_of(via: ReceivedVia) -> Transport {
    match via {
        ReceivedVia::Http(_) => Transport::Http,
        ReceivedVia::Grpc => Transport::Grpc,
    }
}
