//! At a few rows a step the trainer lets the optimizer make the gradient
//! from its factors instead of storing it (`Trainer::factored_grads`). Over
//! 200 steps that path must leave the weights, the optimizer's state and
//! every loss the bits the stored-gradient path leaves, at batch 1, 3 and
//! 64 (64 always stores), with and without clipping at work, on one thread
//! and two. At batch 1 the update also forms the next forward's first-layer
//! products (`Trainer::lookahead`): the same bits with it and without. The logged gradient norm is computed from the factors then:
//! within 1e-5 of the stored gradient's.
//!
//! At batch 64, plain SGD steps each weight inside the GEMM that makes its
//! gradient instead (`Trainer::descend`): the same bits again, the norm
//! summed by the GEMM's tiles within 1e-5, and declined (stored) where
//! clipping might act.

mod common;

use descent_core::Compute;
use descent_optim::{Hyper, OptimizerKind};
use descent_train::data::{Mnist, Normalize};
use descent_train::{RunConfig, Trainer};

fn run(
    data: &Mnist,
    kind: OptimizerKind,
    batch: usize,
    clip: Option<f32>,
    factored: bool,
    threads: usize,
) -> Trainer<'_> {
    let mut t = trainer(data, kind, batch, clip, factored);
    t.cx = Compute::threads(threads);
    t.run(&mut []).unwrap();
    assert_eq!(t.step, 200);
    t
}

/// The run of `run`, not started, on one thread.
fn trainer(
    data: &Mnist,
    kind: OptimizerKind,
    batch: usize,
    clip: Option<f32>,
    factored: bool,
) -> Trainer<'_> {
    let cfg = RunConfig {
        optimizer: kind,
        hyper: Hyper {
            lr: Some(0.01),
            ..Hyper::default()
        },
        batch_size: batch,
        hidden: vec![24, 12],
        epochs: 100,
        max_steps: Some(200),
        clip_norm: clip,
        ..RunConfig::default()
    };
    let mut t = Trainer::new(cfg, data, Compute::serial()).unwrap();
    // `factored`: every fused path (factors at a few rows, the weights
    // stepped in their GEMMs at more); off, the gradient is always stored.
    t.factored_grads = factored;
    t.descend = factored;
    t
}

fn same(a: &Trainer, b: &Trainer, what: &str) {
    let bits = |t: &Trainer| {
        t.net
            .params()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(a), bits(b), "{what}: weights");
    let state = |t: &Trainer| match &t.updater {
        descent_optim::Updater::Grad(o) => o.export_state(),
        _ => unreachable!(),
    };
    assert_eq!(state(a), state(b), "{what}: optimizer state");
    for (x, y) in a.history.steps.iter().zip(&b.history.steps) {
        assert_eq!(
            x.loss.to_bits(),
            y.loss.to_bits(),
            "{what}: step {}",
            x.step
        );
        let rel = (x.grad_norm - y.grad_norm).abs() / y.grad_norm.max(1e-30);
        assert!(
            rel <= 1e-5,
            "{what}: step {} norm {} vs {}",
            x.step,
            x.grad_norm,
            y.grad_norm
        );
    }
}

#[test]
fn the_factored_gradient_path_is_the_stored_one_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 300, 40, 28, 28, false);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adam,
    ] {
        for batch in [1, 3, 64] {
            // No clipping, and a threshold at the 95th percentile of the
            // unclipped run's norms, which some steps cross (the optimizer
            // then declines and the gradient is stored).
            let mut norms: Vec<f32> = run(&data, kind, batch, None, false, 1)
                .history
                .steps
                .iter()
                .map(|s| s.grad_norm)
                .collect();
            norms.sort_by(f32::total_cmp);
            for clip in [None, Some(norms[190])] {
                let stored = run(&data, kind, batch, clip, false, 1);
                assert_eq!(stored.factored_steps + stored.descended_steps, 0);
                let what = format!("{} batch {batch} clip {clip:?}", kind.as_str());
                let one = run(&data, kind, batch, clip, true, 1);
                same(&one, &stored, &what);
                let two = run(&data, kind, batch, clip, true, 2);
                same(&two, &stored, &format!("{what}, 2 threads"));
                assert_eq!(one.factored_steps, two.factored_steps);
                assert_eq!(one.descended_steps, two.descended_steps);
                // Plain SGD at batch 64 steps its weights in their GEMMs,
                // every step without clipping; with it, only where the
                // norm's bound (≥ the norm) stays below the threshold.
                // Momentum does from its second step (the first sets the
                // buffer to g, which the GEMM's store does not).
                let d = one.descended_steps;
                let sgd = kind == OptimizerKind::Sgd;
                let momentum = matches!(kind, OptimizerKind::Momentum | OptimizerKind::Nesterov);
                match (batch, clip) {
                    (64, None) if sgd => assert_eq!(d, 200, "{what}"),
                    (64, None) if momentum => assert_eq!(d, 199, "{what}"),
                    (64, Some(_)) if sgd || momentum => {
                        assert!(d < 199, "{what}: {d} descended")
                    }
                    _ => assert_eq!(d, 0, "{what}"),
                }
                // Every step factored without clipping; with it, only the
                // steps whose norm stays clear of the threshold.
                let f = one.factored_steps;
                match (batch, clip) {
                    (64, _) => assert_eq!(f, 0, "{what}"),
                    // Adam stores its gradient (it is not faster factored).
                    _ if kind == OptimizerKind::Adam => assert_eq!(f, 0, "{what}"),
                    (_, None) => assert_eq!(f, 200, "{what}"),
                    (_, Some(_)) => assert!(0 < f && f < 200, "{what}: {f} factored"),
                }
                // At batch 1 every factored update but the last formed the
                // next forward's first-layer products, and that forward
                // used them (the 200 steps stay inside the 300-row epoch);
                // the same run without the lookahead is the same bits.
                let ahead = one.net.ahead_forwards();
                if batch == 1 && f > 0 {
                    assert!(ahead + 1 >= f && ahead < 200, "{what}: {ahead} of {f}");
                    let mut t = trainer(&data, kind, batch, clip, true);
                    t.lookahead = false;
                    t.run(&mut []).unwrap();
                    assert_eq!(t.net.ahead_forwards(), 0);
                    same(&t, &stored, &format!("{what}, no lookahead"));
                } else {
                    assert_eq!(ahead, 0, "{what}");
                }
            }
        }
    }
}
