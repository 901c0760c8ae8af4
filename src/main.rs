//! The `otel-canary` binary: parse the command line, run the library, map the verdict to an
//! exit code (0 ok, 1 a signal failed, 2 usage or configuration error).

use clap::Parser;
use otel_canary::cli::{Cli, Command, LogFormat};
use std::process::ExitCode;

/// Diagnostics go to stderr (stdout carries reports, and `serve`'s log line); `serve` logs
/// each failed probe at warn and each start and finish at info, so it defaults to info. The
/// OpenTelemetry SDK's own events (the SDK emitter's) are captured into each probe's report
/// instead of printed, unless the level names an `opentelemetry` target explicitly.
fn init_logging(cli: &Cli) {
    use otel_canary::emit::sdk::diagnostics::{CaptureLayer, OTEL_TARGET, capture_filter};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let level = cli.log_level.as_deref().unwrap_or(default);
    let with_otel_off = |l: &str| {
        if l.contains(OTEL_TARGET) {
            l.to_string()
        } else {
            format!("{l},{OTEL_TARGET}=off")
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(with_otel_off(level)).unwrap_or_else(|_| {
            eprintln!("warning: log level '{level}' is not understood; using {default}");
            tracing_subscriber::EnvFilter::new(with_otel_off(default))
        });
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let capture = CaptureLayer.with_filter(capture_filter());
    let registry = tracing_subscriber::registry().with(capture);
    match cli.log_format {
        LogFormat::Json => registry.with(fmt.json().with_filter(filter)).init(),
        LogFormat::Text => registry.with(fmt.with_filter(filter)).init(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // A panic is a bug, but the exit code stays one of 0/1/2 (never Rust's 101): the
    // canary could not do its job, which scripts read like a configuration error.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(otel_canary::commands::run(cli))
    }));
    // Dropping the runtime would wait for blocking work still running, such as a name lookup
    // a deadline gave up on (`doctor` promises an answer in under 3 s); do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    let Ok(result) = result else {
        eprintln!(
            "error: otel-canary hit an internal error (a bug; the message above says where): no \
             verdict"
        );
        return ExitCode::from(2);
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
