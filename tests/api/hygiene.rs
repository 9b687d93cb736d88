//! The repository stands alone: no file in it names a path outside it.
//!
//! A clone holds this repository and nothing else, so a link to a sibling folder, an absolute
//! path on a developer's machine, or a citation of a document that lives elsewhere is a dead
//! reference for everyone else. The contract is `docs/contract.md`; cite that.
//!
//! The files checked are the ones `git ls-files` lists: tracked, plus untracked ones that are
//! not ignored (what the next commit could add), so a reference is caught before it lands.
//! Lock files and binary files are skipped. The patterns are spelt in pieces below, so this
//! file passes its own check.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// How a rule recognises a reference in one line of a file.
enum Matcher {
    /// The text occurs in the line, as written.
    Literal(&'static str),
    /// A relative path with `../` in it that, resolved from the file's own directory, climbs
    /// above the repository's root.
    ClimbsOut,
}

/// One rule: how to recognise the reference, and what is wrong with it.
struct Rule {
    matcher: Matcher,
    message: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        matcher: Matcher::ClimbsOut,
        message: "a relative path that climbs out of the repository: a clone has nothing there",
    },
    Rule {
        matcher: Matcher::Literal(concat!("..", "/shared")),
        message: "the shared folder beside the repository: a clone has none",
    },
    Rule {
        matcher: Matcher::Literal(concat!("/wo", "rk/")),
        message: "an absolute path on the developer's machine",
    },
    Rule {
        matcher: Matcher::Literal(concat!("SP", "EC.md")),
        message: "a requirement document that is not in the repository: cite docs/contract.md",
    },
    Rule {
        matcher: Matcher::Literal(concat!("SP", "EC §")),
        message: "a section of a document the repository does not hold: cite docs/contract.md's section",
    },
];

/// Files whose content is generated, not written: never references.
const SKIPPED_NAMES: &[&str] = &["Cargo.lock", "package-lock.json"];

/// The messages of every rule that `line` of `file` (a path relative to the repository's
/// root) breaks.
fn broken_rules(file: &Path, line: &str) -> Vec<&'static str> {
    RULES
        .iter()
        .filter(|rule| match rule.matcher {
            Matcher::Literal(text) => line.contains(text),
            Matcher::ClimbsOut => climbs_out(file, line),
        })
        .map(|rule| rule.message)
        .collect()
}

/// Characters a path written in text is made of.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-' | '~' | '[' | ']' | '@' | '+')
}

/// Whether some `../` path in `line` leaves the repository when resolved from the directory
/// of `file`. A path that starts with `/` (an absolute path, a URL's, or one appended to an
/// expression such as `$(dirname "$0")/..`) has no base here to resolve it from.
fn climbs_out(file: &Path, line: &str) -> bool {
    let depth_of_dir = file.parent().map_or(0, |dir| {
        dir.components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count()
    });
    line.match_indices("../").any(|(at, _)| {
        let start = line[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_path_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let end = line[at..]
            .char_indices()
            .find(|(_, c)| !is_path_char(*c))
            .map_or(line.len(), |(i, _)| at + i);
        let path = &line[start..end];
        if path.starts_with('/') {
            return false;
        }
        let mut depth = depth_of_dir as i64;
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    depth -= 1;
                    if depth < 0 {
                        return true;
                    }
                }
                _ => depth += 1,
            }
        }
        false
    })
}

/// The repository's files as `git ls-files` lists them (tracked, and untracked but not
/// ignored), relative to the root. `None` when this is not a git checkout (a source archive).
fn repository_files(root: &Path) -> Option<Vec<PathBuf>> {
    let output = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let mut files: Vec<PathBuf> = output
                .stdout
                .split(|b| *b == 0)
                .filter(|name| !name.is_empty())
                .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
                .collect();
            files.sort();
            files.dedup();
            Some(files)
        }
        _ => {
            assert!(
                !root.join(".git").exists(),
                "this is a git checkout, but `git ls-files` failed: {output:?}"
            );
            None
        }
    }
}

#[test]
fn no_file_names_a_path_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(files) = repository_files(root) else {
        eprintln!("SKIPPED: not a git checkout, so there is no list of the repository's files");
        return;
    };
    let mut checked = 0;
    let mut hits = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if SKIPPED_NAMES.contains(&name) {
            continue;
        }
        let bytes = match std::fs::read(root.join(file)) {
            Ok(bytes) => bytes,
            // Listed by the index but deleted in the working tree: nothing to read.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => panic!("cannot read {}: {error}", file.display()),
        };
        // Binary files (and any that is not UTF-8 text) hold no written references.
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if text.contains('\0') {
            continue;
        }
        checked += 1;
        for (number, line) in text.lines().enumerate() {
            for message in broken_rules(file, line) {
                hits.push(format!(
                    "{}:{}: {message}\n    {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} files were checked: is the list right?"
    );
    assert!(
        hits.is_empty(),
        "{} reference(s) to paths outside the repository:\n{}",
        hits.len(),
        hits.join("\n")
    );
}

#[test]
fn each_rule_catches_its_reference_and_lets_paths_inside_the_repository_pass() {
    let up = concat!("..", "/");
    let shared = concat!("..", "/shared/notes.md");
    let machine = concat!("/wo", "rk/main/README.md");
    let document = concat!("SP", "EC.md");
    let section = concat!("SP", "EC §2");
    let climbs = RULES[0].message;
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "README.md",
            format!("see [the notes]({shared})"),
            vec![climbs, RULES[1].message],
        ),
        (
            "README.md",
            format!("open {machine}"),
            vec![RULES[2].message],
        ),
        (
            "src/cli.rs",
            format!("//! the contract ({document})"),
            vec![RULES[3].message],
        ),
        (
            "src/handler.rs",
            format!("/// {section}, the responses"),
            vec![RULES[4].message],
        ),
        (
            "src/domain/email.rs",
            format!("include_str!(\"{up}{up}{up}elsewhere/table.json\")"),
            vec![climbs],
        ),
        (
            "docs/contract.md",
            format!("[the licence]({up}{up}LICENSE)"),
            vec![climbs],
        ),
        // Inside the repository: resolved from the file's own directory.
        (
            "src/domain/email.rs",
            format!("include_str!(\"{up}{up}tests/data/zod_emails.json\")"),
            vec![],
        ),
        (
            "benches/system.rs",
            format!("#[path = \"{up}tests/common/runtime_api.rs\"]"),
            vec![],
        ),
        (
            "docs/contract.md",
            format!("[the licence]({up}LICENSE)"),
            vec![],
        ),
        // Nothing to resolve from: an expression's directory, a URL.
        (
            "scripts/test",
            "cd \"$(dirname \"$0\")/..\"".to_owned(),
            vec![],
        ),
        (
            "scripts/test",
            format!("cd \"$(dirname \"$0\")/{up}{up}x\""),
            vec![],
        ),
        ("README.md", format!("https://example.com/a/{up}b"), vec![]),
        // Code that uses the temporary directory is not a reference.
        (
            "tests/common/mod.rs",
            "let dir = std::env::temp_dir();".to_owned(),
            vec![],
        ),
        (
            "README.md",
            "the contract is docs/contract.md".to_owned(),
            vec![],
        ),
    ];
    for (file, line, expected) in cases {
        assert_eq!(
            broken_rules(Path::new(file), &line),
            expected,
            "{file}: {line}"
        );
    }
}
