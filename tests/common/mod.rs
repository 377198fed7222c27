//! Helpers shared by the binary's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `probe` binary under test.
pub fn probe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_probe"))
}

/// Kernel tests run for real: they need root, and say so loudly instead of skipping.
pub fn require_root() {
    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test loads BPF programs into the kernel and must run as root (CI does)"
    );
}

/// Runs a command to completion, killing it after `limit`.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            child.kill().ok();
            let out = child.wait_with_output().expect("output");
            panic!(
                "timed out after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `probe` with `args` (30 s at most).
pub fn run_probe(args: &[&str]) -> Output {
    let mut cmd = probe();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(30))
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The golden files directory.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Names of the BPF programs loaded in the kernel right now.
pub fn loaded_program_names() -> Vec<String> {
    loaded_names("prog")
}

/// Names of the BPF maps loaded in the kernel right now.
pub fn loaded_map_names() -> Vec<String> {
    loaded_names("map")
}

/// Names of the BPF objects of `kind` (`prog`, `map`) that `bpftool KIND list` shows.
fn loaded_names(kind: &str) -> Vec<String> {
    let out = Command::new("bpftool")
        .args([kind, "list"])
        .output()
        .expect("bpftool is installed (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "name")
                .nth(1)
                .map(String::from)
        })
        .collect()
}
