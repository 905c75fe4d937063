//! The three library crates through the `descent` facade, as a user's
//! program would combine them: an MLP from `descent::nn`, an optimizer from
//! `descent::optim`, the kernels of `descent::tensor` underneath.

use descent::nn::{Activation, Mlp};
use descent::optim::{Hyper, Optimizer, OptimizerConfig, OptimizerKind};
use descent::tensor::Compute;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Two interleaved spirals are not linearly separable: a hidden layer must
/// learn the features. Returns (x: N × 2, labels).
fn spirals(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as u32;
        let t = rng.random_range(0.25f32..3.0);
        let angle = t * 2.5 + class as f32 * std::f32::consts::PI;
        x.push(t * angle.cos() + rng.random_range(-0.05..0.05));
        x.push(t * angle.sin() + rng.random_range(-0.05..0.05));
        y.push(class);
    }
    (x, y)
}

/// `kind` from the optimizer factory, as the trainer builds it.
fn gradient_optimizer(kind: OptimizerKind, h: &Hyper) -> Box<dyn Optimizer> {
    let cfg = OptimizerConfig::new(kind, h, None, 0).unwrap();
    cfg.build()
        .unwrap()
        .into_gradient()
        .expect("a gradient optimizer")
}

fn train(kind: OptimizerKind, lr: f32, epochs: usize) -> (f32, f32) {
    let (x, y) = spirals(256, 1);
    let mut net = Mlp::new(&[2, 32, 32, 2], Activation::Tanh, 7).unwrap();
    let mut opt = gradient_optimizer(
        kind,
        &Hyper {
            lr: Some(lr),
            ..Hyper::default()
        },
    );
    let batch = 32;
    let cx = Compute::serial();
    let mut first_loss = None;
    for _ in 0..epochs {
        for (xb, yb) in x.chunks(2 * batch).zip(y.chunks(batch)) {
            net.zero_grad();
            let loss = net.loss_and_backward(&cx, xb, yb).unwrap();
            first_loss.get_or_insert(loss);
            let (p, g) = net.params_and_grads();
            opt.step(&cx, p, g).unwrap();
        }
    }
    let (loss, acc) = net.evaluate(&cx, &x, &y, 64).unwrap();
    println!("{kind}: loss {first_loss:?} -> {loss}, accuracy {acc}");
    assert!(loss < first_loss.unwrap(), "{kind}: loss did not fall");
    (loss, acc)
}

#[test]
fn adam_and_momentum_learn_two_spirals_through_the_facade() {
    // Budgets stated: 300 epochs of 8 steps.
    let (loss, acc) = train(OptimizerKind::Adam, 0.01, 300);
    assert!(acc >= 0.97, "adam: accuracy {acc}, loss {loss}");
    let (loss, acc) = train(OptimizerKind::Momentum, 0.05, 300);
    assert!(acc >= 0.95, "momentum: accuracy {acc}, loss {loss}");
}

#[test]
fn optimizer_state_has_the_model_layout() {
    let mut net = Mlp::new(&[784, 128, 64, 10], Activation::Relu, 0).unwrap();
    let mut opt = gradient_optimizer(OptimizerKind::Adam, &Hyper::default());
    let x = vec![0.1f32; 3 * 784];
    net.zero_grad();
    let cx = Compute::threads(2);
    net.loss_and_backward(&cx, &x, &[1, 2, 3]).unwrap();
    let (p, g) = net.params_and_grads();
    opt.step(&cx, p, g).unwrap();
    let state = opt.export_state();
    assert_eq!(state.step, 1);
    assert_eq!(net.num_params(), 109_386);
    for (name, buf) in &state.buffers {
        assert_eq!(buf.len(), net.num_params(), "state buffer {name}");
    }
    let names: Vec<&str> = net.layout().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    );
    // The kernels the facade re-exports are the ones this build uses.
    assert!(!descent::tensor::simd::describe().is_empty());
}
