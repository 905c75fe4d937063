//! Running the real `descent` binary from the CLI's tests: the process, its
//! exit code and its output, as a user sees them.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `descent args…` and returns what it did.
pub fn descent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(args)
        .output()
        .expect("the descent binary runs")
}

/// Runs `descent args…`, which must succeed, and returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = descent(args);
    assert!(
        out.status.success(),
        "descent {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A path as a flag value.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
