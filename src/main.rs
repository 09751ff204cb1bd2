//! The `lbrymount` binary: parse flags, set up logging, run, map errors to exit codes
//! (0 success, 1 failure, 2 usage error — clap exits with 2 itself).

use clap::{CommandFactory, Parser};
use lbrymount::cli::{self, ready::DaemonChild, Cli, Command};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Blob-sized buffers get their own (huge-page) mappings: see `large_alloc`.
#[global_allocator]
static ALLOC: lbrymount::large_alloc::LargeMapped = lbrymount::large_alloc::LargeMapped;

fn main() -> ExitCode {
    // First, while this is the only thread: a daemon's pipe to its parent.
    let daemon_child = cli::ready::take_daemon_env();
    let original: Vec<OsString> = std::env::args_os().collect();
    let (argv, fstab) = fstab_form(&original);
    let cli = Cli::parse_from(&argv);
    check_usage(&cli);
    let mut cli = match cli::with_config_file(cli, argv) {
        Ok(cli) => cli,
        Err(e) => return fail(&e),
    };
    cli.mount.fstab = fstab;
    if cli.command.is_none() && cli.mount.daemon && daemon_child.is_none() {
        return daemonize(&cli, &original);
    }
    init_logging(&cli, daemon_child.as_ref());
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our standard output went away (`get -o - | head`):
        // it chose to stop, which is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    cli::ready::failed(&format!("{e:#}"));
    eprintln!("lbrymount: error: {e:#}");
    ExitCode::FAILURE
}

/// mount(8)'s `lbrymount SOURCE DIR -o OPTIONS` as an ordinary command
/// line, and whether it was that; a bad option is a usage error.
fn fstab_form(argv: &[OsString]) -> (Vec<OsString>, bool) {
    let mut cmd = Cli::command();
    cmd.build();
    match cli::fstab::helper_args(argv, &cmd) {
        None => (argv.to_vec(), false),
        Some(Ok(args)) => (args, true),
        Some(Err(e)) => cmd.error(clap::error::ErrorKind::InvalidValue, e).exit(),
    }
}

/// The parent of a `--daemon` mount: starts the daemon, waits until its
/// mount is usable (exit 0) or it failed (exit 1, with the reason).
fn daemonize(cli: &Cli, argv: &[OsString]) -> ExitCode {
    let log = match (&cli.mount.log_file, cli.config()) {
        (Some(f), _) => f.clone(),
        (None, Ok(cfg)) => cfg.data_dir.join("lbrymount.log"),
        (None, Err(e)) => return fail(&e),
    };
    match cli::daemon::start(argv, &log) {
        Ok(_pid) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbrymount: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Usage errors clap cannot see: no mountpoint nor command, a typo'd
/// command, a command after a mountpoint. Exits with 2.
fn check_usage(cli: &Cli) {
    if cli.command.is_none() && cli.mount.mountpoint.is_none() {
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
    if cli.command.is_some() && (cli.mount.daemon || cli.mount.log_file.is_some()) {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--daemon and --log-file are for the mount (lbrymount [OPTIONS] MOUNTPOINT)",
            )
            .exit();
    }
    if let (Some(_), Some(mp)) = (&cli.command, &cli.mount.mountpoint) {
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
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Long-running commands log their lifecycle at info; one-shot commands stay
/// quiet unless asked, so their stdout/stderr are the result and the errors.
/// A mount with `--log-file` (or a daemon) logs to its file instead of stderr.
fn init_logging(cli: &Cli, daemon: Option<&DaemonChild>) {
    let default = match (cli.quiet, cli.verbose, &cli.command) {
        (true, _, _) => "error",
        (_, 0, None | Some(Command::Serve { .. })) => "info",
        (_, 0, _) => "warn",
        (_, 1, _) => "lbrymount=debug,info",
        _ => "lbrymount=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let file = match &cli.command {
        None => (cli.mount.log_file.clone()).or_else(|| daemon.and_then(|d| d.default_log.clone())),
        Some(_) => None,
    };
    let log = file.map(|f| {
        cli::log_file::RotatingLog::open(&f, cli::log_file::LOG_CAP, daemon.is_some())
            .map_err(|e| format!("cannot open the log file {}: {e}", f.display()))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log {
        Some(Ok(log)) => builder
            .with_writer(std::sync::Mutex::new(log))
            .with_ansi(false)
            .init(),
        other => {
            builder
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .init();
            if let Some(Err(e)) = other {
                tracing::warn!("{e}; logging to stderr");
            }
        }
    }
}
