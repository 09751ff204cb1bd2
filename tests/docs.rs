//! The manual and `--help` agree: every long flag is documented, every command has help.

mod common;

use clap::CommandFactory;
use lbrymount::cli::Cli;

/// The man page, with roff's `\-` read as `-`.
fn man_page() -> String {
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/lbrymount.1")).unwrap();
    man.replace("\\-", "-")
}

/// The command line as clap defines it, built (globals propagated).
fn cli_definition() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// Every long flag of `cmd` and its subcommands, globals included.
fn all_long_flags(cmd: &clap::Command, out: &mut Vec<String>) {
    out.extend(
        cmd.get_arguments()
            .filter_map(|a| a.get_long())
            .map(str::to_string),
    );
    for sub in cmd.get_subcommands() {
        all_long_flags(sub, out);
    }
}

/// The long flags `cmd` defines itself (not those it inherits as globals).
fn own_long_flags(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter(|a| !a.is_global_set() || cmd.get_name() == "lbrymount")
        .filter_map(|a| a.get_long())
        .filter(|l| !matches!(*l, "help" | "version"))
        .map(str::to_string)
        .collect()
}

/// The text of the man page's `.SS NAME…` section, up to the next heading.
fn man_section<'a>(man: &'a str, name: &str) -> Option<&'a str> {
    let start = man
        .match_indices(".SS ")
        .map(|(i, _)| i)
        .find(|&i| man[i + 4..].split_whitespace().next() == Some(name))?;
    let body = &man[start + 4..];
    let end = [body.find("\n.SS "), body.find("\n.SH ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(body.len());
    Some(&body[..end])
}

#[test]
fn the_man_page_names_every_long_flag_and_command() {
    let man = man_page();
    let cmd = cli_definition();
    let node_options = &man[man
        .find(".SH NODE OPTIONS")
        .expect("a NODE OPTIONS section")..];
    let node_options = &node_options[..node_options[4..]
        .find("\n.SH ")
        .map_or(node_options.len(), |e| e + 4)];
    let mut problems = Vec::new();
    let mut every = Vec::new();
    all_long_flags(&cmd, &mut every);
    for f in every {
        if !man.contains(&format!("--{f}")) {
            problems.push(format!("man/lbrymount.1 does not mention --{f}"));
        }
    }
    let mut checked = 0;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = sub.get_name();
        let Some(section) = man_section(&man, name) else {
            problems.push(format!("man page lacks a section `.SS {name}`"));
            continue;
        };
        for alias in sub.get_visible_aliases() {
            let bold = [format!(".B {alias}"), format!(".BR {alias} ")];
            if !bold.iter().any(|b| section.contains(b.as_str())) {
                problems.push(format!(
                    "the section of `{name}` does not name its alias `{alias}`"
                ));
            }
        }
        // A command's own flags are described in its section (or, for the
        // node's flags, under NODE OPTIONS); so are its subcommands and theirs.
        let mut todo = vec![sub.clone()];
        while let Some(c) = todo.pop() {
            for f in own_long_flags(&c) {
                checked += 1;
                let flag = format!("--{f}");
                if !section.contains(&flag) && !node_options.contains(&flag) {
                    problems.push(format!("the section of `{name}` does not describe {flag}"));
                }
            }
            for nested in c.get_subcommands().filter(|s| s.get_name() != "help") {
                if !section.contains(nested.get_name()) {
                    let nested = nested.get_name();
                    problems.push(format!("the section of `{name}` does not name `{nested}`"));
                }
                todo.push(nested.clone());
            }
        }
    }
    assert!(checked > 20, "only {checked} subcommand flags found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every command and nested command, as the words that name it.
fn command_paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = prefix.clone();
        path.push(sub.get_name().to_string());
        out.push(path.clone());
        command_paths(sub, path, out);
    }
}

#[test]
fn every_command_has_help_that_exits_0() {
    let node = common::cli::Node::new();
    let top = node.ok(&["--help"]);
    let mut paths = Vec::new();
    command_paths(&cli_definition(), Vec::new(), &mut paths);
    assert!(paths.len() > 12, "{paths:?}");
    for path in paths {
        if path.len() == 1 {
            assert!(top.contains(&path[0]), "top-level help lists {}", path[0]);
        }
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = node.ok(&args);
        assert!(
            help.contains("Usage: lbrymount"),
            "{path:?} --help:\n{help}"
        );
    }
    assert!(node.ok(&["--version"]).starts_with("lbrymount "));
}

#[test]
fn the_systemd_unit_runs_command_lines_lbrymount_accepts() {
    use clap::Parser;
    let unit = repo_file("contrib/systemd/lbrymount.service");
    for line in [
        "Type=notify",
        "Restart=on-failure",
        "WantedBy=default.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    let command = |key: &str| -> Vec<String> {
        let line = unit.lines().find_map(|l| l.strip_prefix(key));
        let line = line.unwrap_or_else(|| panic!("the unit lacks {key}"));
        line.replace("%h", "/home/u")
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let start = command("ExecStart=");
    let stop = command("ExecStop=");
    assert_eq!(start[0], "lbrymount");
    let parsed = Cli::try_parse_from(&start).unwrap_or_else(|e| panic!("{start:?}: {e}"));
    assert!(
        parsed.command.is_none() && !parsed.mount.daemon,
        "ExecStart mounts in the foreground"
    );
    let mountpoint = parsed
        .mount
        .mountpoint
        .expect("ExecStart names a mountpoint");
    Cli::try_parse_from(&stop).unwrap_or_else(|e| panic!("{stop:?}: {e}"));
    assert_eq!(
        stop[1..],
        ["unmount".to_string(), mountpoint.display().to_string()]
    );
}

/// The repository's own files, relative to its root.
fn repo_file(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// Every `.rs` file under `dir` (relative to the repository root), sorted.
fn rust_files(dir: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut todo = vec![root.join(dir)];
    let mut out = Vec::new();
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// The section numbers of a markdown file's numbered headings
/// (`## 3. Module map` gives "3", `### 4.2 Bencode` gives "4.2").
fn section_numbers(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let number: String = l
                .trim_start_matches('#')
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            (!number.is_empty()).then(|| number.to_string())
        })
        .collect()
}

/// Reads a section number at the start of `s`; returns it and the rest.
fn take_number(s: &str) -> Option<(String, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let number = s[..end].trim_end_matches('.');
    let rest = &s[number.len()..];
    (!number.is_empty() && number.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| (number.to_string(), rest))
}

/// The sections cited right after a doc path: `§3`, `§3.5–3.6`, `§4.2, §4.4`,
/// `§4.3 and §4.4`. Returns them and how many `§` signs they used.
fn cited_sections(mut s: &str) -> (Vec<String>, usize) {
    let mut found = Vec::new();
    let mut signs = 0;
    s = s.trim_start_matches(' ');
    while let Some(rest) = s.strip_prefix('§') {
        signs += 1;
        let Some((number, rest)) = take_number(rest) else {
            break;
        };
        found.push(number);
        s = rest;
        if let Some(end) = s.strip_prefix('–').or_else(|| s.strip_prefix('-')) {
            if let Some((number, rest)) = take_number(end) {
                found.push(number);
                s = rest;
            }
        }
        let next = [", ", ", and ", " and "]
            .iter()
            .find_map(|sep| s.strip_prefix(sep).filter(|r| r.starts_with('§')));
        match next {
            Some(rest) => s = rest,
            None => break,
        }
    }
    (found, signs)
}

#[test]
fn every_section_the_code_cites_exists_in_the_docs() {
    let mut files = rust_files("src");
    files.extend(rust_files("tests"));
    let mut cited = 0;
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("tests/docs.rs")) {
        let text = repo_file(file);
        for gone in ["PROTOCOL", "DESIGN"] {
            if text.contains(&format!("{gone}.md")) {
                problems.push(format!(
                    "{file} cites {gone}.md, which is not in the repository"
                ));
            }
        }
        let mut signs = 0;
        for (at, _) in text.match_indices("docs/") {
            let tail = &text[at..];
            let Some(end) = tail.find(".md") else {
                continue;
            };
            let doc = &tail[..end + 3];
            if doc.contains(|c: char| c.is_whitespace() || c == '`') {
                continue;
            }
            let Ok(markdown) =
                std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(doc))
            else {
                problems.push(format!("{file} cites {doc}, which does not exist"));
                continue;
            };
            let sections = section_numbers(&markdown);
            let (numbers, used) = cited_sections(&tail[doc.len()..]);
            signs += used;
            for n in numbers {
                cited += 1;
                if !sections.contains(&n) {
                    problems.push(format!(
                        "{file} cites {doc} §{n}, which has no such heading"
                    ));
                }
            }
        }
        let all = text.matches('§').count();
        if all != signs {
            problems.push(format!(
                "{file} has {} § not attached to a docs/….md citation",
                all - signs
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cited > 30, "only {cited} docs/….md § citations found");
}

/// The modules `src/lib.rs` declares.
fn declared_modules() -> Vec<String> {
    repo_file("src/lib.rs")
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}

#[test]
fn the_module_maps_name_every_module() {
    let modules = declared_modules();
    assert!(modules.len() > 15, "{modules:?}");
    let doc = repo_file("docs/architecture.md");
    let start = doc
        .find("\n## 3. Module map")
        .expect("docs/architecture.md has a section `## 3. Module map`");
    let map = &doc[start + 1..];
    let map = &map[..map[1..].find("\n## ").map_or(map.len(), |e| e + 1)];
    let lib_doc: String = repo_file("src/lib.rs")
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for m in &modules {
        if !map.contains(&format!("`src/{m}.rs`")) && !map.contains(&format!("`src/{m}/")) {
            missing.push(format!("docs/architecture.md §3 does not list src/{m}"));
        }
        if !lib_doc.contains(&format!("`{m}`")) {
            missing.push(format!("the module map in src/lib.rs does not name `{m}`"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
