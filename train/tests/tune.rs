//! `--tune-lr` scores on a validation split of the training set: the lr it
//! chooses is the grid point with the lowest validation loss, and the test
//! set is never read (a test set of NaNs would make every score NaN).

mod common;

use descent_core::Compute;
use descent_optim::OptimizerKind;
use descent_train::data::{Mnist, Normalize};
use descent_train::RunConfig;

use descent_train::tune::{grid, tune, tuning_data, Budget, PerPoint};

#[test]
fn tuning_picks_the_best_validation_loss_and_never_reads_the_test_set() {
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 600, 100, 8, 8, false);
    let mut data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    // Poison the test set: any loss computed on it is NaN.
    data.test
        .images_mut()
        .iter_mut()
        .for_each(|v| *v = f32::NAN);
    let plan = plan(&[
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::RandomSearch,
    ]);
    let tuning = tuning_data(&data, 150);
    assert_eq!((tuning.train.len(), tuning.test.len()), (450, 150));
    let budget = Budget {
        points: 5,
        per_point: PerPoint::Epochs(1),
    };
    let mut reported = 0;
    let tuned = tune(
        &plan,
        &tuning,
        budget,
        &Compute::serial(),
        &mut |_, _, _| reported += 1,
    )
    .unwrap();
    assert_eq!(reported, 10, "5 grid points each for sgd and adam");
    // The random searches have no lr to tune.
    let labels: Vec<&str> = tuned.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["sgd", "adam"]);
    for t in &tuned {
        let kind: OptimizerKind = t.label.parse().unwrap();
        let lrs: Vec<f32> = t.grid.iter().map(|g| g.0).collect();
        assert_eq!(lrs, grid(kind.default_lr(), 5));
        // Every score is a real loss: the poisoned test set was not used.
        assert!(
            t.grid.iter().all(|g| g.1.is_some_and(f32::is_finite)),
            "{t:?}"
        );
        let best = t
            .grid
            .iter()
            .min_by(|a, b| a.1.unwrap().total_cmp(&b.1.unwrap()))
            .unwrap();
        assert_eq!(t.best, best.0, "{t:?}");
    }
}

/// The budget's three units: an epoch of 450 examples in batches of 32 is
/// 15 steps; 100 examples are 4 steps; full-batch gd takes one step an
/// epoch under epochs and examples, and the steps asked for under steps.
#[test]
fn the_budget_counts_epochs_examples_or_steps() {
    assert_eq!(PerPoint::Epochs(2).steps(32, 15), 30);
    assert_eq!(PerPoint::Examples(100).steps(32, 15), 4);
    assert_eq!(PerPoint::Examples(450).steps(450, 1), 1);
    assert_eq!(PerPoint::Steps(7).steps(450, 1), 7);
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 600, 100, 8, 8, false);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    let tuning = tuning_data(&data, 150);
    let plan = plan(&[OptimizerKind::Gd, OptimizerKind::Sgd]);
    for (per_point, want) in [
        (PerPoint::Epochs(1), [1, 15]),
        (PerPoint::Examples(900), [2, 29]),
        (PerPoint::Steps(6), [6, 6]),
    ] {
        let budget = Budget {
            points: 2,
            per_point,
        };
        let tuned = tune(
            &plan,
            &tuning,
            budget,
            &Compute::serial(),
            &mut |_, _, _| {},
        )
        .unwrap();
        let steps: Vec<u64> = tuned.iter().map(|t| t.steps).collect();
        assert_eq!(steps, want, "{per_point}");
    }
}

/// One run of each optimizer, labelled by its name: a 16-wide hidden
/// layer, batches of 32.
fn plan(kinds: &[OptimizerKind]) -> Vec<(String, RunConfig)> {
    kinds
        .iter()
        .map(|&k| {
            let cfg = RunConfig {
                optimizer: k,
                hidden: vec![16],
                batch_size: 32,
                ..RunConfig::default()
            };
            (k.to_string(), cfg)
        })
        .collect()
}
