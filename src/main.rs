//! `kassa`: configuration → telemetry → command → run until shutdown.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    kassa::auth::password::give_memory_back();
    let _ = dotenvy::dotenv();
    kassa::telemetry::init_tracing();
    match kassa::cli::run(kassa::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "kassa: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
