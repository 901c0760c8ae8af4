//! The continuous canary (`serve`): every scenario probed on its own schedule, the outcomes
//! exposed as Prometheus metrics, a blackbox-style `/probe`, the latest report as JSON, a
//! status page for people (`/`, with each scenario's last waterfall, `/report`), and health
//! endpoints. Nothing per probe is kept once it is counted and logged: the live state
//! is one report per scenario, metric families with bounded labels, and a fixed ring of the
//! last 50 verdicts per lane.

pub mod history;
pub mod http;
pub mod metrics;
pub mod probe_metrics;
pub mod quantile;
pub mod scheduler;
pub mod state;
pub mod status_page;

use crate::commands::run::Prepared;
use metrics::CanaryMetrics;
use state::ServeState;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One scenario ready to probe: its name in metrics and URLs, and its round trip.
pub struct ScenarioProbe {
    pub name: String,
    pub prepared: Prepared,
}

/// What `serve` runs.
pub struct ServeConfig {
    pub scenarios: Vec<ScenarioProbe>,
    pub interval: Duration,
    pub max_in_flight: usize,
    pub listen: SocketAddr,
    pub shutdown_grace: Duration,
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C), whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received: stopping"),
        _ = term => tracing::info!("SIGTERM received: stopping"),
    }
}

/// Serves until `shutdown` resolves: then no new probes start, running ones get the grace
/// period, and the HTTP server stops after them (so `/metrics` shows their outcome).
pub async fn run(
    config: ServeConfig,
    metrics: Arc<CanaryMetrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen))
        })?;
    let addr = listener.local_addr()?;
    let state = Arc::new(ServeState::new(metrics, config.scenarios, config.interval));
    for s in state.scenarios() {
        for w in &s.prepared.warnings {
            tracing::warn!(scenario = %s.name, "{w}");
        }
    }
    tracing::info!(
        listen = %addr,
        scenarios = %state.names().join(","),
        interval = %humantime::format_duration(config.interval),
        "otel-canary serve listening on http://{addr}/metrics"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let schedule = scheduler::Schedule {
        interval: config.interval,
        max_in_flight: config.max_in_flight,
        grace: config.shutdown_grace,
    };
    let mut schedulers = tokio::task::JoinSet::new();
    for s in state.scenarios() {
        schedulers.spawn(scheduler::run(
            state.clone(),
            s.clone(),
            schedule,
            stop_rx.clone(),
        ));
    }
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, http::router(state.clone())).with_graceful_shutdown(async {
        let _ = server_stop_rx.await;
    });
    let server = tokio::spawn(async move { server.await });
    shutdown.await;
    let _ = stop_tx.send(true);
    while schedulers.join_next().await.is_some() {}
    let _ = server_stop_tx.send(());
    // Open keep-alive connections would hold the graceful stop; a second is plenty for
    // in-progress answers.
    if tokio::time::timeout(Duration::from_secs(1), server)
        .await
        .is_err()
    {
        tracing::debug!("HTTP connections still open at exit were dropped");
    }
    tracing::info!("stopped");
    Ok(())
}
