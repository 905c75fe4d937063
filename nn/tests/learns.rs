//! A 2-layer net (one hidden layer) learns a synthetic, linearly separable
//! 3-class problem to 100% training accuracy with plain SGD written inline
//! (θ ← θ − η·∇θ), so the test depends on nothing but this crate.

use descent_core::Compute;
use descent_nn::{Activation, Mlp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Points in 4-D labelled by which of three fixed directions they project
/// on most; points within `margin` of a boundary are dropped, so the
/// classes are separable with a margin.
fn dataset(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let dirs = [
        [1.0f32, 0.5, 0.0, -0.5],
        [-0.5, 1.0, 0.5, 0.0],
        [0.0, -0.5, -1.0, 0.5],
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    while y.len() < n {
        let p: [f32; 4] = std::array::from_fn(|_| rng.random_range(-1.0f32..1.0));
        let mut s: Vec<(f32, usize)> = dirs
            .iter()
            .enumerate()
            .map(|(c, d)| (d.iter().zip(&p).map(|(a, b)| a * b).sum(), c))
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0));
        if s[0].0 - s[1].0 < 0.1 {
            continue;
        }
        x.extend_from_slice(&p);
        y.push(s[0].1 as u32);
    }
    (x, y)
}

fn train(act: Activation) -> (f32, f32, f32) {
    let (x, y) = dataset(300, 9);
    let mut net = Mlp::new(&[4, 16, 3], act, 1).unwrap();
    let (_, acc0) = net.evaluate(&Compute::serial(), &x, &y, 64).unwrap();
    let lr = 0.5;
    for _epoch in 0..400 {
        for (xb, yb) in x.chunks(32 * 4).zip(y.chunks(32)) {
            net.zero_grad();
            net.loss_and_backward(&Compute::serial(), xb, yb).unwrap();
            let (params, grads) = net.params_and_grads();
            for (p, g) in params.iter_mut().zip(grads) {
                *p -= lr * g;
            }
        }
    }
    let (loss, acc) = net.evaluate(&Compute::serial(), &x, &y, 64).unwrap();
    (acc0, loss, acc)
}

#[test]
fn two_layer_net_separates_the_training_set() {
    for act in [Activation::Relu, Activation::Tanh] {
        let (acc0, loss, acc) = train(act);
        println!("{}: accuracy {acc0} -> {acc}, loss {loss}", act.name());
        assert!(
            acc0 < 0.7,
            "the untrained net should not already solve it ({acc0})"
        );
        assert_eq!(
            acc,
            1.0,
            "{}: training accuracy {acc}, loss {loss}",
            act.name()
        );
        assert!(loss < 0.1, "{}: loss {loss}", act.name());
    }
}
