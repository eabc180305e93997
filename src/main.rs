mod actions;
mod app;
mod cli;
mod config;
mod credentials;
mod fleet;
mod model;
mod observation;
#[cfg(test)]
mod perf_tests;
mod remote;
mod status;
mod tui;
mod ui;
mod verdict;
mod wizard;

use clap::Parser;

fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let args = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let code = runtime.block_on(cli::run(args));
    // Supervisors and half-closed sessions must not delay the exit code.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}
