//! A training loop of your own, from descent's pieces: each step gathers a
//! batch, runs the MLP forward, computes the loss and its gradient dL/dZ,
//! back-propagates into the flat gradient buffer, and lets an optimizer
//! update the flat parameter buffer in one fused pass.
//!
//! Run: `cargo run --release --example backprop_loop -- [DATA_DIR] [MAX_STEPS]`
//! (default `data/mnist`, one epoch; fetch MNIST with `scripts/fetch-mnist.sh`).

use descent::nn::{Activation, Loss, Mlp, Targets};
use descent::optim::{Adam, AdamConfig, Optimizer};
use descent::tensor::{AlignedVec, Compute};
use descent::train::data::{Mnist, Normalize};
use rand::seq::SliceRandom;
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "data/mnist".to_string());
    let max_steps = args.next().map(|s| s.parse::<usize>()).transpose()?;
    let mnist = Mnist::load(dir.as_ref(), Normalize::Standard)?;
    let (train, test, d) = (&mnist.train, &mnist.test, mnist.train.dim());

    // Where everything runs: this thread (`Compute::threads(n)` splits the
    // GEMMs, the gather and the update; the bits stay the same).
    let cx = Compute::serial();
    // 784-128-64-10, ReLU; weights from seed 0 (PyTorch's default init).
    let mut net = Mlp::new(&[d, 128, 64, 10], Activation::Relu, 0)?;
    let mut opt = Adam::new(AdamConfig::default())?; // PyTorch's defaults: lr 1e-3

    // One epoch in a shuffled order, 64 examples a step.
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    let (mut x, mut y) = (AlignedVec::new(), Vec::new());
    let steps = order.chunks(64).take(max_steps.unwrap_or(usize::MAX));
    for (step, idx) in steps.enumerate() {
        let b = idx.len();
        x.resize(b * d, 0.0);
        y.resize(b, 0);
        train.gather(&cx, idx, &mut x, &mut y); // X (B, 784), y (B)
        net.forward(&cx, &x, b)?; // Z = f(… f(X·W₀ᵀ + b₀) …)·W₂ᵀ + b₂
        let loss = net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(&y))?; // dZ = (softmax(Z) − onehot(y)) / B
        net.zero_grad();
        net.backward(&cx, &x)?; // dW_l = dYᵀ·X_l, db_l = Σ_rows dY, dX_l = dY·W_l
        let (params, grads) = net.params_and_grads();
        // Adam: ‖g‖₂ (to watch, or clip), then one fused pass over p, g, m, v.
        let info = opt.step(&cx, params, grads)?;
        if step % 100 == 0 {
            let norm = info.grad_norm;
            println!("step {step:4}  loss {loss:.4}  gradient norm {norm:.4}");
        }
    }
    let (loss, acc) = net.evaluate(&cx, test.images(), &test.labels, 1000)?;
    println!("test loss {loss:.4}, test accuracy {:.2}%", 100.0 * acc);
    Ok(())
}
