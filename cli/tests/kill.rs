//! The trainer killed with SIGKILL at many moments, most of them while it is
//! writing a checkpoint (every epoch of this tiny set writes a ~5 MB file):
//! the checkpoint on disk must always load and resume.

#![cfg(unix)]

// The IDX builders live with the data reader's own tests.
#[path = "../../train/tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use descent_cli::checkpoint::load_checkpoint;

#[test]
fn sigkill_never_leaves_a_broken_checkpoint() {
    let data = tempfile::tempdir().unwrap();
    // One step per epoch (64 examples, batch 64) and a wide net with Adam
    // (three buffers per parameter): the run spends most of its time saving.
    common::write_set(data.path(), 64, 16, 8, 8, false);
    let out = tempfile::tempdir().unwrap();
    let ck = out.path().join("ck.safetensors");
    let bin = env!("CARGO_BIN_EXE_descent");
    let base = [
        "train",
        "--data",
        data.path().to_str().unwrap(),
        "--optimizer",
        "adam",
        "--hidden",
        "512,512",
        "--batch-size",
        "64",
        "--eval-batch-size",
        "16",
        "--quiet",
    ];
    let mut kills = 0;
    let mut kills_with_file = 0;
    let mut last_epoch = 0usize;
    for i in 0..40u64 {
        let mut child = Command::new(bin)
            .args(base)
            .args(["--epochs", "100000", "--save", ck.to_str().unwrap()])
            .args(if ck.exists() {
                vec!["--resume", ck.to_str().unwrap()]
            } else {
                vec![]
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over 40 different moments (startup, mid-epoch,
        // mid-write).
        let wait = Duration::from_millis(60 + (i * 37) % 400);
        let start = Instant::now();
        while start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        kills += 1;
        if ck.exists() {
            kills_with_file += 1;
            let c =
                load_checkpoint(&ck).unwrap_or_else(|e| panic!("kill {i}: checkpoint broken: {e}"));
            let epoch: usize = c.metadata["epoch"].parse().unwrap();
            assert!(
                epoch >= last_epoch,
                "kill {i}: epoch went back from {last_epoch} to {epoch}"
            );
            last_epoch = epoch;
        }
    }
    assert!(
        kills_with_file >= kills / 2,
        "only {kills_with_file} of {kills} kills found a checkpoint"
    );
    // The surviving checkpoint resumes for one more epoch.
    let status = Command::new(bin)
        .args(base)
        .args([
            "--epochs",
            &(last_epoch + 1).to_string(),
            "--resume",
            ck.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    println!("{kills} kills, {kills_with_file} with a checkpoint on disk, last epoch {last_epoch}");
}

#[test]
fn an_unwritable_save_directory_is_reported_before_training() {
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 64, 16, 8, 8, false);
    let out = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args([
            "train",
            "--data",
            data.path().to_str().unwrap(),
            "--quiet",
            "--save",
            "/nonexistent/dir/ck.safetensors",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/dir"), "{err}");
    assert!(out.stdout.is_empty(), "training started before the check");
}
