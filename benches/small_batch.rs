//! Training at a few rows a step (pure SGD at batch 1 up to `SMALL_BATCH`), on
//! the MNIST MLP 784-128-64-10 (ReLU), one thread.
//!
//! - `small_batch/forward/B={1,4,8,16}/{in_place,gemm}`: the first layer's
//!   forward `relu(X·Wᵀ + b)` (784 → 128) on B rows, with W read in place
//!   (`rows_times_wt`, what `Linear::forward` runs at B ≤ `SMALL_BATCH`)
//!   and with the GEMM (which packs W first). The bench prints the ratio
//!   per B: where it crosses 1 is where `SMALL_BATCH` belongs.
//! - `small_batch/step/<optimizer>/{stored,factored}`: a whole batch-1
//!   step (forward, loss, backward, norm, update) with dW stored and read
//!   back, and with the gradient made inside the update
//!   (`Optimizer::step_factored`).
//! - `small_batch/update/<optimizer>/{stored,factored}`: the update alone
//!   (the norm and the pass over the parameters), from the same backward.
//! - `small_batch/floor/stream`: one read and one write of every parameter
//!   (`p ← 1·p`, the least any update does), and `…/read` one read of
//!   them (what the forward's first layer must at least do): the L2 floor
//!   of a batch-1 step is their sum, measured in the same run.
//!
//! - `descend/B=64/{stored,fused}`: the first layer's weight gradient and
//!   its SGD step at batch 64: `dW = dYᵀ·X` stored, its squares summed,
//!   then `W ← W − η·dW`, against `gemm::matmul_descend`, which steps W as
//!   each tile of dW leaves the registers and sums the squares there.
//!
//! Run: `cargo bench --bench small_batch -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use descent::nn::{Activation, Loss, Mlp, Targets};
use descent::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use descent::tensor::ops::{rows_times_wt, scale, sum_squares};
use descent::tensor::simd::Wide;
use descent::tensor::{matmul, AlignedVec, Compute, Epilogue, MatMut, MatRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 4] = [784, 128, 64, 10];

fn random(len: usize, seed: u64) -> AlignedVec {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn optimizers() -> Vec<(&'static str, Box<dyn Optimizer>)> {
    vec![
        (
            "sgd",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 1e-7,
                    ..SgdConfig::default()
                })
                .unwrap(),
            ),
        ),
        (
            "momentum",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 1e-7,
                    momentum: 0.9,
                    ..SgdConfig::default()
                })
                .unwrap(),
            ),
        ),
        (
            "adam",
            Box::new(
                Adam::new(AdamConfig {
                    lr: 1e-7,
                    ..AdamConfig::default()
                })
                .unwrap(),
            ),
        ),
    ]
}

fn forward(c: &mut Criterion) {
    let cx = Compute::serial();
    let w = random(784 * 128, 1);
    let b = random(128, 2);
    let mut g = c.benchmark_group("small_batch/forward");
    for rows in [1usize, 4, 8, 16] {
        let x = random(rows * 784, 3);
        let mut y = vec![0.0f32; rows * 128];
        g.bench_function(format!("B={rows}/in_place"), |bch| {
            bch.iter(|| rows_times_wt::<Wide>(black_box(&x), 784, &w, Some(&b), true, &mut y))
        });
        // Above SMALL_BATCH rows, Linear::forward is this GEMM.
        g.bench_function(format!("B={rows}/gemm"), |bch| {
            bch.iter(|| {
                matmul(
                    &cx,
                    1.0,
                    MatRef::row_major(&x, rows, 784).unwrap(),
                    MatRef::row_major(&w, 128, 784).unwrap().t(),
                    0.0,
                    MatMut::row_major(&mut y, rows, 128).unwrap(),
                    Epilogue::bias_relu(&b),
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

/// A net after one batch-1 forward and loss, ready for a backward.
fn ready(x: &[f32], y: &[u32]) -> Mlp {
    let mut net = Mlp::new(&SIZES, Activation::Relu, 0).unwrap();
    net.forward(&Compute::serial(), x, 1).unwrap();
    net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))
        .unwrap();
    net
}

/// MNIST-like rows: four pixels in five black, the rest in (0, 1).
fn images(rows: usize) -> (AlignedVec, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let x = (0..rows * 784)
        .map(|_| {
            if rng.random_range(0..5) < 4 {
                0.0
            } else {
                rng.random_range(0.0f32..1.0)
            }
        })
        .collect();
    let y = (0..rows).map(|_| rng.random_range(0..10u32)).collect();
    (x, y)
}

fn step(c: &mut Criterion) {
    let cx = Compute::serial();
    let x = random(784, 4);
    let y = [3u32];
    // The whole step cycles through examples, as training does.
    let (xs, ys) = images(512);
    let example = |k: usize| {
        (
            &xs[k % 512 * 784..(k % 512 + 1) * 784],
            &ys[k % 512..k % 512 + 1],
        )
    };
    for (name, mut opt) in optimizers() {
        let mut g = c.benchmark_group(format!("small_batch/step/{name}"));
        let mut net = ready(&x, &y);
        let mut k = 0;
        g.bench_function("stored", |b| {
            b.iter(|| {
                let (x, y) = example(k);
                k += 1;
                net.forward(&cx, x, 1).unwrap();
                net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))
                    .unwrap();
                net.backward_overwrite(&cx, x).unwrap();
                let (p, gr) = net.params_and_grads();
                black_box(opt.step(&cx, p, gr).unwrap());
            })
        });
        g.bench_function("factored", |b| {
            b.iter(|| {
                let (x, y) = example(k);
                k += 1;
                net.forward(&cx, x, 1).unwrap();
                net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))
                    .unwrap();
                net.backward_signals_probed(&cx, x, &mut ()).unwrap();
                let (p, src) = net.params_and_grad_source(x).unwrap();
                let info = opt.step_factored(&cx, p, src.norm(), &src).unwrap();
                black_box(info.expect("an elementwise rule takes the factored step"));
            })
        });
        g.bench_function("factored, looking ahead", |b| {
            b.iter(|| {
                let (x, y) = example(k);
                let (next, _) = example(k + 1);
                k += 1;
                net.forward(&cx, x, 1).unwrap();
                net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))
                    .unwrap();
                net.backward_signals_probed(&cx, x, &mut ()).unwrap();
                let (p, src) = net.params_and_grad_source_ahead(x, next).unwrap();
                let info = opt.step_factored(&cx, p, src.norm(), &src).unwrap();
                black_box(info.expect("an elementwise rule takes the factored step"));
            })
        });
        g.finish();

        let mut g = c.benchmark_group(format!("small_batch/update/{name}"));
        let mut net = ready(&x, &y);
        net.backward_overwrite(&cx, &x).unwrap();
        g.bench_function("stored", |b| {
            b.iter(|| {
                let (p, gr) = net.params_and_grads();
                black_box(opt.step(&cx, p, gr).unwrap());
            })
        });
        g.bench_function("factored", |b| {
            b.iter(|| {
                let (p, src) = net.params_and_grad_source(&x).unwrap();
                black_box(opt.step_factored(&cx, p, src.norm(), &src).unwrap());
            })
        });
        // The update and the next forward: W₀ read again by the forward,
        // or its products formed by the update as it writes W₀.
        let (next, _) = example(1);
        // (The forward replaces the stored activations the next update's
        // source reads: other values, the same work.)
        g.bench_function("factored, then forward", |b| {
            b.iter(|| {
                let (p, src) = net.params_and_grad_source(&x).unwrap();
                black_box(opt.step_factored(&cx, p, src.norm(), &src).unwrap());
                black_box(net.forward(&cx, next, 1).unwrap());
            })
        });
        g.bench_function("factored looking ahead, then forward", |b| {
            b.iter(|| {
                let (p, src) = net.params_and_grad_source_ahead(&x, next).unwrap();
                black_box(opt.step_factored(&cx, p, src.norm(), &src).unwrap());
                black_box(net.forward(&cx, next, 1).unwrap());
            })
        });
        g.finish();
    }
}

fn floor(c: &mut Criterion) {
    let n: usize = SIZES.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    let mut p = random(n, 5);
    let mut g = c.benchmark_group("small_batch/floor");
    g.bench_function("stream", |b| {
        b.iter(|| scale::<Wide>(black_box(1.0), &mut p))
    });
    g.bench_function("read", |b| b.iter(|| black_box(sum_squares::<Wide>(&p))));
    g.finish();
}

/// The batch-64 gather from a 60 000-image set: normalized from its bytes
/// (what training does) and copied from its float images (what it did).
fn gather(c: &mut Criterion) {
    use descent::train::data::{Dataset, Normalize};
    let (n, d) = (60_000usize, 784usize);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let bytes: Vec<u8> = (0..n * d).map(|_| rng.random_range(0..=255u8)).collect();
    let labels: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    let from_bytes = Dataset::from_pixels(bytes, labels.clone(), 28, 28, Normalize::Standard);
    let floats = Dataset::from_images(
        from_bytes.images().iter().copied().collect(),
        labels,
        28,
        28,
    );
    let fresh = Dataset::from_pixels(
        (0..n * d).map(|_| rng.random_range(0..=255u8)).collect(),
        (0..n as u32).map(|i| i % 10).collect(),
        28,
        28,
        Normalize::Standard,
    );
    let cx = Compute::serial();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let (mut x, mut y) = (vec![0.0f32; 64 * d], vec![0u32; 64]);
    let mut g = c.benchmark_group("gather/B=64");
    let mut k = 0;
    for (name, set) in [("bytes", &fresh), ("floats", &floats)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let idx = &order[k % (n - 64)..k % (n - 64) + 64];
                k += 64;
                set.gather(&cx, idx, &mut x, &mut y);
            })
        });
    }
    // Fresh rows, asked for a step ahead as the trainer does: the next
    // batch is prefetched, then ~100 µs of register-only work stands in
    // for the step's compute, and only the gather is timed.
    g.bench_function("bytes, prefetched a step ahead", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let at = k % (n - 128);
                k += 64;
                fresh.prefetch(&order[at + 64..at + 128]);
                let mut v = 1.0f64;
                for _ in 0..100_000 {
                    v = black_box(v * 1.000_000_1 + 1e-9);
                }
                black_box(v);
                let t = std::time::Instant::now();
                fresh.gather(&cx, &order[at + 64..at + 128], &mut x, &mut y);
                total += t.elapsed();
            }
            total
        })
    });
    // The same 64 rows every time: the gather's own cost once its rows are
    // in cache, which is what the trainer's prefetch of the next step's
    // rows aims at (the cold rows above are its DRAM-bound worst case).
    let idx = &order[..64];
    fresh.gather(&cx, idx, &mut x, &mut y);
    g.bench_function("bytes, rows in cache", |b| {
        b.iter(|| fresh.gather(&cx, idx, &mut x, &mut y))
    });
    g.finish();
}

/// The first layer's dW and SGD step at batch 64, stored then stepped,
/// and fused into the GEMM (the same bits, `core/tests/descend.rs`).
fn descend(c: &mut Criterion) {
    use descent::tensor::gemm::matmul_descend;
    use descent::tensor::step::{sgd, SgdStep};
    let (b, o, i) = (64, SIZES[1], SIZES[0]);
    let (dy, x) = (random(b * o, 1), random(b * i, 2));
    let mut w = random(o * i, 3);
    let mut dw = AlignedVec::zeros(o * i);
    let cx = Compute::serial();
    let h = SgdStep {
        lr: 1e-7,
        weight_decay: 0.0,
        grad_scale: 1.0,
    };
    fn views<'a>(
        dy: &'a [f32],
        x: &'a [f32],
        b: usize,
        o: usize,
        i: usize,
    ) -> (MatRef<'a>, MatRef<'a>) {
        (
            MatRef::new(dy, b, o, o, 1).unwrap().t(),
            MatRef::new(x, b, i, i, 1).unwrap(),
        )
    }
    let mut g = c.benchmark_group("descend/B=64");
    g.bench_function("stored", |bench| {
        bench.iter(|| {
            let (a, xb) = views(&dy, &x, b, o, i);
            let dwv = MatMut::new(&mut dw, o, i, i, 1).unwrap();
            matmul(&cx, 1.0, a, xb, 0.0, dwv, Epilogue::None).unwrap();
            black_box(sum_squares::<Wide>(&dw));
            sgd::<Wide>(&mut w, &dw[..], &h);
        })
    });
    g.bench_function("dW alone", |bench| {
        bench.iter(|| {
            let (a, xb) = views(&dy, &x, b, o, i);
            let dwv = MatMut::new(&mut dw, o, i, i, 1).unwrap();
            matmul(&cx, 1.0, a, xb, 0.0, dwv, Epilogue::None).unwrap();
        })
    });
    let mut squares = Vec::new();
    g.bench_function("fused", |bench| {
        bench.iter(|| {
            let (a, xb) = views(&dy, &x, b, o, i);
            let wv = MatMut::new(&mut w, o, i, i, 1).unwrap();
            black_box(matmul_descend(&cx, 1e-7, a, xb, wv, &mut squares).unwrap());
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = forward, step, floor, gather, descend
}
criterion_main!(benches);
