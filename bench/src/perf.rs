//! A whole-machine profile of one timed phase: `perf record -a` with DWARF call graphs (kosh,
//! the database and the load generator share the machine), stopped with SIGINT when the
//! phase ends. `bench/perf-summary.py` turns each file into a report.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct Recording {
    child: std::process::Child,
    path: PathBuf,
}

impl Recording {
    pub fn start(path: &Path) -> anyhow::Result<Recording> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let child = std::process::Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "99",
                "-a",
                "--call-graph",
                "dwarf,8192",
                "-o",
            ])
            .arg(path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting perf record")?;
        Ok(Recording {
            child,
            path: path.to_path_buf(),
        })
    }

    /// Stops the recording and returns its file.
    pub fn stop(self) -> PathBuf {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait_with_output();
        self.path
    }
}
