//! `eval_every`: the test set measured every N steps between epochs' ends.
//! The measurements must not touch training (the weights and every loss
//! are the bits of a run without them), fall on multiples of N and never
//! on an epoch's last step (its end measures it), and survive a save and
//! resume inside an epoch.

mod common;

use descent_core::Compute;
use descent_optim::OptimizerKind;
use descent_train::data::{Mnist, Normalize};
use descent_train::{RunConfig, Trainer};

fn cfg(kind: OptimizerKind, eval_every: Option<u64>) -> RunConfig {
    RunConfig {
        optimizer: kind,
        batch_size: 16,
        hidden: vec![24],
        epochs: 3,
        eval_batch_size: 50,
        eval_every,
        ..RunConfig::default()
    }
}

#[test]
fn evaluations_between_epochs_leave_training_alone() {
    let dir = tempfile::tempdir().unwrap();
    // 200 examples in batches of 16: 13 steps an epoch, 39 in all.
    common::write_set(dir.path(), 200, 100, 8, 8, false);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    for kind in [OptimizerKind::Adam, OptimizerKind::ScheduleFreeAdamw] {
        let mut plain = Trainer::new(cfg(kind, None), &data, Compute::threads(1)).unwrap();
        plain.run(&mut []).unwrap();
        let mut every = Trainer::new(cfg(kind, Some(5)), &data, Compute::threads(2)).unwrap();
        every.run(&mut []).unwrap();
        assert_eq!(plain.net.params(), every.net.params(), "{kind}");
        let losses = |t: &Trainer| {
            t.history
                .steps
                .iter()
                .map(|s| s.loss.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(&plain), losses(&every), "{kind}");
        assert!(plain.history.evals.is_empty());
        let steps: Vec<u64> = every.history.evals.iter().map(|e| e.step).collect();
        // Multiples of 5 up to 39, but 13, 26 and 39 end epochs (none is a
        // multiple of 5 here, so all seven stay).
        assert_eq!(steps, [5, 10, 15, 20, 25, 30, 35], "{kind}");
        for e in &every.history.evals {
            let s = &every.history.steps[e.step as usize - 1];
            assert_eq!((e.examples, e.seconds), (s.examples, s.seconds));
            assert!((0.0..=1.0).contains(&e.test_accuracy));
        }
        // The merged measurements, in step order, epochs' ends included.
        let points: Vec<u64> = every
            .history
            .accuracy_points()
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(points, [5, 10, 13, 15, 20, 25, 26, 30, 35, 39]);
    }
    // An evaluation due on an epoch's last step is the epoch's own.
    let mut t = Trainer::new(
        cfg(OptimizerKind::Sgd, Some(13)),
        &data,
        Compute::threads(1),
    )
    .unwrap();
    t.run(&mut []).unwrap();
    assert!(t.history.evals.is_empty(), "{:?}", t.history.evals);
}

#[test]
fn evaluations_survive_a_resume_inside_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 200, 100, 8, 8, false);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    let ck = dir.path().join("ck.safetensors");
    // Stopped through the trainer's flag after step 20 (7 steps into the
    // second epoch), saved, resumed to the end.
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    struct StopAt(u64);
    impl descent_train::Observer for StopAt {
        fn step(
            &mut self,
            _t: &Trainer<'_>,
            rec: &descent_train::metrics::StepRecord,
        ) -> Result<(), descent_train::TrainError> {
            if rec.step == self.0 {
                STOP.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
    }
    let mut stopped = Trainer::new(
        cfg(OptimizerKind::Adam, Some(4)),
        &data,
        Compute::threads(1),
    )
    .unwrap();
    stopped.stop = Some(&STOP);
    let err = stopped.run(&mut [&mut StopAt(20)]).unwrap_err();
    assert!(
        matches!(err, descent_train::TrainError::Interrupted { step: 20, .. }),
        "{err}"
    );
    assert_eq!(stopped.progress.steps_done, 7);
    stopped.save(&ck).unwrap();
    let mut resumed = Trainer::resume(&ck, &data, 3, None, &Compute::threads(1), false).unwrap();
    assert_eq!(resumed.history.evals, stopped.history.evals);
    resumed.run(&mut []).unwrap();
    let mut uninterrupted = Trainer::new(
        cfg(OptimizerKind::Adam, Some(4)),
        &data,
        Compute::threads(1),
    )
    .unwrap();
    uninterrupted.run(&mut []).unwrap();
    assert_eq!(resumed.net.params(), uninterrupted.net.params());
    let strip = |t: &Trainer| {
        t.history
            .evals
            .iter()
            .map(|e| {
                (
                    e.step,
                    e.examples,
                    e.test_loss.to_bits(),
                    e.test_accuracy.to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&resumed), strip(&uninterrupted));
    let epochs = |t: &Trainer| {
        t.history
            .epochs
            .iter()
            .map(|e| (e.step, e.train_loss.to_bits(), e.test_loss.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(epochs(&resumed), epochs(&uninterrupted));
}
