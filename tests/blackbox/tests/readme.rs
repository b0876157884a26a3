//! The README runs as written: its shell blocks (fences ```` ```sh ```` and ```` ```bash ````),
//! in order, in one bash with `set -euo pipefail`, against a fresh kosh on SQLite and on
//! PostgreSQL, each `curl` with `--fail-with-body`. Any failing command fails the test.
//!
//! The README is written for a newcomer with `kosh serve` on `localhost:8080` in `./kosh-data`;
//! the test gives the blocks that situation without editing them beyond the address:
//! - they run in a scratch folder whose `kosh-data` is the test server's data folder (with
//!   the administrator's password in `kosh-data/admin-password`, where kosh keeps a
//!   generated one) and whose `bench` is the repository's;
//! - `localhost:8080` becomes the test server's address;
//! - `cargo run --release -- <command>` runs the built `kosh` binary with the server's
//!   database settings (`KOSH_DATABASE_URL` on PostgreSQL, `KOSH_LISTEN` for the sandbox).
//!
//! What follows the fence's `sh` says how to treat a block the test cannot run as it stands:
//! `skip-test` is not run (it starts kosh, or the test suite); `restart` restarts the server
//! on the same address with the block's `KOSH_*` variables, and the blocks after it run in a
//! new bash ("another shell"); `needs=<tool>` is skipped, with a note, when the tool is not
//! installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use kosh_blackbox::{ADMIN_PASSWORD, Backend, Kosh, on_both_databases};

on_both_databases!(readme_runs_as_written);

/// One fenced shell block of the README.
#[derive(Debug)]
struct Block {
    /// The line of its opening fence.
    line: usize,
    /// The words after `sh`/`bash` in the fence.
    flags: Vec<String>,
    text: String,
}

impl Block {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn needs(&self) -> Vec<&str> {
        self.flags
            .iter()
            .filter_map(|f| f.strip_prefix("needs="))
            .collect()
    }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository folder")
}

fn shell_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut other_fence = false;
    for (index, line) in readme.lines().enumerate() {
        let trimmed = line.trim_end();
        if let Some(block) = open.as_mut() {
            if trimmed == "```" {
                blocks.push(open.take().expect("open block"));
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if other_fence {
            if trimmed == "```" {
                other_fence = false;
            }
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let mut words = info.split_whitespace();
            match words.next() {
                Some("sh" | "bash") => {
                    open = Some(Block {
                        line: index + 1,
                        flags: words.map(str::to_string).collect(),
                        text: String::new(),
                    })
                }
                _ => other_fence = true,
            }
        }
    }
    assert!(open.is_none(), "README.md ends inside a shell block");
    blocks
}

/// The `kosh` binary of this workspace, built (or brought up to date) by cargo first.
fn kosh_binary() -> PathBuf {
    if let Ok(path) = std::env::var("KOSH_BIN") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "kosh-server", "--bin", "kosh"])
        .current_dir(repository())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the kosh binary failed");
    // target/<profile>/deps/<this test> -> target/<profile>/kosh
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile folder");
    let bin = profile_dir.join(format!("kosh{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

fn installed(tool: &str) -> bool {
    Command::new("bash")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

const PRELUDE: &str = r#"set -euo pipefail
set -E
trap 'echo "readme test: exit status $? at the README.md block of line ${README_LINE:-?}: $BASH_COMMAND" >&2' ERR
curl() { command curl --fail-with-body --show-error "$@"; }
cargo() {
  if [ "$#" -ge 3 ] && [ "$1" = run ] && [ "$2" = --release ] && [ "$3" = -- ]; then
    shift 3
    "$KOSH_BIN" "$@"
  else
    echo "readme test: only 'cargo run --release -- <command>' is understood, not: cargo $*" >&2
    return 1
  fi
}
"#;

/// Runs `blocks` in one new bash in `scratch`; panics with the output when it fails.
async fn run_shell(kosh: &Kosh, bin: &Path, scratch: &Path, shell: usize, blocks: &[&Block]) {
    let address = kosh.base.trim_start_matches("http://").to_string();
    let mut script = String::from(PRELUDE);
    for block in blocks {
        script.push_str(&format!(
            "\nREADME_LINE={line}\necho \"=== README.md line {line}\" >&2\n",
            line = block.line
        ));
        script.push_str(&block.text.replace("localhost:8080", &address));
    }
    let path = scratch.join(format!("readme-shell-{shell}.sh"));
    std::fs::write(&path, &script).expect("script");
    let mut command = tokio::process::Command::new("bash");
    for (key, _) in std::env::vars() {
        if key.starts_with("KOSH_") {
            command.env_remove(key);
        }
    }
    command
        .arg(&path)
        .current_dir(scratch)
        .env("KOSH_BIN", bin)
        .env("KOSH_LISTEN", &address);
    if let Some(url) = &kosh.settings().database_url {
        command.env("KOSH_DATABASE_URL", url);
    }
    let output = command.output().await.expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- shell {shell} ({:?}) stdout:\n{stdout}", kosh.backend);
    println!("--- shell {shell} stderr:\n{stderr}");
    assert!(
        output.status.success(),
        "the README's blocks failed in shell {shell} on {:?} ({}); the end of stderr:\n{}",
        kosh.backend,
        output.status,
        tail(&stderr, 4000)
    );
}

fn tail(text: &str, chars: usize) -> &str {
    let count = text.chars().count();
    if count <= chars {
        return text;
    }
    let (at, _) = text.char_indices().nth(count - chars).expect("index");
    &text[at..]
}

/// The server's settings as a `restart` block names them (`KOSH_X=value` before the command).
fn restart_settings(block: &Block, scratch: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for word in block.text.split_whitespace() {
        if let Some((key, value)) = word.split_once('=')
            && key.starts_with("KOSH_")
        {
            found.push((key.to_string(), value.to_string()));
        }
    }
    assert!(
        !found.is_empty(),
        "the restart block of README.md line {} names no KOSH_ setting",
        block.line
    );
    for (_, value) in found.iter_mut() {
        // Paths are the scratch folder's, as for the reader's shell.
        if !value.starts_with('/') {
            *value = value
                .split(',')
                .map(|part| scratch.join(part).display().to_string())
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    found
}

async fn readme_runs_as_written(backend: Backend) {
    let repo = repository();
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    let blocks = shell_blocks(&readme);
    assert!(blocks.len() >= 10, "too few shell blocks found: {blocks:?}");
    let skipped: Vec<usize> = blocks
        .iter()
        .filter(|b| b.has("skip-test"))
        .map(|b| b.line)
        .collect();
    assert!(
        skipped.len() <= 3,
        "keep the README's untested blocks few: skip-test at lines {skipped:?}"
    );
    for block in &blocks {
        for flag in &block.flags {
            assert!(
                flag == "skip-test" || flag == "restart" || flag.starts_with("needs="),
                "README.md line {}: unknown block flag {flag}",
                block.line
            );
        }
    }

    let bin = kosh_binary();
    let mut kosh = Kosh::start(backend).await;
    let scratch =
        std::env::temp_dir().join(format!("kosh-readme-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    let data_dir = kosh.settings().data_dir.clone();
    std::fs::write(data_dir.join("admin-password"), ADMIN_PASSWORD).expect("admin-password");
    std::os::unix::fs::symlink(&data_dir, scratch.join("kosh-data")).expect("kosh-data link");
    std::os::unix::fs::symlink(repo.join("bench"), scratch.join("bench")).expect("bench link");

    let mut shell = 1;
    let mut pending: Vec<&Block> = Vec::new();
    for block in &blocks {
        if block.has("skip-test") {
            continue;
        }
        if let Some(tool) = block.needs().into_iter().find(|tool| !installed(tool)) {
            println!(
                "SKIPPED: the README.md block of line {} needs {tool}, which is not installed",
                block.line
            );
            continue;
        }
        if block.has("restart") {
            run_shell(&kosh, &bin, &scratch, shell, &pending).await;
            pending.clear();
            shell += 1;
            let settings = restart_settings(block, &scratch);
            let addr: std::net::SocketAddr = kosh
                .base
                .trim_start_matches("http://")
                .parse()
                .expect("address");
            kosh = kosh
                .restart_with(|s| {
                    s.listen = addr;
                    for (key, value) in settings {
                        match key.as_str() {
                            "KOSH_BBPS_SIGNING_KEY" => s.bbps_signing_key = Some(value.into()),
                            "KOSH_BBPS_PEER_CERTS" => {
                                s.bbps_peer_certs = value.split(',').map(PathBuf::from).collect()
                            }
                            other => panic!(
                                "README.md line {}: readme.rs does not know the setting {other}",
                                block.line
                            ),
                        }
                    }
                })
                .await;
            continue;
        }
        pending.push(block);
    }
    run_shell(&kosh, &bin, &scratch, shell, &pending).await;
    kosh.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
}
