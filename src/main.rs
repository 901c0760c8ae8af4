//! The `otel-canary` binary: parse the command line, run the library, map the verdict to an
//! exit code (0 ok, 1 a signal failed, 2 usage or configuration error).

use clap::Parser;
use otel_canary::cli::{Cli, Command, LogFormat};
use std::process::ExitCode;

/// Diagnostics go to stderr (stdout carries reports, and `serve`'s log line); `serve` logs
/// each failed probe at warn and each start and finish at info, so it defaults to info.
fn init_logging(cli: &Cli) {
    let default = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let level = cli.log_level.as_deref().unwrap_or(default);
    let filter = tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| {
        eprintln!("warning: log level '{level}' is not understood; using {default}");
        tracing_subscriber::EnvFilter::new(default)
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
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
    let result = runtime.block_on(otel_canary::commands::run(cli));
    // Dropping the runtime would wait for blocking work still running, such as a name lookup
    // a deadline gave up on (`doctor` promises an answer in under 3 s); do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
