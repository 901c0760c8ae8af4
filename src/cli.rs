//! Command-line definitions (clap). Flags mirror the OTel environment variables they
//! override; `--help` on every subcommand shows an example.

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
    version,
    about = "Prove an OpenTelemetry pipeline works end to end: emit a tagged trace, log and metric over OTLP and report how every hop went.",
    after_help = "Start here:\n  otel-canary demo                                  # a probe against the built-in test stack\n  otel-canary emit --endpoint http://collector:4318 # one probe to your collector\n\nExit codes: 0 every check passed, 1 a signal failed, 2 usage or configuration error."
)]
pub struct Cli {
    /// Diagnostic log level on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "OTEL_CANARY_LOG")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Send one probe (a tagged trace, log and metric) and report exactly how each export went.
    #[command(after_help = EMIT_EXAMPLES)]
    Emit(Box<EmitArgs>),
    /// Serve the built-in test stack's OTLP receivers on the usual ports until Ctrl-C.
    #[command(after_help = LAB_EXAMPLES)]
    Lab(LabArgs),
    /// Start the built-in test stack on free ports and run probes against it: a tour that
    /// needs nothing installed.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
}

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

Settings not given as flags come from the standard OTEL_EXPORTER_OTLP_* variables
(ENDPOINT, <SIGNAL>_ENDPOINT, PROTOCOL, HEADERS, COMPRESSION, TIMEOUT, CERTIFICATE,
CLIENT_KEY, CLIENT_CERTIFICATE), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
The report names the setting that chose each value.";

const LAB_EXAMPLES: &str = "Examples:
  otel-canary lab                                  # OTLP on 127.0.0.1:4318 (HTTP) and :4317 (gRPC)
  otel-canary lab --bind 0.0.0.0 --http-port 14318 --grpc-port 14317";

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
    /// Signals to send, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_signal, default_value = "trace,log,metric")]
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
    /// series) or `label` (also a canary_probe_id label: one series per probe, for one-shot tests).
    #[arg(long, value_enum, default_value = "value")]
    pub metric_tag: MetricTagArg,
}

impl ProbeArgs {
    pub fn resource_flags(&self) -> ResourceFlags {
        ResourceFlags {
            service_name: self.service_name.clone(),
            service_instance_id: self.service_instance_id.clone(),
        }
    }
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

#[derive(Args, Debug)]
pub struct LabArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// OTLP/HTTP port.
    #[arg(long, default_value_t = 4318)]
    pub http_port: u16,
    /// OTLP/gRPC port.
    #[arg(long, default_value_t = 4317)]
    pub grpc_port: u16,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Protocols to demonstrate, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_protocol, default_value = "http/protobuf,http/json,grpc")]
    pub protocol: Vec<Protocol>,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub output: Output,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    s.parse()
}

fn parse_signal(s: &str) -> Result<Signal, String> {
    s.parse()
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse()
}
