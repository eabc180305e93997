//! The `archtui` binary: colour-eyre's report hook, the command line,
//! the runtime; everything else is the library.

use clap::Parser;

fn main() -> color_eyre::Result<()> {
    // A report into a log file or a pipe is plain text: no colour codes.
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr())
        || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let hooks = color_eyre::config::HookBuilder::default();
    if plain {
        hooks.theme(color_eyre::config::Theme::new()).install()?;
    } else {
        hooks.install()?;
    }
    let args = match archtui::cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            std::process::exit(archtui::cli::usage_exit_code(&e, std::env::args()));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let code = runtime.block_on(archtui::cli::run(args));
    // Supervisors and half-closed sessions must not delay the exit code.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}
