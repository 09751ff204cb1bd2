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
