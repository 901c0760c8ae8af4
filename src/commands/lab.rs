//! `otel-canary lab`: the whole built-in stack (OTLP receivers plus in-memory Tempo, Loki and
//! Prometheus/Mimir APIs) on the usual ports, for pointing apps, collectors and the canary at,
//! until Ctrl-C. Faults from `--fault` and `--require-tenant` reproduce field incidents;
//! `--scrape` and `--tail` make the lab the scraper and the log agent of the pull paths.

use crate::cli::LabArgs;
use crate::config::ConfigError;
use crate::lab::tls::LabTls;
use crate::lab::{
    LabGrafanaConfig, LabStack, LabStackConfig, LabState, ReceiverConfig, ScrapeTarget,
    SignalFault, parse_fault_spec, tail_store, tailer,
};
use crate::signal::Signal;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// `--fault` values grouped per signal (settings for one signal accumulate).
pub fn parse_faults(specs: &[String]) -> Result<BTreeMap<Signal, SignalFault>, ConfigError> {
    let mut faults: BTreeMap<Signal, SignalFault> = BTreeMap::new();
    for spec in specs {
        let (signal, setting) =
            parse_fault_spec(spec).map_err(|problem| ConfigError::new("--fault", problem))?;
        faults.entry(signal).or_default().apply(setting);
    }
    Ok(faults)
}

/// One line per switched-on fault, for the start banner.
fn describe(signal: Signal, f: &SignalFault) -> String {
    let mut parts = Vec::new();
    if f.drop {
        parts.push("drop".to_string());
    }
    if f.export_fail {
        parts.push("the collector's exporter fails".to_string());
    }
    if f.ingester_fail {
        parts.push("Tempo's ingesters refuse appends".to_string());
    }
    if !f.ingest_delay.is_zero() {
        parts.push(format!("ingest-delay {:?}", f.ingest_delay));
    }
    if !f.search_delay.is_zero() {
        parts.push(format!("search-delay {:?}", f.search_delay));
    }
    if let Some((s, _)) = &f.query_error {
        parts.push(format!("query-error {s}"));
    }
    if let Some(s) = f.status {
        parts.push(format!("export status {s}"));
    }
    if let Some(s) = f.retry_after {
        parts.push(format!("retry-after {s}s"));
    }
    if let Some((n, _)) = &f.partial {
        parts.push(format!("partial {n} rejected"));
    }
    if !f.delay.is_zero() {
        parts.push(format!("ack delay {:?}", f.delay));
    }
    if f.loki_exporter {
        parts.push("stored as a Loki exporter writes it".to_string());
    }
    let g = &f.grafana;
    for (on, what) in [
        (
            g.wrong_url,
            "its Grafana datasource points at an empty backend",
        ),
        (g.dead_url, "its Grafana datasource points at a dead port"),
        (g.no_tenant, "its Grafana datasource sends no X-Scope-OrgID"),
        (g.missing, "its Grafana datasource is missing"),
        (
            g.duplicate,
            "a second Grafana datasource of its type exists",
        ),
    ] {
        if on {
            parts.push(what.to_string());
        }
    }
    format!("{signal}: {}", parts.join(", "))
}

/// The receivers' TLS material from --tls-cert/--tls-key, read once and checked here so a bad
/// file is a usage error naming it.
fn lab_tls(args: &LabArgs) -> Result<Option<LabTls>, ConfigError> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |flag: &str, path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(flag, format!("cannot read {}: {e}", path.display())))
    };
    let tls = LabTls {
        cert_pem: read("--tls-cert", cert)?,
        key_pem: read("--tls-key", key)?,
        client_ca_pem: None,
    };
    tls.server_config(&[b"http/1.1"])
        .map_err(|e| ConfigError::new("--tls-cert/--tls-key", e.to_string()))?;
    Ok(Some(tls))
}

/// The --scrape targets with --scrape-interval and --scrape-job, checked before anything
/// listens so a bad value is a usage error naming it.
fn scrape_targets(args: &LabArgs) -> Result<Vec<ScrapeTarget>, ConfigError> {
    if args.scrape_interval.is_zero() {
        return Err(ConfigError::new("--scrape-interval", "must be above zero"));
    }
    if args.scrape_job.trim().is_empty() {
        return Err(ConfigError::new("--scrape-job", "must not be empty"));
    }
    args.scrape
        .iter()
        .map(|url| {
            let mut target =
                ScrapeTarget::new(url).map_err(|e| ConfigError::new("--scrape", e.to_string()))?;
            target.interval = args.scrape_interval;
            target.job = args.scrape_job.clone();
            Ok(target)
        })
        .collect()
}

/// The lab Grafana's settings from --grafana-tenant and --grafana-token-file, checked before
/// anything listens.
fn grafana_config(args: &LabArgs) -> Result<LabGrafanaConfig, ConfigError> {
    let mut config = LabGrafanaConfig::default();
    if let Some(t) = &args.grafana_tenant {
        let t = t.trim();
        if t.is_empty() || t.contains('|') || t.contains(['\r', '\n']) {
            return Err(ConfigError::new(
                "--grafana-tenant",
                "must be one tenant id (no '|', not empty)",
            ));
        }
        config.tenant = Some(t.to_string());
    }
    if let Some(path) = &args.grafana_token_file {
        let token = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                "--grafana-token-file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let token = token.trim();
        if token.is_empty() || token.contains(['\r', '\n', ' ']) {
            return Err(ConfigError::new(
                "--grafana-token-file",
                format!("{} must hold one token on one line", path.display()),
            ));
        }
        config.token = token.to_string();
    }
    Ok(config)
}

/// The --tail files, checked the same way: one that exists must be a readable regular file.
fn tail_files(args: &LabArgs) -> Result<(), ConfigError> {
    for path in &args.tail {
        tailer::check(path)
            .map_err(|e| ConfigError::new("--tail", format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

pub async fn run(args: &LabArgs) -> Result<u8, ConfigError> {
    let faults = parse_faults(&args.faults)?;
    let tls = lab_tls(args)?;
    let scrape = scrape_targets(args)?;
    tail_files(args)?;
    let grafana = grafana_config(args)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = LabStackConfig {
        receivers: ReceiverConfig {
            http: SocketAddr::new(args.bind, args.http_port),
            grpc: SocketAddr::new(args.bind, args.grpc_port),
            tls,
        },
        tempo: SocketAddr::new(args.bind, args.tempo_port),
        loki: SocketAddr::new(args.bind, args.loki_port),
        mimir: SocketAddr::new(args.bind, args.mimir_port),
    };
    let state = LabState::new();
    state.set_require_tenant(args.require_tenant);
    for (signal, fault) in &faults {
        state.faults.set(*signal, fault.clone());
    }
    let cannot_listen = |e: std::io::Error| {
        ConfigError::new(
            "--http-port/--grpc-port/--tempo-port/--loki-port/--mimir-port/--collector-metrics-port/--grafana-port",
            format!("cannot listen: {e}"),
        )
    };
    let mut lab = LabStack::start(config, state)
        .await
        .map_err(cannot_listen)?;
    if args.collector_metrics_port != 0 {
        lab.start_collector_metrics(SocketAddr::new(args.bind, args.collector_metrics_port))
            .await
            .map_err(cannot_listen)?;
    }
    if args.grafana_port != 0 {
        lab.start_grafana(SocketAddr::new(args.bind, args.grafana_port), grafana)
            .await
            .map_err(cannot_listen)?;
    }
    for target in scrape {
        lab.start_scraper(target)
            .map_err(|e| ConfigError::new("--scrape", e.to_string()))?;
    }
    for path in &args.tail {
        lab.start_tailer(path)
            .map_err(|e| ConfigError::new("--tail", format!("{}: {e}", path.display())))?;
    }
    let r = &lab.receivers;
    eprintln!("otel-canary lab: the built-in test stack is up (Ctrl-C to stop)");
    eprintln!(
        "  OTLP/HTTP  {scheme}://{}   POST /v1/traces, /v1/logs, /v1/metrics",
        r.http_addr
    );
    eprintln!("  OTLP/gRPC  {scheme}://{}", r.grpc_addr);
    eprintln!(
        "  Tempo      {}   GET /api/traces/<id>, /api/v2/traces/<id>, /api/search?q=<TraceQL>",
        lab.tempo_url()
    );
    eprintln!(
        "  Loki       {}   GET /loki/api/v1/query_range; OTLP push POST /otlp/v1/logs",
        lab.loki_url()
    );
    eprintln!(
        "  Mimir      {}/prometheus   GET /api/v1/query; OTLP push POST {}/otlp/v1/metrics",
        lab.mimir_url(),
        lab.mimir_url()
    );
    eprintln!(
        "  Prometheus {}   GET /api/v1/query; OTLP push POST /api/v1/otlp/v1/metrics",
        lab.mimir_url()
    );
    if let Some(url) = lab.collector_metrics_url() {
        eprintln!(
            "  collector self-metrics {url}   (otelcol_* counters; Tempo's at {}/metrics)",
            lab.tempo_url()
        );
    }
    if let (Some(url), Some(g)) = (lab.grafana_url(), &lab.grafana) {
        eprintln!(
            "  Grafana    {url}   /api/health, /api/datasources, /api/datasources/proxy/uid/<uid>/…; \
             basic auth {}:{} or the service-account token ({})",
            g.config.user,
            g.config.password,
            if args.grafana_token_file.is_some() {
                "from --grafana-token-file"
            } else {
                "the lab's default, see --help"
            }
        );
        for d in g.datasources() {
            let tenant = match &g.config.tenant {
                Some(t) if !d.headers.is_empty() => format!(", X-Scope-OrgID {t}"),
                _ => String::new(),
            };
            eprintln!(
                "    datasource {:<6} ({}) -> {}{tenant}",
                d.uid, d.plugin.id, d.url
            );
        }
    }
    eprintln!(
        "  tenancy: {}",
        if args.require_tenant {
            "X-Scope-OrgID required, each tenant sees its own data"
        } else {
            "single-tenant (X-Scope-OrgID ignored)"
        }
    );
    for url in &args.scrape {
        eprintln!(
            "  scrape     {url} every {} as job=\"{}\"   (query up, or the page's metrics, on {})",
            humantime::format_duration(args.scrape_interval),
            args.scrape_job,
            lab.mimir_url()
        );
    }
    for path in &args.tail {
        let labels: Vec<String> = tail_store::stream_labels(&path.to_string_lossy())
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        eprintln!(
            "  tail       {}   (Loki stream {{{}}})",
            path.display(),
            labels.join(", ")
        );
    }
    for (signal, fault) in &faults {
        eprintln!("  fault {}", describe(*signal, fault));
    }
    let mut last = 0;
    let mut last_health = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let n = lab.state.store.len();
                if n != last {
                    last = n;
                    let count = |s| lab.state.store.snapshot(s).len();
                    eprintln!("received: {} trace, {} log, {} metric requests",
                        count(Signal::Trace), count(Signal::Log), count(Signal::Metric));
                }
                report_scrape_changes(&lab, &mut last_health);
            }
        }
    }
    Ok(0)
}

/// One line per target whose health changed since the last look (up, or down with the error).
fn report_scrape_changes(lab: &LabStack, last: &mut BTreeMap<String, (bool, String)>) {
    for (url, h) in lab.state.scraped.health() {
        let now = (h.up, h.last_error.clone());
        if last.get(&url) != Some(&now) {
            if h.up {
                eprintln!("scrape {url}: up ({} samples)", h.samples);
            } else {
                eprintln!("scrape {url}: down: {}", h.last_error);
            }
            last.insert(url, now);
        }
    }
}
