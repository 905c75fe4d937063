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

/// `train --save` stopped by SIGINT or SIGTERM at many moments, then
/// resumed: every time the run stops after a whole step with exit code 130
/// (143), says where it saved, and the resumed run ends with the same
/// weights and optimizer state, bit for bit, as a run never stopped.
#[test]
fn a_signal_stops_train_after_a_step_and_the_resume_is_exact() {
    use std::os::unix::process::ExitStatusExt;
    let data = tempfile::tempdir().unwrap();
    // 2048 examples in batches of 4: 512 steps an epoch, six epochs.
    common::write_set(data.path(), 2048, 64, 8, 8, false);
    let out = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_descent");
    let base = [
        "train",
        "--data",
        data.path().to_str().unwrap(),
        "--optimizer",
        "adam",
        "--hidden",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        "6",
        "--threads",
        "1",
        "--quiet",
    ];
    let full = out.path().join("full.safetensors");
    let status = Command::new(bin)
        .args(base)
        .args(["--save", full.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let want = load_checkpoint(&full).unwrap();
    let start = Instant::now();
    let full_secs = {
        Command::new(bin)
            .args(base)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        start.elapsed()
    };
    let mut stopped = 0;
    for i in 0..6u32 {
        let ck = out.path().join(format!("run{i}.safetensors"));
        let ck_s = ck.to_str().unwrap();
        let signal = if i % 3 == 2 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let mut child = Command::new(bin)
            .args(base)
            .args(["--save", ck_s])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // From early in the first epoch to late in the run, once the
        // process is past its start (the header is printed).
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut header = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut header).unwrap();
        assert!(header.starts_with("descent train"), "{header}");
        std::thread::sleep(full_secs.mul_f64(0.05 + 0.15 * i as f64));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let res = child.wait_with_output().unwrap();
        drop(stdout);
        let err = String::from_utf8_lossy(&res.stderr);
        if res.status.success() {
            continue; // it finished before the signal
        }
        stopped += 1;
        let code = if signal == libc::SIGINT { 130 } else { 143 };
        assert_eq!(
            res.status.code(),
            Some(code),
            "trial {i}: {:?} {err}",
            res.status.signal()
        );
        assert!(err.contains(&format!("saved {ck_s}")), "trial {i}: {err}");
        let status = Command::new(bin)
            .args(base)
            .args(["--resume", ck_s, "--save", ck_s])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "trial {i}: the resume failed");
        let got = load_checkpoint(&ck).unwrap();
        assert_eq!(
            got.tensors, want.tensors,
            "trial {i}: the resumed run differs"
        );
        assert_eq!(got.metadata["step"], want.metadata["step"]);
    }
    assert!(
        stopped >= 3,
        "only {stopped} of 6 signals arrived during the run ({full_secs:?})"
    );
    println!("{stopped} of 6 runs stopped by a signal and resumed exactly ({full_secs:?} a run)");
}

/// A second SIGINT does not wait: the first asks for a stop after the step
/// and a save; the second, sent while those run, ends the process at once
/// (killed by the signal), and the checkpoint on disk is whole.
#[test]
fn a_second_sigint_ends_train_at_once() {
    use std::os::unix::process::ExitStatusExt;
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 64, 16, 8, 8, false);
    let out = tempfile::tempdir().unwrap();
    let ck = out.path().join("ck.safetensors");
    let bin = env!("CARGO_BIN_EXE_descent");
    // One step an epoch on a wide net with Adam: each step and each save
    // (~100 MB: weights and two state buffers) takes tens of milliseconds.
    let mut child = Command::new(bin)
        .args([
            "train",
            "--data",
            data.path().to_str().unwrap(),
            "--optimizer",
            "adam",
            "--hidden",
            "2048,2048",
            "--batch-size",
            "64",
            "--eval-batch-size",
            "16",
            "--epochs",
            "100000",
            "--threads",
            "1",
            "--quiet",
            "--save",
            ck.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Training, with its handler installed, once the first save is there.
    let start = Instant::now();
    while !ck.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGINT) };
    // The second signal must come after the first was handled (two
    // pending SIGINTs are one) and before the stop's step and save end.
    // A fixed sleep lost that race on a loaded machine (the sleeper woke
    // after the child had saved and exited 130). The handler restores
    // SIGINT's default action, which Linux shows at once as SIGINT no
    // longer caught in /proc/PID/status; elsewhere, a short sleep.
    let status_file = format!("/proc/{pid}/status");
    if std::path::Path::new("/proc/self/status").exists() {
        let caught = || {
            let text = std::fs::read_to_string(&status_file).ok()?;
            let line = text.lines().find(|l| l.starts_with("SigCgt:"))?;
            let mask = u64::from_str_radix(line["SigCgt:".len()..].trim(), 16).ok()?;
            Some(mask & (1 << (libc::SIGINT - 1)) != 0)
        };
        let start = Instant::now();
        while caught() == Some(true) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "SIGINT never handled"
            );
            std::hint::spin_loop();
        }
    } else {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    load_checkpoint(&ck).expect("the checkpoint on disk is whole");
}
