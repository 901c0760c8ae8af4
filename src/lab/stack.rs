//! The whole built-in stack on real sockets: the collector-like OTLP receivers plus the Tempo,
//! Loki and Prometheus/Mimir query APIs, all over one store, so a canary can be pointed at it
//! exactly as at a real deployment (write to the receivers or the backends, read back from
//! the query ports). Optionally the collector's self-metrics page on its own port, and the
//! pull paths: a scraper for `/metrics` pages and a tailer for log files.

use super::LabState;
use super::grafana_api::{LabGrafana, LabGrafanaConfig, Upstreams};
use super::pipeline;
use super::receivers::{LabReceivers, ReceiverConfig, serve_http1};
use super::scraper::{self, InvalidTarget, ScrapeTarget};
use super::{grafana_api, loki_api, prom_api, tailer, tempo_api};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Where each part listens; port 0 picks a free port.
#[derive(Clone, Debug)]
pub struct LabStackConfig {
    pub receivers: ReceiverConfig,
    pub tempo: SocketAddr,
    pub loki: SocketAddr,
    pub mimir: SocketAddr,
}

impl LabStackConfig {
    /// Everything on free loopback ports (tests, `demo`).
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        LabStackConfig {
            receivers: ReceiverConfig::ephemeral(),
            tempo: any,
            loki: any,
            mimir: any,
        }
    }

    /// The ports the real servers use: OTLP 4317/4318, Tempo 3200, Loki 3100, Mimir 9009.
    pub fn usual_ports(bind: IpAddr) -> Self {
        LabStackConfig {
            receivers: ReceiverConfig {
                http: SocketAddr::new(bind, 4318),
                grpc: SocketAddr::new(bind, 4317),
                tls: None,
            },
            tempo: SocketAddr::new(bind, 3200),
            loki: SocketAddr::new(bind, 3100),
            mimir: SocketAddr::new(bind, 9009),
        }
    }
}

/// The running stack. Dropping it stops every part.
pub struct LabStack {
    pub receivers: LabReceivers,
    pub tempo_addr: SocketAddr,
    pub loki_addr: SocketAddr,
    pub mimir_addr: SocketAddr,
    /// Where the collector's self-metrics page listens, once started.
    pub collector_metrics_addr: Option<SocketAddr>,
    /// Where the lab's Grafana listens, once started.
    pub grafana_addr: Option<SocketAddr>,
    /// The lab's Grafana (its datasources and where they point), once started.
    pub grafana: Option<Arc<LabGrafana>>,
    pub state: Arc<LabState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for LabStack {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

async fn bind(addr: SocketAddr, what: &str) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("{what} on {addr}: {e}")))
}

impl LabStack {
    /// Binds every port, then serves. Fails (stopping what started) if any port is taken.
    pub async fn start(config: LabStackConfig, state: Arc<LabState>) -> io::Result<LabStack> {
        let tempo = bind(config.tempo, "Tempo API").await?;
        let loki = bind(config.loki, "Loki API").await?;
        let mimir = bind(config.mimir, "Mimir API").await?;
        let receivers = LabReceivers::start(config.receivers, state.clone()).await?;
        let (tempo_addr, loki_addr, mimir_addr) =
            (tempo.local_addr()?, loki.local_addr()?, mimir.local_addr()?);
        let tasks = vec![
            tokio::spawn(serve_http1(tempo, tempo_api::router(state.clone()), None)),
            tokio::spawn(serve_http1(loki, loki_api::router(state.clone()), None)),
            tokio::spawn(serve_http1(mimir, prom_api::router(state.clone()), None)),
        ];
        Ok(LabStack {
            receivers,
            tempo_addr,
            loki_addr,
            mimir_addr,
            collector_metrics_addr: None,
            grafana_addr: None,
            grafana: None,
            state,
            tasks,
        })
    }

    /// Serves the collector's self-metrics page (`GET /metrics`, as a collector does on
    /// `:8888`, see `lab::pipeline`) on its own listener; port 0 picks a free one
    /// (`pipeline::COLLECTOR_METRICS_PORT` is the real one). Returns where it listens.
    ///
    /// A method rather than a `LabStackConfig` field: `otel-canary lab` builds that struct
    /// literally, and the page is opt-in for it.
    pub async fn start_collector_metrics(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let listener = bind(addr, "collector self-metrics").await?;
        let local = listener.local_addr()?;
        self.tasks.push(tokio::spawn(serve_http1(
            listener,
            pipeline::collector_router(self.state.clone()),
            None,
        )));
        self.collector_metrics_addr = Some(local);
        Ok(local)
    }

    /// Serves a Grafana-compatible API (`lab::grafana_api`) on `addr` (port 0 picks a free
    /// one, 3000 is Grafana's): health, the datasources `tempo`, `loki` and `mimir` pointing at
    /// this stack's backends, and the data proxy to them. Also starts, on free ports of the
    /// same address, an empty Tempo, Loki and Mimir for the `grafana-wrong-url` fault, and
    /// picks a port nothing listens on for `grafana-dead-url`. Returns where Grafana listens.
    ///
    /// A method rather than a `LabStackConfig` field, like `start_collector_metrics`.
    pub async fn start_grafana(
        &mut self,
        addr: SocketAddr,
        config: LabGrafanaConfig,
    ) -> io::Result<SocketAddr> {
        let listener = bind(addr, "Grafana API").await?;
        let local = listener.local_addr()?;
        let side = SocketAddr::new(addr.ip(), 0);
        let empty = LabState::new();
        let empty_tempo = bind(side, "empty Tempo (Grafana wrong-url fault)").await?;
        let empty_loki = bind(side, "empty Loki (Grafana wrong-url fault)").await?;
        let empty_mimir = bind(side, "empty Mimir (Grafana wrong-url fault)").await?;
        // A port that was free a moment ago: nothing listens there once the listener drops.
        let dead = bind(side, "dead port (Grafana dead-url fault)")
            .await?
            .local_addr()?;
        let base = |a: SocketAddr| format!("http://{}", reachable(a));
        let upstreams = Upstreams {
            tempo: base(self.tempo_addr),
            loki: base(self.loki_addr),
            mimir: base(self.mimir_addr),
            empty_tempo: base(empty_tempo.local_addr()?),
            empty_loki: base(empty_loki.local_addr()?),
            empty_mimir: base(empty_mimir.local_addr()?),
            dead: base(dead),
        };
        self.tasks.extend([
            tokio::spawn(serve_http1(
                empty_tempo,
                tempo_api::router(empty.clone()),
                None,
            )),
            tokio::spawn(serve_http1(
                empty_loki,
                loki_api::router(empty.clone()),
                None,
            )),
            tokio::spawn(serve_http1(
                empty_mimir,
                prom_api::router(empty.clone()),
                None,
            )),
        ]);
        let grafana = Arc::new(LabGrafana::new(
            config,
            upstreams,
            self.state.clone(),
            empty,
        ));
        self.tasks.push(tokio::spawn(serve_http1(
            listener,
            grafana_api::router(grafana.clone()),
            None,
        )));
        self.grafana_addr = Some(local);
        self.grafana = Some(grafana);
        Ok(local)
    }

    /// `http://127.0.0.1:<port>` of the lab's Grafana, once started.
    pub fn grafana_url(&self) -> Option<String> {
        self.grafana_addr
            .map(|a| format!("http://{}", reachable(a)))
    }

    /// Scrapes `target` as Prometheus would, into the Mimir/Prometheus query API, until the
    /// stack is dropped (see `lab::scraper`). Must run inside a Tokio runtime. Fails only for
    /// a target no scrape could reach (not http(s), zero interval, empty job); a target that
    /// is down is scraped anyway and shows as `up` 0.
    ///
    /// A method rather than a `LabStackConfig` field, like `start_collector_metrics`: the pull
    /// paths are opt-in and `otel-canary lab` builds that struct literally.
    pub fn start_scraper(&mut self, target: ScrapeTarget) -> Result<(), InvalidTarget> {
        let task = scraper::spawn(self.state.clone(), target)?;
        self.tasks.push(task);
        Ok(())
    }

    /// Tails the file at `path` as a log agent would, into the Loki query API (stream
    /// `{job="otel-canary", filename="<path as given>", service_name="otel-canary"}`), until
    /// the stack is dropped (see `lab::tailer`). Must run inside a Tokio runtime. Fails when
    /// `path` exists but is not a readable regular file; a path that does not exist yet is
    /// waited for.
    pub fn start_tailer(&mut self, path: impl Into<PathBuf>) -> io::Result<()> {
        let task = tailer::spawn(self.state.clone(), path.into())?;
        self.tasks.push(task);
        Ok(())
    }

    /// `http://127.0.0.1:<port>/metrics` of the collector's self-metrics page, once started.
    pub fn collector_metrics_url(&self) -> Option<String> {
        self.collector_metrics_addr
            .map(|a| format!("http://{a}/metrics"))
    }

    /// `http://127.0.0.1:<port>` of the Tempo API.
    pub fn tempo_url(&self) -> String {
        format!("http://{}", self.tempo_addr)
    }

    /// `http://127.0.0.1:<port>` of the Loki API.
    pub fn loki_url(&self) -> String {
        format!("http://{}", self.loki_addr)
    }

    /// `http://127.0.0.1:<port>` of Mimir, without `/prometheus`: the same port also serves
    /// the Prometheus-style unprefixed `/api/v1/…` paths.
    pub fn mimir_url(&self) -> String {
        format!("http://{}", self.mimir_addr)
    }
}

/// An address a client can connect to: an unspecified bind address (`0.0.0.0`, `::`) is
/// reached on loopback.
fn reachable(a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        let ip: IpAddr = if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, a.port())
    } else {
        a
    }
}
