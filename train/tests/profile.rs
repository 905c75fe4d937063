//! `profile::run` on a synthetic set: every phase the step runs is timed
//! and has a cost, and the phases add up to the step timed without probes.

mod common;

use descent_core::Compute;
use descent_nn::Phase;
use descent_optim::OptimizerKind;
use descent_train::data::{Mnist, Normalize};
use descent_train::profile::{self, ProfileOptions};
use descent_train::{RunConfig, Trainer};

fn set() -> (tempfile::TempDir, Mnist) {
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 1024, 200, 28, 28, false);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    (dir, data)
}

fn options(steps: usize) -> ProfileOptions {
    ProfileOptions {
        steps,
        warmup: 5,
        eval_reps: 1,
        roof_samples: 1,
        compare_matrixmultiply: false,
    }
}

#[test]
fn the_phases_add_up_to_the_step_within_ten_percent() {
    let (_dir, data) = set();
    let cfg = RunConfig {
        optimizer: OptimizerKind::Sgd,
        hidden: vec![256, 64],
        batch_size: 128,
        ..RunConfig::default()
    };
    let mut t = Trainer::new(cfg, &data, Compute::threads(1)).unwrap();
    let p = profile::run(&mut t, &options(120)).unwrap();
    // Nothing missed, nothing counted twice: the sum of the phases'
    // medians is the median of the step run without probes.
    let ratio = p.phase_median_sum_s / p.step.median;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "phases add up to {:.1} µs, the step takes {:.1} µs",
        p.phase_median_sum_s * 1e6,
        p.step.median * 1e6
    );
    // 784-256-64-10: gather, 3 forward, loss, 3 dW, 3 db, 2 dX, 2 relu′,
    // norm, update; each timed at every probed step.
    assert_eq!(p.phases.len(), 17);
    for r in &p.phases {
        assert_eq!(r.time.samples, 120, "{}", r.name);
        assert!(!r.name.contains("no cost model"), "{}", r.name);
        assert!(r.time.median > 0.0 && r.cost.bytes > 0.0, "{}", r.name);
    }
    assert_eq!(p.step.samples, 120);
    assert!(p.eval.time.median > 0.0 && p.eval.cost.flops > 0.0);
    // The epoch: 1024/128 = 8 steps and the evaluation.
    assert_eq!(p.epoch.steps, 8.0);
    assert!(p.epoch.floor_peak_s > 0.0 && p.epoch.floor_peak_s < p.epoch.measured_s);
    assert!(p.epoch.floor_roofline_s >= p.epoch.floor_peak_s * 0.999);
}

#[test]
fn unfused_activations_adam_and_threads_are_all_accounted_for() {
    let (_dir, data) = set();
    let cfg = RunConfig {
        optimizer: OptimizerKind::Adam,
        hidden: vec![32],
        activation: "tanh".into(),
        batch_size: 50,
        ..RunConfig::default()
    };
    let mut t = Trainer::new(cfg, &data, Compute::threads(2)).unwrap();
    let mut opts = options(10);
    opts.compare_matrixmultiply = true;
    let p = profile::run(&mut t, &opts).unwrap();
    let names: Vec<&str> = p.phases.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "gather",
            "forward 1",
            "tanh 1",
            "forward 2",
            "softmax-CE",
            "dW 2",
            "db 2",
            "dX 2",
            "tanh′ 1",
            "dW 1",
            "db 1",
            "grad norm",
            "update"
        ]
    );
    assert_eq!(p.roofs.threads, 2);
    // Adam's two moments: 4·P·(3 + 2·2) bytes.
    let update = p.phases.last().unwrap();
    assert_eq!(update.cost.bytes, 28.0 * p.params as f64);
    // Every GEMM, and nothing else, is compared with matrixmultiply.
    for r in &p.phases {
        let gemm = ["forward", "dW", "dX"]
            .iter()
            .any(|g| r.name.starts_with(g));
        assert_eq!(r.matrixmultiply.is_some(), gemm, "{}", r.name);
    }
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["phases"].as_array().unwrap().len(), 13);
    // The labels of Phase are what the report prints.
    assert_eq!(Phase::ActivationBackward(0).label("relu"), "relu′ 1");
}
