//! Fault switches: make a receiver answer like a misbehaving server (partial success, an
//! error status, a slow ack), the collector lose data after the ack (no pipeline for the
//! signal, a failing exporter), and a backend misbehave after the ack (data late, never
//! visible, late in search, Tempo's ingesters unreachable, queries failing) so every failure
//! path can be reproduced on demand. The collector's and Tempo's self-metrics
//! (`lab::pipeline`) move the way the real ones do under each fault.

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
    /// Data becomes queryable this long after it was acknowledged (ingester lag).
    pub ingest_delay: Duration,
    /// Traces: Tempo's search sees them this long after trace-by-id does (Tempo only
    /// searches traces once they are cut to a block, 5-10 s in practice).
    pub search_delay: Duration,
    /// Acknowledge, then never show it: the silent-loss incident. In the collector's
    /// self-metrics it looks like a collector without a pipeline for the signal: the receiver
    /// counts it accepted and no exporter for the signal is listed.
    pub drop: bool,
    /// Acknowledge, then the collector's exporter for the signal fails to send it
    /// (`otelcol_exporter_send_failed_*` rises) and nothing reaches the backend: incident 5's
    /// other flavour, told apart from `drop` only by the self-metrics.
    pub export_fail: bool,
    /// Traces: the collector forwards them, Tempo's distributor receives them but no ingester
    /// takes them (`tempo_distributor_ingester_append_failures_total` rises, Tempo's receiver
    /// refuses them, the collector's Tempo exporter fails) and nothing is stored: incident 8.
    pub ingester_fail: bool,
    /// The signal's query endpoints answer this status and body (text/plain) instead.
    pub query_error: Option<(u16, String)>,
    /// Logs: stored as a Loki exporter writes them (job/instance/exporter labels, a JSON
    /// line, no structured metadata) instead of through Loki's OTLP endpoint.
    pub loki_exporter: bool,
    /// Traces: Tempo's metrics-generator is not enabled for the tenant (incident 9): no
    /// span-metrics or service-graph series are derived from them, and TraceQL metrics
    /// queries fail as Tempo's do without the local-blocks processor.
    pub generator_disabled: bool,
    /// Traces: derived series appear this long after the trace is visible
    /// [default: `generator::DEFAULT_GENERATOR_DELAY`].
    pub generator_delay: Option<Duration>,
    /// Traces: Tempo's TraceQL metrics endpoint answers 500 with this text.
    pub traceql_metrics_error: Option<String>,
    /// How the lab's Grafana datasource for the signal is misconfigured (`lab::grafana_api`).
    pub grafana: GrafanaFault,
}

/// A misconfigured Grafana datasource (incident 10: datasources exist, dashboards are empty).
/// The signal picks the datasource: trace = Tempo, log = Loki, metric = Mimir.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrafanaFault {
    /// The datasource points at another backend of the same kind, which holds none of the
    /// data: Grafana answers, just not with the probe.
    pub wrong_url: bool,
    /// The datasource points at a port where nothing listens: Grafana's proxy answers 502.
    pub dead_url: bool,
    /// The datasource lost its `X-Scope-OrgID` header: a multi-tenant backend answers 401
    /// `no org id`, which Grafana passes on as 400 `Authentication to data source failed`.
    pub no_tenant: bool,
    /// There is no such datasource.
    pub missing: bool,
    /// A second datasource of the same type exists (discovery by type is ambiguous).
    pub duplicate: bool,
}

/// One `--fault SIGNAL:KIND[=VALUE]` setting.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultSetting {
    Drop,
    ExportFail,
    IngesterFail,
    IngestDelay(Duration),
    SearchDelay(Duration),
    QueryError(u16, String),
    Status(u16),
    RetryAfter(u64),
    Partial(i64, String),
    Delay(Duration),
    LokiExporter,
    GeneratorDisabled,
    GeneratorDelay(Duration),
    TraceqlMetricsError(String),
    GrafanaWrongUrl,
    GrafanaDeadUrl,
    GrafanaNoTenant,
    GrafanaMissing,
    GrafanaDuplicate,
}

/// The fault kinds `parse_fault_spec` knows, for help and error texts.
pub const FAULT_KINDS: &str = "drop, export-fail, ingester-fail (trace), ingest-delay=DURATION, \
search-delay=DURATION (trace), query-error=STATUS[:BODY], status=STATUS, retry-after=SECONDS, \
partial=N[:MESSAGE], delay=DURATION, loki-exporter (log), generator-disabled (trace), \
generator-delay=DURATION (trace), traceql-metrics-error=TEXT (trace), grafana-wrong-url, \
grafana-dead-url, grafana-no-tenant, grafana-missing, grafana-duplicate";

impl SignalFault {
    /// Adds one setting (settings for the same signal accumulate).
    pub fn apply(&mut self, setting: FaultSetting) {
        match setting {
            FaultSetting::Drop => self.drop = true,
            FaultSetting::ExportFail => self.export_fail = true,
            FaultSetting::IngesterFail => self.ingester_fail = true,
            FaultSetting::IngestDelay(d) => self.ingest_delay = d,
            FaultSetting::SearchDelay(d) => self.search_delay = d,
            FaultSetting::QueryError(s, b) => self.query_error = Some((s, b)),
            FaultSetting::Status(s) => self.status = Some(s),
            FaultSetting::RetryAfter(s) => self.retry_after = Some(s),
            FaultSetting::Partial(n, m) => self.partial = Some((n, m)),
            FaultSetting::Delay(d) => self.delay = d,
            FaultSetting::LokiExporter => self.loki_exporter = true,
            FaultSetting::GeneratorDisabled => self.generator_disabled = true,
            FaultSetting::GeneratorDelay(d) => self.generator_delay = Some(d),
            FaultSetting::TraceqlMetricsError(t) => self.traceql_metrics_error = Some(t),
            FaultSetting::GrafanaWrongUrl => self.grafana.wrong_url = true,
            FaultSetting::GrafanaDeadUrl => self.grafana.dead_url = true,
            FaultSetting::GrafanaNoTenant => self.grafana.no_tenant = true,
            FaultSetting::GrafanaMissing => self.grafana.missing = true,
            FaultSetting::GrafanaDuplicate => self.grafana.duplicate = true,
        }
    }
}

/// Parses `SIGNAL:KIND[=VALUE]`, e.g. `trace:drop`, `log:ingest-delay=2s`,
/// `metric:query-error=503`, `trace:status=503`, `log:partial=1`, `log:export-fail`,
/// `trace:ingester-fail`. Kinds may be written with `_` for `-` (`log:export_fail`).
pub fn parse_fault_spec(spec: &str) -> Result<(Signal, FaultSetting), String> {
    let (signal, rest) = spec
        .split_once(':')
        .ok_or_else(|| format!("'{spec}' is not SIGNAL:KIND[=VALUE] (kinds: {FAULT_KINDS})"))?;
    let signal: Signal = signal.parse()?;
    let (kind, value) = match rest.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim())),
        None => (rest.trim(), None),
    };
    let kind = kind.replace('_', "-");
    let kind = kind.as_str();
    let flag = |setting: FaultSetting| match value {
        None => Ok(setting),
        Some(_) => Err(format!("'{spec}': {kind} takes no value")),
    };
    let need = |what: &str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("'{spec}': {kind} needs a value ({kind}={what})"))
    };
    let duration = |v: &str| {
        humantime::parse_duration(v)
            .map_err(|e| format!("'{spec}': '{v}' is not a duration like 2s or 500ms ({e})"))
    };
    let status = |v: &str| match v.parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => Ok(s),
        _ => Err(format!("'{spec}': '{v}' is not an HTTP status (100-599)")),
    };
    let setting = match kind {
        "drop" => flag(FaultSetting::Drop)?,
        "export-fail" => flag(FaultSetting::ExportFail)?,
        "ingester-fail" if signal == Signal::Trace => flag(FaultSetting::IngesterFail)?,
        "ingester-fail" => {
            return Err(format!(
                "'{spec}': ingester-fail only applies to trace (Tempo's ingesters)"
            ));
        }
        "ingest-delay" => FaultSetting::IngestDelay(duration(need("2s")?)?),
        "search-delay" if signal == Signal::Trace => {
            FaultSetting::SearchDelay(duration(need("8s")?)?)
        }
        "search-delay" => {
            return Err(format!(
                "'{spec}': search-delay only applies to trace (Tempo search)"
            ));
        }
        "query-error" => {
            let v = need("503")?;
            let (code, body) = match v.split_once(':') {
                Some((c, b)) => (status(c.trim())?, b.to_string()),
                None => {
                    let s = status(v)?;
                    (s, format!("otel-canary lab fault: query answered {s}\n"))
                }
            };
            FaultSetting::QueryError(code, body)
        }
        "status" => FaultSetting::Status(status(need("503")?)?),
        "retry-after" => FaultSetting::RetryAfter(
            need("5")?
                .parse()
                .map_err(|_| format!("'{spec}': retry-after needs whole seconds"))?,
        ),
        "partial" => {
            let v = need("1")?;
            let (n, msg) = match v.split_once(':') {
                Some((n, m)) => (n.trim(), m.to_string()),
                None => (v, "otel-canary lab fault: partial success".to_string()),
            };
            let n = n
                .parse()
                .map_err(|_| format!("'{spec}': partial needs a count of rejected items"))?;
            FaultSetting::Partial(n, msg)
        }
        "delay" => FaultSetting::Delay(duration(need("1s")?)?),
        "loki-exporter" if signal == Signal::Log && value.is_none() => FaultSetting::LokiExporter,
        "loki-exporter" => {
            return Err(format!(
                "'{spec}': loki-exporter only applies to log and takes no value"
            ));
        }
        "generator-disabled" | "generator-delay" | "traceql-metrics-error"
            if signal != Signal::Trace =>
        {
            return Err(format!(
                "'{spec}': {kind} only applies to trace (Tempo's metrics-generator)"
            ));
        }
        "generator-disabled" => flag(FaultSetting::GeneratorDisabled)?,
        "generator-delay" => FaultSetting::GeneratorDelay(duration(need("2s")?)?),
        "traceql-metrics-error" => FaultSetting::TraceqlMetricsError(need("TEXT")?.to_string()),
        "grafana-wrong-url" => flag(FaultSetting::GrafanaWrongUrl)?,
        "grafana-dead-url" => flag(FaultSetting::GrafanaDeadUrl)?,
        "grafana-no-tenant" => flag(FaultSetting::GrafanaNoTenant)?,
        "grafana-missing" => flag(FaultSetting::GrafanaMissing)?,
        "grafana-duplicate" => flag(FaultSetting::GrafanaDuplicate)?,
        other => {
            return Err(format!(
                "'{spec}': unknown fault kind '{other}' (kinds: {FAULT_KINDS})"
            ));
        }
    };
    Ok((signal, setting))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs_parse_into_settings() {
        let ok = |s: &str| parse_fault_spec(s).unwrap();
        assert_eq!(ok("trace:drop"), (Signal::Trace, FaultSetting::Drop));
        assert_eq!(
            ok("log:export-fail"),
            (Signal::Log, FaultSetting::ExportFail)
        );
        assert_eq!(
            ok("log:export_fail"),
            (Signal::Log, FaultSetting::ExportFail)
        );
        assert_eq!(
            ok("trace:ingester_fail"),
            (Signal::Trace, FaultSetting::IngesterFail)
        );
        assert_eq!(
            ok("log:ingest_delay=2s"),
            (
                Signal::Log,
                FaultSetting::IngestDelay(Duration::from_secs(2))
            )
        );
        assert_eq!(
            ok("log:ingest-delay=2s"),
            (
                Signal::Log,
                FaultSetting::IngestDelay(Duration::from_secs(2))
            )
        );
        assert_eq!(
            ok("trace:search-delay=8s"),
            (
                Signal::Trace,
                FaultSetting::SearchDelay(Duration::from_secs(8))
            )
        );
        assert_eq!(
            ok("metric:query-error=503"),
            (
                Signal::Metric,
                FaultSetting::QueryError(503, "otel-canary lab fault: query answered 503\n".into())
            )
        );
        assert_eq!(
            ok("metrics:query-error=500:boom"),
            (Signal::Metric, FaultSetting::QueryError(500, "boom".into()))
        );
        assert_eq!(
            ok("trace:status=503"),
            (Signal::Trace, FaultSetting::Status(503))
        );
        assert!(matches!(
            ok("log:partial=1"),
            (Signal::Log, FaultSetting::Partial(1, _))
        ));
        assert_eq!(
            ok("log:partial=2:too old"),
            (Signal::Log, FaultSetting::Partial(2, "too old".into()))
        );
        assert_eq!(
            ok("trace:retry-after=5"),
            (Signal::Trace, FaultSetting::RetryAfter(5))
        );
        assert_eq!(
            ok("trace:delay=250ms"),
            (
                Signal::Trace,
                FaultSetting::Delay(Duration::from_millis(250))
            )
        );
        assert_eq!(
            ok("trace:generator-disabled"),
            (Signal::Trace, FaultSetting::GeneratorDisabled)
        );
        assert_eq!(
            ok("trace:generator_delay=5s"),
            (
                Signal::Trace,
                FaultSetting::GeneratorDelay(Duration::from_secs(5))
            )
        );
        assert_eq!(
            ok("trace:traceql-metrics-error=empty ring"),
            (
                Signal::Trace,
                FaultSetting::TraceqlMetricsError("empty ring".into())
            )
        );
        for bad in [
            "log:generator-disabled",
            "trace:generator-disabled=1",
            "trace:generator-delay",
            "trace:traceql-metrics-error",
            "metric:traceql-metrics-error=x",
            "drop",
            "span:drop",
            "trace:nope",
            "trace:drop=1",
            "log:export-fail=1",
            "log:ingester-fail",
            "metric:ingester_fail",
            "log:ingest-delay",
            "log:ingest-delay=soon",
            "log:search-delay=1s",
            "metric:query-error=99",
            "metric:query-error=abc",
            "trace:status=600",
            "log:partial=x",
            "log:grafana-missing=1",
        ] {
            assert!(parse_fault_spec(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ok("metric:grafana_no_tenant"),
            (Signal::Metric, FaultSetting::GrafanaNoTenant)
        );
        let mut g = SignalFault::default();
        for kind in ["wrong-url", "dead-url", "no-tenant", "missing", "duplicate"] {
            g.apply(ok(&format!("log:grafana-{kind}")).1);
        }
        assert_eq!(
            g.grafana,
            GrafanaFault {
                wrong_url: true,
                dead_url: true,
                no_tenant: true,
                missing: true,
                duplicate: true
            }
        );
        let mut f = SignalFault::default();
        f.apply(FaultSetting::ExportFail);
        f.apply(FaultSetting::IngesterFail);
        assert!(f.export_fail && f.ingester_fail && !f.drop);
        f.apply(FaultSetting::Drop);
        f.apply(FaultSetting::IngestDelay(Duration::from_secs(1)));
        assert!(f.drop && f.ingest_delay == Duration::from_secs(1));
    }
}
