//! The subcommands, as library functions the binary (and tests) call. Each returns the exit
//! code: 0 every check passed, 1 a signal failed; configuration errors come back as `Err`
//! (exit 2).

pub mod demo;
pub mod doctor;
pub mod emit;
pub mod healthcheck;
pub mod lab;
pub mod run;
pub mod serve;

use crate::cli::{Cli, Command};
use crate::config::ConfigError;
use crate::config::env::EnvSnapshot;

/// Writes a report to stdout. A reader that went away (`otel-canary run | head`) is not an
/// error of the canary's: the verdict still decides the exit code, and nothing panics.
pub fn write_report(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<u8, ConfigError> {
    let env = EnvSnapshot::from_process();
    match cli.command {
        Command::Emit(args) => emit::run(&args, &env).await,
        Command::Lab(args) => lab::run(&args).await,
        Command::Run(args) => run::run(&args, &env).await,
        Command::Demo(args) => demo::run(&args).await,
        Command::Doctor(args) => doctor::run(&args, &env).await,
        Command::Serve(args) => serve::run(&args, &env).await,
        Command::Healthcheck(args) => healthcheck::run(&args).await,
    }
}
