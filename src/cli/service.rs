//! The commands around a node left running: `unmount` (alias `stop`) and
//! `completions`. Flattened into `Command`, so they live apart from it.

use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Stop the node behind a mount cleanly (it unmounts, leaves the DHT and exits) and wait for it to exit
    #[command(visible_alias = "stop")]
    Unmount {
        /// Where the node is mounted
        #[arg(value_name = "MOUNTPOINT")]
        mountpoint: PathBuf,
        /// Give up waiting for the node to exit after this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) on stdout
    Completions {
        /// The shell to complete for
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

pub fn run(command: ServiceCommand) -> anyhow::Result<()> {
    match command {
        ServiceCommand::Unmount {
            mountpoint,
            timeout,
        } => unmount(&mountpoint, Duration::from_secs(timeout)),
        ServiceCommand::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = super::Cli::command();
            clap_complete::generate(shell, &mut cmd, "lbrymount", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn unmount(mountpoint: &std::path::Path, deadline: Duration) -> anyhow::Result<()> {
    match crate::node::stop_mount(mountpoint, deadline)? {
        crate::node::Stopped::Node { pid } => {
            tracing::info!(pid, "the node behind {} stopped", mountpoint.display());
        }
        crate::node::Stopped::Dead => eprintln!(
            "lbrymount: {} was a dead mount (its node had died); cleared",
            mountpoint.display()
        ),
    }
    Ok(())
}
