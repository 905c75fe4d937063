//! Gradient checks on small nets: every activation × both losses (and MSE
//! with real targets), in f32 against finite differences of the net
//! itself, and in f64 on the naive reference twin; plus the fast f32
//! gradients against the f64 twin's.

use descent_core::Compute;
use descent_nn::gradcheck::{reference_loss_and_grad, TensorCheck};
use descent_nn::{gradcheck, gradcheck_f64, Activation, Loss, Mlp, Targets};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 4] = [5, 7, 6, 3];
const BATCH: usize = 4;

struct Case {
    x: Vec<f32>,
    labels: Vec<u32>,
    values: Vec<f32>,
}

fn case(seed: u64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Case {
        x: (0..BATCH * SIZES[0])
            .map(|_| rng.random_range(-2.0f32..2.0))
            .collect(),
        labels: (0..BATCH)
            .map(|_| rng.random_range(0..SIZES[3] as u32))
            .collect(),
        values: (0..BATCH * SIZES[3])
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect(),
    }
}

/// Every (loss, targets) combination the nets support.
fn combos(c: &Case) -> [(Loss, Targets<'_>, &'static str); 3] {
    [
        (Loss::SoftmaxCrossEntropy, Targets::Labels(&c.labels), "ce"),
        (Loss::Mse, Targets::Labels(&c.labels), "mse-onehot"),
        (Loss::Mse, Targets::Values(&c.values), "mse-real"),
    ]
}

fn worst(checks: &[TensorCheck]) -> &TensorCheck {
    checks
        .iter()
        .max_by(|a, b| a.max_rel_err.total_cmp(&b.max_rel_err))
        .unwrap()
}

#[test]
fn f32_gradcheck_every_activation_and_loss() {
    // h = 3e-3 balances the f32 loss's rounding (~1e-7·|L| / 2h, which
    // grows as h shrinks: h = 1e-3 reaches 1.7e-2) against ReLU kinks that
    // a larger step straddles (h = 1e-2 crosses one here: 1.8e-1).
    // Measured worst over the 9 cases: 6.9e-3.
    let h = 3e-3f32;
    let c = case(1);
    for act in Activation::ALL {
        for (loss, targets, lname) in combos(&c) {
            let mut net = Mlp::new(&SIZES, act, 3).unwrap();
            let before = net.params().to_vec();
            let checks = gradcheck(&mut net, &c.x, loss, targets, h).unwrap();
            assert_eq!(net.params(), &before[..], "params restored");
            assert_eq!(checks.len(), 6);
            let w = worst(&checks);
            println!(
                "f32 {} {lname}: worst {:.2e} in {}",
                act.name(),
                w.max_rel_err,
                w.name
            );
            assert!(w.max_rel_err < 1e-2, "{} {lname} h={h}: {w:?}", act.name());
        }
    }
}

#[test]
fn f64_reference_gradcheck_every_activation_and_loss() {
    let h = 1e-5;
    let c = case(2);
    for act in Activation::ALL {
        for (loss, targets, lname) in combos(&c) {
            let net = Mlp::new(&SIZES, act, 4).unwrap();
            let checks = gradcheck_f64(&net, &c.x, loss, targets, h).unwrap();
            let w = worst(&checks);
            println!(
                "f64 {} {lname}: worst {:.2e} in {}",
                act.name(),
                w.max_rel_err,
                w.name
            );
            assert!(w.max_rel_err < 1e-6, "{} {lname} h={h}: {w:?}", act.name());
        }
    }
}

#[test]
fn fast_f32_gradients_match_the_f64_reference() {
    let c = case(3);
    for act in Activation::ALL {
        for (loss, targets, lname) in combos(&c) {
            let mut net = Mlp::new(&SIZES, act, 5).unwrap();
            net.zero_grad();
            let l32 = net
                .loss_and_backward_with(&Compute::serial(), &c.x, loss, targets)
                .unwrap();
            let p64: Vec<f64> = net.params().iter().map(|&p| p as f64).collect();
            let x64: Vec<f64> = c.x.iter().map(|&v| v as f64).collect();
            let (l64, g64) =
                reference_loss_and_grad(&SIZES, act, &p64, &x64, loss, targets).unwrap();
            assert!(
                (l32 as f64 - l64).abs() < 1e-5 * (1.0 + l64),
                "{lname} loss {l32} vs {l64}"
            );
            let gmax = g64.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            for (k, (&g, &r)) in net.grads().iter().zip(&g64).enumerate() {
                assert!(
                    (g as f64 - r).abs() <= 1e-5 * gmax,
                    "{} {lname} param {k}: {g} vs {r}",
                    act.name()
                );
            }
        }
    }
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // The check must be able to fail: corrupt the analytic side by running
    // it on a net whose gradient is computed for other labels.
    let c = case(4);
    let mut net = Mlp::new(&SIZES, Activation::Tanh, 6).unwrap();
    let good = gradcheck(
        &mut net,
        &c.x,
        Loss::SoftmaxCrossEntropy,
        Targets::Labels(&c.labels),
        1e-2,
    )
    .unwrap();
    assert!(worst(&good).max_rel_err < 1e-2);
    let p64: Vec<f64> = net.params().iter().map(|&p| p as f64).collect();
    let x64: Vec<f64> = c.x.iter().map(|&v| v as f64).collect();
    let other: Vec<u32> = c.labels.iter().map(|&l| (l + 1) % 3).collect();
    let (_, wrong) = reference_loss_and_grad(
        &SIZES,
        Activation::Tanh,
        &p64,
        &x64,
        Loss::SoftmaxCrossEntropy,
        Targets::Labels(&other),
    )
    .unwrap();
    let right: Vec<f64> = net.grads().iter().map(|&g| g as f64).collect();
    let max_rel = wrong
        .iter()
        .zip(&right)
        .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(1e-6))
        .fold(0.0f64, f64::max);
    assert!(max_rel > 0.5, "{max_rel}");
}
