//! The trainer's threads live as long as the trainer: a run that ends
//! early, by `max_steps` or by diverging, leaves no thread behind. One test
//! in its own process, so that no other test's threads are counted.

mod common;

use descent_core::Compute;
use descent_optim::{Hyper, OptimizerKind};
use descent_train::data::{Mnist, Normalize};
use descent_train::{RunConfig, TrainError, Trainer};

/// This process's threads, from `/proc/self/status` (Linux).
fn threads_now() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn runs_that_end_early_leave_no_thread_behind() {
    let Some(before) = threads_now() else {
        eprintln!("no /proc/self/status: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 512, 64, 28, 28, false);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    // Stopped by max_steps.
    let cfg = RunConfig {
        optimizer: OptimizerKind::Adam,
        epochs: 3,
        max_steps: Some(5),
        ..RunConfig::default()
    };
    let mut t = Trainer::new(cfg, &data, Compute::threads(4)).unwrap();
    assert_eq!(threads_now(), Some(before + 3), "4 threads: 3 workers");
    t.run(&mut []).unwrap();
    assert_eq!(t.step, 5);
    drop(t);
    assert_eq!(threads_now(), Some(before), "after max_steps");
    // Stopped by divergence (an absurd lr makes the loss infinite).
    let cfg = RunConfig {
        optimizer: OptimizerKind::Sgd,
        hyper: Hyper {
            lr: Some(1e30),
            ..Hyper::default()
        },
        ..RunConfig::default()
    };
    let mut t = Trainer::new(cfg, &data, Compute::threads(3)).unwrap();
    let err = t.run(&mut []).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    drop(t);
    assert_eq!(threads_now(), Some(before), "after a divergence");
}
