//! The manual and `--help` agree: every long flag is documented, every command has help.

mod common;

use clap::CommandFactory;
use lbrymount::cli::Cli;

fn long_flags(cmd: &clap::Command, out: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        if let Some(l) = arg.get_long() {
            out.push(l.to_string());
        }
    }
    for sub in cmd.get_subcommands() {
        long_flags(sub, out);
    }
}

#[test]
fn the_man_page_names_every_long_flag_and_command() {
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/lbrymount.1")).unwrap();
    let man = man.replace("\\-", "-");
    let mut cmd = Cli::command();
    cmd.build();
    let mut flags = Vec::new();
    long_flags(&cmd, &mut flags);
    assert!(flags.len() > 8, "{flags:?}");
    for f in flags {
        assert!(
            man.contains(&format!("--{f}")),
            "man/lbrymount.1 does not mention --{f}"
        );
    }
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        assert!(
            man.contains(&format!(".SS {}", sub.get_name())),
            "man page lacks a section for `{}`",
            sub.get_name()
        );
    }
}

#[test]
fn every_command_has_help_that_exits_0() {
    let node = common::cli::Node::new();
    let top = node.ok(&["--help"]);
    for sub in ["publish", "get", "ls", "serve"] {
        assert!(top.contains(sub), "top-level help lists {sub}");
        let help = node.ok(&[sub, "--help"]);
        assert!(help.contains("Usage: lbrymount"), "{sub} --help:\n{help}");
    }
    assert!(node.ok(&["--version"]).starts_with("lbrymount "));
}
