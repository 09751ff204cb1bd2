//! The `lbrymount` binary: parse flags, set up logging, run, map errors to exit codes
//! (0 success, 1 failure, 2 usage error — clap exits with 2 itself).

use clap::Parser;
use lbrymount::cli::{self, Cli, Command};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = Cli::parse_from(&argv);
    if cli.command.is_none() && cli.mount.mountpoint.is_none() {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "give a MOUNTPOINT to mount the network, or a command",
            )
            .exit();
    }
    if let (None, Some(mp)) = (&cli.command, &cli.mount.mountpoint) {
        // A typo'd command reads as a mountpoint; say both.
        if matches!(std::fs::symlink_metadata(mp), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        {
            use clap::CommandFactory;
            Cli::command()
                .error(
                    clap::error::ErrorKind::InvalidSubcommand,
                    format!(
                        "{} is not a command, nor a directory to mount on",
                        mp.display()
                    ),
                )
                .exit();
        }
    }
    if let (Some(_), Some(mp)) = (&cli.command, &cli.mount.mountpoint) {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{} is a mountpoint; mount options go before it and no command follows it",
                    mp.display()
                ),
            )
            .exit();
    }
    let cli = match cli::with_config_file(cli, argv) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("lbrymount: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&cli);
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our standard output went away (`get -o - | head`):
        // it chose to stop, which is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbrymount: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Long-running commands log their lifecycle at info; one-shot commands stay
/// quiet unless asked, so their stdout/stderr are the result and the errors.
fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose, &cli.command) {
        (true, _, _) => "error",
        (_, 0, None | Some(Command::Serve { .. })) => "info",
        (_, 0, _) => "warn",
        (_, 1, _) => "lbrymount=debug,info",
        _ => "lbrymount=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
