//! The repository stands alone: no file in it sends the reader to the design and research
//! notes that were kept beside the checkout and are not part of the repository. A comment or
//! document states the rule itself and where DIGIT or BBPS has it (service, class, message).

use std::path::{Path, PathBuf};

/// The outside notes, by file name (spelled in pieces so that this file does not name them).
const OUTSIDE: &[&str] = &["DESIGN", "BEHAVIOUR", "NOTES", "STACK", "PEERS", "CLIENTS"];

/// Folders that are not the repository's text: build output, git's own files, local data.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    "kosh-data",
    ".schemathesis",
    "node_modules",
];

/// Lines that may keep their mention: comments of applied migrations, which are never
/// edited (sqlx refuses a database whose applied migration changed); `migrations/README.md`
/// says what each refers to. Matched by file and by the rest of the line.
const ALLOWED: &[(&str, &str)] = &[
    (
        "migrations/0001_platform.sql",
        "-- Portable SQL for SQLite and PostgreSQL alike (",
    ),
    (
        "migrations/0004_collection.sql",
        "-- A bill has at most one live payment (",
    ),
    (
        "migrations/0007_audit_chain.sql",
        "-- The chain head of each tenant: a counter row (no database sequence, ",
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                text_files(&path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

/// The outside note `line` names, if any: `<NAME>.md` in any letter case, not part of a
/// longer name (`RELEASE_NOTES.md` is someone else's).
fn outside_note(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    for name in OUTSIDE {
        let file = format!("{name}.md").to_ascii_lowercase();
        let mut from = 0;
        while let Some(at) = lower[from..].find(&file) {
            let start = from + at;
            let before = lower[..start].chars().next_back();
            let after = lower[start + file.len()..].chars().next();
            let joined =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || "_-".contains(c));
            if !joined(before) && !joined(after) {
                return Some(format!("{name}.md"));
            }
            from = start + file.len();
        }
    }
    None
}

#[test]
fn no_file_points_at_notes_outside_the_repository() {
    let root = root();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    assert!(
        files.len() > 100,
        "the walk found only {} files under {}",
        files.len(),
        root.display()
    );
    let this = Path::new(file!()).file_name().unwrap().to_owned();
    let mut found = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&root).unwrap_or(path);
        let relative = relative.to_string_lossy().replace('\\', "/");
        if relative == format!("tests/blackbox/tests/{}", this.to_string_lossy()) {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        // Binary files (and anything not UTF-8) are not read as text.
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let Some(note) = outside_note(line) else {
                continue;
            };
            let allowed = ALLOWED
                .iter()
                .any(|(file, rest)| relative == *file && line.starts_with(rest));
            if !allowed {
                found.push(format!("{relative}:{}: {note}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines send the reader to notes that are not in the repository; state the rule \
         and where DIGIT or BBPS has it (service, class, message) instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_mention_and_only_a_whole_name() {
    let note = |name: &str| format!("see {name}.md");
    assert_eq!(outside_note(&note("DESIGN")), Some("DESIGN.md".into()));
    assert_eq!(
        outside_note(&format!("({}.md §4.2)", "BEHAVIOUR")),
        Some("BEHAVIOUR.md".into())
    );
    assert_eq!(
        outside_note(&format!("`../shared/bbps/{}.md`", "notes")),
        Some("NOTES.md".into())
    );
    assert_eq!(outside_note(&format!("RELEASE_{}.md", "NOTES")), None);
    assert_eq!(outside_note(&format!("{}.mdx", "STACK")), None);
    assert_eq!(
        outside_note("BENCHMARKS.md, RELIABILITY.md, README.md"),
        None
    );
}
