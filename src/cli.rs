//! Command-line definitions (clap). Flags mirror the OTel environment variables they
//! override; `--help` on every subcommand shows an example.

use crate::config::emitter::EmitterMode;
use crate::config::otlp::{Compression, ExportFlags, Protocol};
use crate::config::resource::ResourceFlags;
use crate::emit::payload::MetricTag;
use crate::signal::Signal;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "otel-canary",
    version = crate::VERSION,
    about = "Prove an OpenTelemetry pipeline works end to end: emit a tagged trace, log and metric over OTLP and report how every hop went.",
    after_help = "Start here:\n  otel-canary demo                                  # a probe against the built-in test stack\n  otel-canary emit --endpoint http://collector:4318 # one probe to your collector\n\nExit codes: 0 every check passed, 1 a signal failed, 2 usage or configuration error."
)]
pub struct Cli {
    /// Diagnostic log level on stderr (error, warn, info, debug, trace) [default: info for
    /// serve, warn otherwise].
    #[arg(long, global = true, env = "OTEL_CANARY_LOG", value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Format of the diagnostic log on stderr: text for people, json (one object per line)
    /// for log pipelines.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "OTEL_CANARY_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Send one probe (a tagged trace, log and metric) and report exactly how each export went.
    #[command(after_help = EMIT_EXAMPLES)]
    Emit(Box<EmitArgs>),
    /// Serve the built-in test stack on the usual ports until Ctrl-C: OTLP receivers plus
    /// in-memory Tempo, Loki and Prometheus/Mimir APIs, with switchable faults.
    #[command(after_help = LAB_EXAMPLES)]
    Lab(Box<LabArgs>),
    /// Send one probe and read every signal back from Tempo, Loki and Mimir/Prometheus:
    /// per-hop latency, a verdict per signal, and a hint when a hop broke.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Start the built-in test stack on free ports and run probes against it: a tour that
    /// needs nothing installed.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Scan a host's usual OTLP, Tempo, Loki, Mimir, Prometheus and Grafana ports, say what
    /// speaks on each, and hold that against the configured target: wrong port, protocol,
    /// TLS or path, each named in one line. Sends only empty OTLP exports (no data).
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor(Box<DoctorArgs>),
    /// Run scenarios on a schedule and expose the results for Prometheus: /metrics,
    /// blackbox-style /probe, /api/v1/last, health; plus the scrape and log-line pull paths.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(Box<ServeArgs>),
    /// Ask a running `serve` whether it is healthy: exit 0 on a 2xx answer, 1 on anything
    /// else or no answer within --timeout. For container HEALTHCHECKs and exec probes in
    /// images without curl or wget.
    #[command(after_help = HEALTHCHECK_EXAMPLES)]
    Healthcheck(HealthcheckArgs),
}

/// Format of the diagnostic log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

const SERVE_EXAMPLES: &str = "Examples:
  # Every shipped or local scenario file in a directory, every 30 s, metrics on :9464:
  otel-canary serve --scenario scenarios/

  # One scenario every 15 s, JSON logs, at most 2 probes in flight:
  otel-canary serve --scenario local-lgtm --interval 15s --max-in-flight 2 --log-format json

  # No scenario: the flags (as for `run`) make one scenario called `default`:
  otel-canary serve --endpoint http://collector:4318 --tempo http://tempo:3200 \\
      --loki http://loki:3100 --mimir http://mimir:9009

Endpoints (on --listen):
  /metrics                   OpenMetrics: otel_canary_probes_total, _probe_failures_total{reason},
                             _hop_duration_seconds, _signal_up, _last_success_timestamp_seconds,
                             _probes_skipped_total, _build_info, _scrape_marker,
                             _self_trace_spans_dropped_total (--self-trace); what the SDK
                             emitter sent (--emitter sdk|both) carries emitter=\"sdk\"
  /probe?scenario=NAME       one probe now, answered with its own metrics and probe_success
                             (blackbox_exporter style; honours X-Prometheus-Scrape-Timeout-Seconds)
  /api/v1/last[?scenario=]   the latest report per scenario (schema otel-canary/run/v1)
  /-/healthy, /-/ready       liveness; ready once every scenario finished a probe

Pull paths, per scenario file ([pull] section):
  scrape = true              expose otel_canary_scrape_marker{scenario} here and wait for it in
                             Mimir/Prometheus, through your scraper (incident 4)
  log_line = \"stdout\"        or a file path: write {\"msg\":\"otel-canary probe <id>\",...} and wait
                             for it in Loki, through the agent that tails it (incident 5)

A probe may outlive the interval; at most --max-in-flight run per scenario, the rest are
counted in otel_canary_probes_skipped_total. SIGTERM or Ctrl-C: no new probes, running ones
get --shutdown-grace to finish, exit 0.";

const HEALTHCHECK_EXAMPLES: &str = "Examples:
  # serve's liveness on the default listen address (the image's HEALTHCHECK):
  otel-canary healthcheck

  # Readiness (200 once every scenario finished a probe; the 503 body names the others):
  otel-canary healthcheck --url http://127.0.0.1:9464/-/ready --timeout 1s

Exit codes: 0 a 2xx answer, 1 another status or no answer in time, 2 a bad --url.";

const EMIT_EXAMPLES: &str = "Examples:
  # To a collector's OTLP/HTTP receiver (/v1/<signal> is appended):
  otel-canary emit --endpoint http://collector:4318

  # Over gRPC, with a tenant and gzip:
  otel-canary emit --protocol grpc --endpoint http://collector:4317 --tenant team-a --compression gzip

  # Straight to the backends, one URL per signal (used as is):
  otel-canary emit --traces-endpoint http://tempo:4318/v1/traces \\
      --logs-endpoint http://loki:3100/otlp/v1/logs --metrics-endpoint http://mimir:9009/otlp/v1/metrics

  # Machine-readable:
  otel-canary emit --output json

  # As an instrumented app would (OpenTelemetry SDK, configured from OTEL_* only), and both
  # side by side, naming every difference in where each signal went and why:
  OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 otel-canary emit --emitter sdk
  otel-canary emit --emitter both --endpoint http://collector:4319

Settings not given as flags come from the standard OTEL_EXPORTER_OTLP_* variables
(ENDPOINT, <SIGNAL>_ENDPOINT, PROTOCOL, HEADERS, COMPRESSION, TIMEOUT, CERTIFICATE,
CLIENT_KEY, CLIENT_CERTIFICATE), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
The report names the setting that chose each value.";

const RUN_EXAMPLES: &str = "Examples:
  # A local LGTM stack (collector 4318, Tempo 3200, Loki 3100, Mimir 9009):
  otel-canary run --scenario local-lgtm

  # Explicit targets; JSON for scripts, JUnit for CI:
  otel-canary run --endpoint http://collector:4318 --tempo http://tempo:3200 \\
      --loki http://loki:3100 --mimir http://mimir:9009 --output json

  # Multi-tenant, with basic auth on reads (password from the environment):
  OTEL_CANARY_READ_PASSWORD=... otel-canary run --scenario multi-tenant --tenant team-a --read-user grafana

  # Prometheus or VictoriaMetrics instead of Mimir, logs relabelled by Alloy:
  otel-canary run --prometheus http://prometheus:9090 --loki http://loki:3100 --log-match line

  # Also read every signal through Grafana's datasources (the grafana hop), token from a file:
  otel-canary run --scenario local-lgtm --grafana http://grafana:3000 \\
      --grafana-token-file /run/secrets/grafana-token --grafana-datasource loki=loki,metrics=mimir

  # Does an app configured with exactly this environment get through? The SDK emitter and
  # the wire emitter side by side (the scenario's endpoint vs the SDK's OTEL_* or default):
  otel-canary run --scenario alloy-split-receivers --emitter both

  # The canary's own timeline as a trace in Tempo or Jaeger (service otel-canary-self):
  otel-canary run --scenario local-lgtm --self-trace http://tempo:4318

Emitters: wire (default) sends exact OTLP requests; sdk sends through opentelemetry_sdk +
opentelemetry-otlp 0.33.1 configured from OTEL_* like an app (flags act as its code; the
scenario's [export] is not given to it), and its export hop is the force_flush; both sends one
probe each and reports every difference.
Hops: export (send -> ack), ingest (ack -> visible; an estimate in the middle of the interval
between the last read that missed and the first that saw it), query (the successful read),
search (Tempo TraceQL, its own deadline), with --derived span_metrics, service_graph and
traceql_metrics (ack -> the series dashboards read from the trace appear; --derived-timeout,
default 90s), grafana (with --grafana: read again through Grafana's datasource proxy, at most
5 s), total (send -> confirmed visible directly).

  # Prove the RED dashboards' inputs too (Tempo's metrics-generator, incident 9):
  otel-canary run --scenario local-lgtm --derived all

Scenario [[assert]] entries are checked after the probe (promql, logql, loki_label,
tempo_tag), and count like a signal in the exit code.
Scenarios: local-lgtm, alloy-split-receivers, direct-to-backends, multi-tenant, or a file.
Precedence: flags, then the scenario file, then environment variables, then defaults.
Read URLs also come from OTEL_CANARY_TEMPO_URL, _LOKI_URL, _MIMIR_URL, _PROMETHEUS_URL;
read credentials from OTEL_CANARY_READ_TOKEN, or OTEL_CANARY_READ_USER + _PASSWORD;
Grafana from OTEL_CANARY_GRAFANA_URL, _TOKEN (or _USER + _PASSWORD), _DATASOURCES.";

const LAB_EXAMPLES: &str = "Examples:
  # OTLP on :4318 (HTTP) and :4317 (gRPC), Tempo API :3200, Loki :3100, Mimir/Prometheus :9009:
  otel-canary lab

  # Other ports, reachable from containers:
  otel-canary lab --bind 0.0.0.0 --http-port 14318 --grpc-port 14317 --mimir-port 9090

  # Multi-tenant backends (X-Scope-OrgID required, each tenant sees its own data):
  otel-canary lab --require-tenant

  # Grafana on :3000 whose datasources send X-Scope-OrgID team-a; no Grafana: --grafana-port 0
  otel-canary lab --require-tenant --grafana-tenant team-a

  # Pull paths: scrape a /metrics page every 5 s, tail a log file:
  otel-canary lab --scrape http://127.0.0.1:9464/metrics --scrape-interval 5s --tail /var/log/canary.log

  # Reproduce incidents: traces acknowledged but lost, logs 2 s late, search 8 s behind,
  # Mimir queries failing, trace exports refused, one log record rejected:
  otel-canary lab --fault trace:drop --fault log:ingest-delay=2s --fault trace:search-delay=8s \\
      --fault metric:query-error=503 --fault trace:status=503 --fault log:partial=1

Fault kinds (SIGNAL is trace, log or metric):
  drop                       acknowledge, never show in queries (self-metrics: no pipeline)
  export-fail                acknowledge, then the collector's exporter fails to send it
  ingester-fail              trace only: Tempo receives the spans, no ingester takes them
  ingest-delay=DURATION      queryable only this long after the ack
  search-delay=DURATION      trace only: Tempo search lags trace-by-id by this much
  query-error=STATUS[:BODY]  the signal's query endpoints answer this status (text body)
  status=STATUS              exports are answered with this HTTP status (gRPC: mapped code)
  retry-after=SECONDS        Retry-After sent with status=
  partial=N[:MESSAGE]        exports succeed with N items rejected (partial success)
  delay=DURATION             exports are acknowledged this late
  loki-exporter              log only: stored as a Loki exporter writes them (job/instance/
                             exporter=\"OTLP\" labels, a JSON line, no structured metadata)
  generator-disabled         trace only: Tempo's metrics-generator is off for the tenant: no
                             span metrics or service graph, TraceQL metrics fail (local-blocks)
  generator-delay=DURATION   trace only: derived series appear this long after the trace
                             (default 2s; real Tempo: 15 s collection + remote write)
  traceql-metrics-error=TEXT trace only: /api/metrics/query_range answers 500 with TEXT
                             (\"empty ring\" is Tempo's when no generator joined)

Grafana datasource faults (the signal picks the datasource: trace=tempo, log=loki, metric=mimir):
  grafana-wrong-url          the datasource points at another, empty backend of its kind:
                             Grafana answers, but not with the data
  grafana-dead-url           the datasource points at a port nothing listens on (proxy 502)
  grafana-no-tenant          the datasource lost its X-Scope-OrgID: with --require-tenant the
                             backend's 401 \"no org id\" reaches the caller as Grafana's 400
                             \"Authentication to data source failed\"
  grafana-missing            the datasource does not exist
  grafana-duplicate          a second datasource of the same type exists (uid <uid>-2)

The field incidents (docs: shared incidents.md), reproduced:
  1  wrong port:         otel-canary lab --http-port 4319     (then run against :4318)
  2  gRPC on the HTTP port: otel-canary lab --grpc-port 4318 --http-port 4319
  3  TLS-only receivers: otel-canary lab --tls-cert cert.pem --tls-key key.pem
  4  scrape path: otel-canary serve … then otel-canary lab --scrape http://127.0.0.1:9464/metrics
  5  logs accepted, never forwarded: --fault log:drop, or --fault log:export-fail
  6  traces accepted, Tempo empty:   --fault trace:drop
  7  exports never acknowledged:     --fault trace:delay=60s
  8  spans refused inside Tempo:     --fault trace:ingester-fail, or as a partial success:
                                     --fault trace:partial=2:\"TLS handshake error to ingester\"
  9  RED dashboards empty:           --fault trace:generator-disabled (then run --derived all)
  label mapping of a Loki exporter:  --fault log:loki-exporter
  missing tenant:                    --require-tenant
  10 datasources healthy, dashboards empty: --fault log:grafana-wrong-url, or
                             --require-tenant --grafana-tenant team-a --fault metric:grafana-no-tenant
                             (then: otel-canary run --scenario local-lgtm --tenant team-a
                              --grafana http://127.0.0.1:3000 --grafana-user admin, password admin
                              in OTEL_CANARY_GRAFANA_PASSWORD)";

const DOCTOR_EXAMPLES: &str = "Examples:
  # The host of the configured endpoint (else 127.0.0.1), checked against that endpoint:
  otel-canary doctor
  otel-canary doctor --endpoint http://collector:4318 --protocol grpc

  # Another host, a scenario's targets, JSON for scripts:
  otel-canary doctor collector.internal --scenario local-lgtm --output json

  # Only some ports (replaces the usual list; configured ports are always added):
  otel-canary doctor 10.0.0.5 --ports 4317,4318,14317,14318

What it scans: 4317, 4318, 4319, 55680, 55681 (OTLP), 3200 (Tempo), 3100 (Loki),
9009 (Mimir), 9090 (Prometheus), 3000 (Grafana), 8888 (collector self-metrics), 12345
(Alloy) on HOST, plus every host:port the configured export and read targets and the
scenario file use, all at once, each step with a short timeout: a TCP connect (closed,
filtered), a plain HTTP/1.1 request (HTTP/1, or HTTP/2 = gRPC), a TLS handshake without
certificate checks, then on HTTP the build-info, /ready, /api/health and /metrics GETs and
on HTTP/2 the OTLP gRPC services. It finishes in under 3 s even when every port is filtered.

What it writes: nothing but EMPTY OTLP export requests (zero items, which a receiver
acknowledges and stores nothing from), POSTed to /v1/traces, /v1/logs, /v1/metrics,
/otlp/v1/logs, /otlp/v1/metrics, /api/v1/otlp/v1/metrics and /opentelemetry/v1/metrics, and
sent as gRPC Export calls,
without credentials; plus one empty export per configured signal and one build-info GET per
read URL, exactly as configured (headers and tenant included, never printed).

The configured target resolves exactly as for `run` (flags, scenario, OTEL_EXPORTER_OTLP_*,
defaults), and each mismatch names the setting that chose the value.
Exit codes: 0 every configured target fits, 1 a target mismatches or is closed, 2 usage error.";

const DEMO_EXAMPLES: &str = "Examples:
  otel-canary demo                      # one probe per protocol against the built-in stack
  otel-canary demo --protocol grpc --output json";

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Human,
    /// The stable JSON document described in docs/json-output.md.
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Base OTLP endpoint for every signal, as OTEL_EXPORTER_OTLP_ENDPOINT: for HTTP,
    /// `v1/<signal>` is appended (http://loki:3100/otlp -> .../otlp/v1/logs).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Traces URL used as is, as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.
    #[arg(long, value_name = "URL")]
    pub traces_endpoint: Option<String>,
    /// Logs URL used as is, as OTEL_EXPORTER_OTLP_LOGS_ENDPOINT.
    #[arg(long, value_name = "URL")]
    pub logs_endpoint: Option<String>,
    /// Metrics URL used as is, as OTEL_EXPORTER_OTLP_METRICS_ENDPOINT.
    #[arg(long, value_name = "URL")]
    pub metrics_endpoint: Option<String>,
    /// OTLP protocol for every signal [default: http/protobuf, or OTEL_EXPORTER_OTLP_PROTOCOL].
    #[arg(long, value_parser = parse_protocol, value_name = "grpc|http/protobuf|http/json")]
    pub protocol: Option<Protocol>,
    /// Signals to send, comma-separated [default: trace,log,metric, or the scenario's].
    #[arg(long, value_delimiter = ',', value_parser = parse_signal, value_name = "SIGNALS")]
    pub signals: Vec<Signal>,
    /// Extra request header (repeatable). Credentials are never printed.
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Tenant for multi-tenant Tempo/Loki/Mimir: sets X-Scope-OrgID.
    #[arg(long, value_name = "ORG_ID")]
    pub tenant: Option<String>,
    /// Request compression [default: none, or OTEL_EXPORTER_OTLP_COMPRESSION].
    #[arg(long, value_parser = parse_compression, value_name = "gzip|none")]
    pub compression: Option<Compression>,
    /// Export timeout per attempt, e.g. 10s or 500ms; 0 means none
    /// [default: 10s, or OTEL_EXPORTER_OTLP_TIMEOUT in ms].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub export_timeout: Option<Duration>,
    /// PEM CA certificate(s) to trust instead of the system roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (with --client-key).
    #[arg(long, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key for mutual TLS (with --client-cert).
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Accept any server certificate. Only for debugging: the report warns about it.
    #[arg(long)]
    pub insecure_skip_verify: bool,
    /// Retry a retryable failure (429/502/503/504, UNAVAILABLE, timeouts) up to N times;
    /// every attempt is reported.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub retries: u32,
}

impl ExportArgs {
    pub fn flags(&self) -> ExportFlags {
        ExportFlags {
            signals: self.signals.clone(),
            endpoint: self.endpoint.clone(),
            traces_endpoint: self.traces_endpoint.clone(),
            logs_endpoint: self.logs_endpoint.clone(),
            metrics_endpoint: self.metrics_endpoint.clone(),
            protocol: self.protocol,
            headers: self.headers.clone(),
            tenant: self.tenant.clone(),
            compression: self.compression,
            timeout: self.export_timeout,
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            retries: self.retries,
            scenario: None,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// service.name of the probe [default: otel-canary, or OTEL_SERVICE_NAME].
    #[arg(long, value_name = "NAME")]
    pub service_name: Option<String>,
    /// service.instance.id of the probe [default: the host name].
    #[arg(long, value_name = "ID")]
    pub service_instance_id: Option<String>,
    /// How the metric carries the probe: `value` (the marker is the sample value on a stable
    /// series) or `label` (also a canary_probe_id label: one series per probe, for one-shot
    /// tests) [default: value].
    #[arg(long, value_enum)]
    pub metric_tag: Option<MetricTagArg>,
    /// Who sends the probe: `wire` (the canary's own OTLP requests: every status seen first
    /// hand), `sdk` (opentelemetry_sdk + opentelemetry-otlp configured from OTEL_* exactly as
    /// an instrumented Rust app is; flags act as the app's code, a scenario's [export] is not
    /// given to it) or `both` (one probe each, compared side by side)
    /// [default: wire, or the scenario's probe.emitter].
    #[arg(long, value_parser = parse_emitter, value_name = "wire|sdk|both")]
    pub emitter: Option<EmitterMode>,
}

impl ProbeArgs {
    pub fn resource_flags(&self) -> ResourceFlags {
        ResourceFlags {
            service_name: self.service_name.clone(),
            service_instance_id: self.service_instance_id.clone(),
            ..Default::default()
        }
    }

    /// The metric tag mode; `value` unless asked otherwise.
    pub fn tag(&self) -> MetricTag {
        self.metric_tag.map(Into::into).unwrap_or(MetricTag::Value)
    }
}

/// `--self-trace`: the canary's own probes as traces (`run`, `serve`).
#[derive(Args, Debug, Clone, Default)]
pub struct SelfTraceArgs {
    /// Also export, through the OpenTelemetry SDK, one trace per probe describing the probe
    /// itself (a root span `otel-canary probe`, a child per signal, a grandchild per hop with
    /// its status, reason and poll count) to this OTLP endpoint, as service otel-canary-self,
    /// to look at the canary's own timeline in Tempo or Jaeger. A base URL gets /v1/traces.
    /// Never read back, never counted as a probe signal, never blocks a probe.
    #[arg(long, value_name = "URL", help_heading = "Self-trace")]
    pub self_trace: Option<String>,
    /// Protocol of --self-trace [default: http/protobuf].
    #[arg(long, value_parser = parse_protocol, value_name = "grpc|http/protobuf|http/json", requires = "self_trace", help_heading = "Self-trace")]
    pub self_trace_protocol: Option<Protocol>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MetricTagArg {
    Value,
    Label,
}

impl From<MetricTagArg> for MetricTag {
    fn from(a: MetricTagArg) -> Self {
        match a {
            MetricTagArg::Value => MetricTag::Value,
            MetricTagArg::Label => MetricTag::Label,
        }
    }
}

#[derive(Args, Debug)]
pub struct EmitArgs {
    #[command(flatten)]
    pub export: ExportArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: Output,
}

/// Report format for `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunOutput {
    /// A table for people.
    Human,
    /// The stable JSON document described in docs/json-output.md.
    Json,
    /// JUnit XML: one test case per signal, hop and check.
    Junit,
    /// One self-contained HTML page: a waterfall of every hop on one time axis, failures
    /// with their hint, and the topology (docs/html-report.md).
    Html,
}

/// Report format for `demo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoOutput {
    /// A table for people.
    Human,
    /// The stable JSON document described in docs/json-output.md.
    Json,
    /// One self-contained HTML page with each protocol's waterfall (docs/html-report.md).
    Html,
}

#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Tempo's HTTP API, e.g. http://tempo:3200.
    #[arg(long, value_name = "URL", help_heading = "Read back")]
    pub tempo: Option<String>,
    /// Loki, e.g. http://loki:3100.
    #[arg(long, value_name = "URL", help_heading = "Read back")]
    pub loki: Option<String>,
    /// Mimir, e.g. http://mimir:9009 (the /prometheus prefix is added).
    #[arg(long, value_name = "URL", help_heading = "Read back")]
    pub mimir: Option<String>,
    /// Prometheus or VictoriaMetrics, e.g. http://prometheus:9090 (no prefix added).
    #[arg(long, value_name = "URL", help_heading = "Read back")]
    pub prometheus: Option<String>,
    /// Extra read header (repeatable); prefix with tempo:, loki: or metrics: for one backend.
    #[arg(
        long = "read-header",
        value_name = "[BACKEND:]NAME=VALUE",
        help_heading = "Read back"
    )]
    pub read_headers: Vec<String>,
    /// Basic-auth user for reads; the password comes from --read-password-file or
    /// OTEL_CANARY_READ_PASSWORD, never from the command line.
    #[arg(long, value_name = "USER", help_heading = "Read back")]
    pub read_user: Option<String>,
    /// File holding the basic-auth password for reads.
    #[arg(long, value_name = "FILE", help_heading = "Read back")]
    pub read_password_file: Option<PathBuf>,
    /// File holding a bearer token for reads (or OTEL_CANARY_READ_TOKEN).
    #[arg(long, value_name = "FILE", help_heading = "Read back")]
    pub read_token_file: Option<PathBuf>,
    /// PEM CA certificate for https read URLs (self-signed Tempo, say).
    #[arg(long, value_name = "FILE", help_heading = "Read back")]
    pub read_ca_cert: Option<PathBuf>,
    /// Accept any certificate on read URLs. Debugging only.
    #[arg(long, help_heading = "Read back")]
    pub read_insecure_skip_verify: bool,
    /// LogQL stream selector [default: {service_name="otel-canary"}].
    #[arg(long, value_name = "SELECTOR", help_heading = "Read back")]
    pub log_selector: Option<String>,
    /// How to find the probe's line: structured-metadata (`| canary_probe_id="<id>"`, Loki's
    /// OTLP ingest) or line (`|= "<id>"`, any pipeline) [default: structured-metadata].
    #[arg(long, value_parser = parse_log_match, value_name = "MODE", help_heading = "Read back")]
    pub log_match: Option<crate::backends::loki::LogMatch>,
    /// PromQL for the marker instead of finding otel_canary_probe_marker by job/instance.
    #[arg(long, value_name = "PROMQL", help_heading = "Read back")]
    pub metric_selector: Option<String>,
    /// Deadline per signal, counted from the export ack [default: 30s].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Deadlines")]
    pub timeout: Option<Duration>,
    /// Deadline for the trace (overrides --timeout).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Deadlines")]
    pub trace_timeout: Option<Duration>,
    /// Deadline for the log (overrides --timeout).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Deadlines")]
    pub log_timeout: Option<Duration>,
    /// Deadline for the metric (overrides --timeout).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Deadlines")]
    pub metric_timeout: Option<Duration>,
    /// Deadline for Tempo search, which lags by-id reads by seconds [default: 60s].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Deadlines")]
    pub search_timeout: Option<Duration>,
    /// Skip the Tempo search hop.
    #[arg(long, help_heading = "Deadlines")]
    pub no_search: bool,
    /// The collector's own metrics page (`:8888/metrics`, Alloy `:12345/metrics`): read
    /// before and after the probe so a lost signal names the receiver or exporter that lost
    /// it [env: OTEL_CANARY_COLLECTOR_METRICS_URL].
    #[arg(long, value_name = "URL", help_heading = "Diagnosis")]
    pub collector_metrics: Option<String>,
    /// Tempo's own metrics page (`http://tempo:3200/metrics`): spans received, refused, or not
    /// handed to an ingester [env: OTEL_CANARY_TEMPO_METRICS_URL].
    #[arg(long, value_name = "URL", help_heading = "Diagnosis")]
    pub tempo_metrics: Option<String>,
    /// Timeout of each read request [default: 10s].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Deadlines")]
    pub query_timeout: Option<Duration>,
    /// Derived signals to prove, comma-separated: span-metrics (Tempo's
    /// traces_spanmetrics_calls_total for the probe's client span rises in Mimir/Prometheus),
    /// service-graph (traces_service_graph_request_total for client -> peer rises),
    /// traceql-metrics (Tempo's /api/metrics/query_range counts the probe's span), or all. Each is its own
    /// hop on the trace; they need Tempo's metrics-generator.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "CHECKS",
        help_heading = "Derived signals"
    )]
    pub derived: Vec<String>,
    /// Deadline of each derived hop, from the export ack; the generator collects every 15 s
    /// and then remote-writes [default: 90s].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", help_heading = "Derived signals")]
    pub derived_timeout: Option<Duration>,
    /// Grafana, e.g. http://grafana:3000: after a signal is visible directly, read it again
    /// with the same query through Grafana's datasource proxy (the `grafana` hop), proving the
    /// datasources your dashboards use [env: OTEL_CANARY_GRAFANA_URL].
    #[arg(long, value_name = "URL", help_heading = "Grafana")]
    pub grafana: Option<String>,
    /// File holding a Grafana service-account token (role Viewer, or datasources:query)
    /// [env: OTEL_CANARY_GRAFANA_TOKEN].
    #[arg(long, value_name = "FILE", help_heading = "Grafana")]
    pub grafana_token_file: Option<PathBuf>,
    /// Basic-auth user for Grafana instead of a token; the password comes from
    /// --grafana-password-file or OTEL_CANARY_GRAFANA_PASSWORD, never from the command line
    /// [env: OTEL_CANARY_GRAFANA_USER].
    #[arg(long, value_name = "USER", help_heading = "Grafana")]
    pub grafana_user: Option<String>,
    /// File holding the Grafana user's password.
    #[arg(long, value_name = "FILE", help_heading = "Grafana")]
    pub grafana_password_file: Option<PathBuf>,
    /// The datasource uid to read each backend through (repeatable, comma-separated), e.g.
    /// tempo=P214B5B846CF3925F,loki=loki,metrics=mimir; a kind left out is found in
    /// /api/datasources by type (tempo, loki, prometheus) [env: OTEL_CANARY_GRAFANA_DATASOURCES].
    #[arg(
        long = "grafana-datasource",
        value_name = "KIND=UID,...",
        help_heading = "Grafana"
    )]
    pub grafana_datasources: Vec<String>,
}

impl ReadArgs {
    pub fn flags(&self) -> crate::config::read::ReadFlags {
        crate::config::read::ReadFlags {
            tempo: self.tempo.clone(),
            loki: self.loki.clone(),
            mimir: self.mimir.clone(),
            prometheus: self.prometheus.clone(),
            headers: self.read_headers.clone(),
            user: self.read_user.clone(),
            password_file: self.read_password_file.clone(),
            token_file: self.read_token_file.clone(),
            ca_cert: self.read_ca_cert.clone(),
            insecure_skip_verify: self.read_insecure_skip_verify,
            log_selector: self.log_selector.clone(),
            log_match: self.log_match,
            metric_selector: self.metric_selector.clone(),
            timeout: self.timeout,
            trace_timeout: self.trace_timeout,
            log_timeout: self.log_timeout,
            metric_timeout: self.metric_timeout,
            search_timeout: self.search_timeout,
            query_timeout: self.query_timeout,
            no_search: self.no_search,
            collector_metrics: self.collector_metrics.clone(),
            tempo_metrics: self.tempo_metrics.clone(),
            derived: self.derived.clone(),
            derived_timeout: self.derived_timeout,
            grafana: crate::config::grafana::GrafanaFlags {
                url: self.grafana.clone(),
                token_file: self.grafana_token_file.clone(),
                user: self.grafana_user.clone(),
                password_file: self.grafana_password_file.clone(),
                datasources: self.grafana_datasources.clone(),
            },
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A scenario file, or the name of a shipped one (local-lgtm, alloy-split-receivers,
    /// direct-to-backends, multi-tenant). Flags override it.
    #[arg(long, value_name = "FILE|NAME")]
    pub scenario: Option<String>,
    #[command(flatten)]
    pub export: ExportArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub self_trace: SelfTraceArgs,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: RunOutput,
    /// No one-line-per-signal timeline under the human report's table (it is only drawn
    /// when stdout is a terminal wide enough for it).
    #[arg(long)]
    pub no_timeline: bool,
}

/// How `serve` spaces a probe's reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeSchedule {
    /// Learned from the scenario's recent probes, the one-shot rule after it.
    Learned,
    /// `run`'s rule: 20 % of the time waited, 40-490 ms apart.
    OneShot,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A scenario file, a shipped scenario's name, or a directory of *.toml scenarios
    /// (repeatable). Each runs on its own schedule under its file name. Flags override it.
    #[arg(long = "scenario", value_name = "FILE|NAME|DIR")]
    pub scenarios: Vec<String>,
    /// Time between probes of a scenario; each wait varies by up to 10 % so scenarios and
    /// replicas do not probe in step.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Probes of one scenario allowed to run at once (deadlines outlast intervals); a tick
    /// finding them all busy is skipped and counted.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000), value_name = "N")]
    pub max_in_flight: u32,
    /// How each probe spaces its reads: `learned` plans them around where the scenario's
    /// last probes became visible (one read at the ack, a few dense ones in that window, the
    /// one-shot rule if the data is late): a finer estimate for a handful of queries.
    /// `one-shot` uses `run`'s rule every time.
    #[arg(long, default_value = "learned", value_enum, value_name = "SCHEDULE")]
    pub schedule: ServeSchedule,
    /// Address of the HTTP server: `:9464` (every interface), `127.0.0.1:9464`, `[::1]:9464`.
    #[arg(long, default_value = ":9464", value_parser = parse_listen, value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// On SIGTERM/Ctrl-C, how long running probes may take to finish before they are dropped.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,
    #[command(flatten)]
    pub export: ExportArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub self_trace: SelfTraceArgs,
}

#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// The endpoint to ask (plain http://); any 2xx answer is healthy.
    #[arg(
        long,
        default_value = "http://127.0.0.1:9464/-/healthy",
        value_name = "URL"
    )]
    pub url: String,
    /// How long the whole exchange (connect, answer) may take.
    #[arg(long, default_value = "2s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Host to scan (name or address) [default: the host of the configured OTLP endpoint,
    /// else 127.0.0.1].
    #[arg(value_name = "HOST")]
    pub host: Option<String>,
    /// Ports to scan on HOST, comma-separated; replaces the usual list (the ports of the
    /// configured targets are scanned anyway).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u16).range(1..), value_name = "PORTS")]
    pub ports: Vec<u16>,
    /// A scenario file, or the name of a shipped one: its targets are checked and its ports
    /// scanned. Flags override it.
    #[arg(long, value_name = "FILE|NAME")]
    pub scenario: Option<String>,
    #[command(flatten)]
    pub export: ExportArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct LabArgs {
    /// Address every port listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// OTLP/HTTP port (collector-like receiver).
    #[arg(long, default_value_t = 4318)]
    pub http_port: u16,
    /// OTLP/gRPC port (collector-like receiver).
    #[arg(long, default_value_t = 4317)]
    pub grpc_port: u16,
    /// Tempo query API port.
    #[arg(long, default_value_t = 3200)]
    pub tempo_port: u16,
    /// Loki port (query API and OTLP push at /otlp/v1/logs).
    #[arg(long, default_value_t = 3100)]
    pub loki_port: u16,
    /// Mimir/Prometheus port (/prometheus/api/v1/... and /api/v1/..., OTLP push at
    /// /otlp/v1/metrics).
    #[arg(long, default_value_t = 9009)]
    pub mimir_port: u16,
    /// The collector's self-metrics page (otelcol_* counters at /metrics), as a real
    /// collector serves it on 8888; 0 turns it off.
    #[arg(long, default_value_t = 8888)]
    pub collector_metrics_port: u16,
    /// Run the backends multi-tenant: X-Scope-OrgID is required (401 "no org id" without it)
    /// and queries only see data written with the same tenant.
    #[arg(long)]
    pub require_tenant: bool,
    /// A Grafana-compatible API (health, datasources tempo/loki/mimir, the datasource proxy to
    /// this stack's backends) for `run --grafana`; 0 turns it off. It accepts basic auth
    /// admin:admin and a service-account token (see --grafana-token-file).
    #[arg(long, default_value_t = 3000, value_name = "PORT")]
    pub grafana_port: u16,
    /// The X-Scope-OrgID the lab Grafana's datasources send (httpHeaderName1), as a
    /// multi-tenant stack's datasources do; without it they send none.
    #[arg(long, value_name = "ORG_ID")]
    pub grafana_tenant: Option<String>,
    /// File holding the service-account token the lab's Grafana accepts [default: the lab's
    /// well-known token glsa_otelCanaryLab0000000000000000_0a1b2c3d].
    #[arg(long, value_name = "FILE")]
    pub grafana_token_file: Option<std::path::PathBuf>,
    /// Switch a fault on, SIGNAL:KIND[=VALUE] (repeatable), e.g. trace:drop,
    /// log:ingest-delay=2s, metric:query-error=503. Kinds are listed below.
    #[arg(long = "fault", value_name = "SIGNAL:KIND[=VALUE]")]
    pub faults: Vec<String>,
    /// Serve the OTLP receivers over TLS only, with this PEM certificate (with --tls-key):
    /// a plain-text client then meets a TLS port.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Scrape this /metrics page as Prometheus 2.53 would (repeatable) and serve what it
    /// exposes, plus up and scrape_duration_seconds, on the Mimir/Prometheus port: the pull
    /// path of `otel-canary serve`'s marker.
    #[arg(long = "scrape", value_name = "URL")]
    pub scrape: Vec<String>,
    /// How often each --scrape page is scraped; the scrape timeout is min(this, 10s).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub scrape_interval: std::time::Duration,
    /// The job label of scraped series.
    #[arg(long, value_name = "NAME", default_value = "otel-canary")]
    pub scrape_job: String,
    /// Tail this log file as Promtail or Alloy would (repeatable; it may not exist yet) and
    /// serve its lines on the Loki port, in the stream {job="otel-canary", filename="FILE"}.
    #[arg(long = "tail", value_name = "FILE")]
    pub tail: Vec<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Protocols to demonstrate, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_protocol, default_value = "http/protobuf,http/json,grpc")]
    pub protocol: Vec<Protocol>,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: DemoOutput,
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("'{s}' is not a duration like 30s or 1m: {e}")),
    }
}

/// `:PORT` means every interface, as Prometheus exporters write it.
fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    let full = match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    };
    full.parse().map_err(|_| {
        format!("'{s}' is not a listen address like :9464, 127.0.0.1:9464 or [::]:9464")
    })
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    s.parse()
}

fn parse_emitter(s: &str) -> Result<EmitterMode, String> {
    s.parse()
}

fn parse_signal(s: &str) -> Result<Signal, String> {
    s.parse()
}

fn parse_log_match(s: &str) -> Result<crate::backends::loki::LogMatch, String> {
    s.parse()
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse()
}
