//! `otel-canary lab`: the built-in stack's receivers on the usual ports, for pointing apps and
//! collectors at, until Ctrl-C.

use crate::cli::LabArgs;
use crate::config::ConfigError;
use crate::lab::{LabReceivers, LabState, ReceiverConfig};
use crate::signal::Signal;
use std::net::SocketAddr;
use std::time::Duration;

pub async fn run(args: &LabArgs) -> Result<u8, ConfigError> {
    let config = ReceiverConfig {
        http: SocketAddr::new(args.bind, args.http_port),
        grpc: SocketAddr::new(args.bind, args.grpc_port),
        tls: None,
    };
    let lab = LabReceivers::start(config, LabState::new())
        .await
        .map_err(|e| ConfigError::new("--http-port/--grpc-port", format!("cannot listen: {e}")))?;
    eprintln!(
        "otel-canary lab: OTLP/HTTP on http://{}  OTLP/gRPC on http://{}  (Ctrl-C to stop)",
        lab.http_addr, lab.grpc_addr
    );
    let mut last = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let n = lab.state.store.len();
                if n != last {
                    last = n;
                    let count = |s| lab.state.store.of(s).len();
                    eprintln!("received: {} trace, {} log, {} metric requests",
                        count(Signal::Trace), count(Signal::Log), count(Signal::Metric));
                }
            }
        }
    }
    Ok(0)
}
