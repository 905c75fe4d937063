//! One training step of the MNIST MLP 784-128-64-10 (ReLU) at batch 64:
//! forward, softmax cross-entropy and backward (no optimizer), against
//! `peak`, the machine's FMA ceiling at the widest SIMD width the build
//! has in registers (f32x16 with AVX-512F, else f32x8), measured in the
//! same run.
//!
//! FLOPs per example (multiply-adds count 2): forward 2·109184 (the
//! weights: 784·128 + 128·64 + 64·10) and backward 2·(109184 + 8832)
//! (dW for every layer, dX for layers 2 and 3: 128·64 + 64·10 = 8832; the
//! first layer skips dX), about 454 kFLOP. The bench prints the implied
//! GFLOP/s and the ratio to peak from the medians it measured.
//!
//! The timed step is what a training loop runs per batch minus the
//! optimizer: forward, loss and backward writing this batch's gradients
//! (`Mlp::batch_grads`). `…/b64-zero+acc` times the other spelling,
//! `zero_grad` then the accumulating `loss_and_backward`, for comparison.
//!
//! `train_step/<model>/threads=N` times the whole step a trainer runs per
//! batch (forward, loss, backward, gradient norm, Adam's update) on N
//! threads, for the MNIST MLP at batch 64 and a wider one
//! (784-1024-1024-10 at batch 256), N = 1, 2, 4, … up to this machine's
//! cores; the bench then prints each N's speed-up over one thread from
//! interleaved medians, so the scaling can be read on any machine.
//!
//! `train_step/gemm/<phase>/{descent,matrixmultiply}` times every GEMM of
//! the 784-128-64-10 step at batch 64 alone, on one thread, with descent's
//! kernel (fused epilogue included) and with matrixmultiply (plus a bias
//! pass for the forward ones): the very cases `descent profile --compare
//! matrixmultiply` times (`descent::profile::GemmCase`), so the
//! bench and the profile measure the same code.
//!
//! Run: `cargo bench --bench train_step -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use descent::nn::{Activation, Loss, Mlp, Targets};
use descent::optim::{Adam, AdamConfig, Optimizer};
use descent::profile::{compare_gemms, GemmCase};
use descent::tensor::simd::{fma_peak, fma_peak_flop, Wide};
use descent::tensor::{AlignedVec, Compute};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 4] = [784, 128, 64, 10];
const BATCH: usize = 64;
/// Weights of the net: Σ s_l·s_{l+1}.
const WEIGHTS: usize = 784 * 128 + 128 * 64 + 64 * 10;
/// dX products of the layers after the first: 128·64 + 64·10.
const DX_MACS: usize = 128 * 64 + 64 * 10;
/// FLOPs per example of forward + backward.
const FLOP_PER_EXAMPLE: usize = 2 * WEIGHTS + 2 * (WEIGHTS + DX_MACS);

/// Iterations of the peak loop per call.
const PEAK_ITERS: usize = 4096;

/// One call of the FMA peak loop at the widest width the build has in
/// registers ([`Wide`]); returns its FLOPs.
fn peak() -> usize {
    black_box(fma_peak::<Wide>(
        black_box(PEAK_ITERS),
        black_box(Wide::splat(0.999)),
        black_box(Wide::splat(1e-3)),
    ));
    fma_peak_flop::<Wide>(PEAK_ITERS)
}

/// A random batch; X line-aligned, as the trainer's gathered batch is.
fn data() -> (AlignedVec, Vec<u32>) {
    batch(BATCH, SIZES[0])
}

fn batch(rows: usize, width: usize) -> (AlignedVec, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x = (0..rows * width)
        .map(|_| rng.random_range(0.0f32..1.0))
        .collect();
    let y = (0..rows).map(|_| rng.random_range(0..10u32)).collect();
    (x, y)
}

/// 1, 2, 4, … up to this machine's cores (and the cores themselves).
fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut t: Vec<usize> = std::iter::successors(Some(1), |&t| Some(2 * t))
        .take_while(|&t| t <= cores.max(2))
        .collect();
    if !t.contains(&cores) {
        t.push(cores);
    }
    t
}

/// A net of `sizes` on `threads` threads with Adam, and its whole step:
/// forward, loss, backward, gradient norm, update (as `Trainer::step`,
/// without the gather).
struct Stepper {
    cx: Compute,
    net: Mlp,
    opt: Adam,
    x: AlignedVec,
    y: Vec<u32>,
}

impl Stepper {
    fn new(sizes: &[usize], rows: usize, threads: usize) -> Self {
        let net = Mlp::new(sizes, Activation::Relu, 0).unwrap();
        let (x, y) = batch(rows, sizes[0]);
        let opt = Adam::new(AdamConfig::default()).unwrap();
        let cx = Compute::threads(threads);
        Stepper { cx, net, opt, x, y }
    }

    fn step(&mut self) {
        let (cx, net, x, y) = (&self.cx, &mut self.net, &self.x, &self.y);
        net.forward(cx, x, y.len()).unwrap();
        let loss = net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y));
        black_box(loss.unwrap());
        net.backward_overwrite(cx, x).unwrap();
        // The norm and the update, as the trainer's step runs them.
        let (p, g) = net.params_and_grads();
        black_box(self.opt.step(cx, p, g).unwrap());
    }
}

/// Seconds per call of `f`, timed over `reps` calls.
fn time_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    let s = Instant::now();
    for _ in 0..reps {
        f();
    }
    s.elapsed().as_secs_f64() / reps as f64
}

fn benches(c: &mut Criterion) {
    println!("descent SIMD build: {}", descent::tensor::simd::describe());
    println!(
        "descent GEMM kernel: {}",
        descent::tensor::Config::native().describe()
    );
    let peak_flop = peak();
    let (x, y) = data();
    let mut net = Mlp::new(&SIZES, Activation::Relu, 0).unwrap();
    let cx = Compute::serial();
    let step = |net: &mut Mlp| {
        black_box(net.batch_grads(&cx, black_box(&x), black_box(&y)).unwrap());
    };
    let step_acc = |net: &mut Mlp| {
        net.zero_grad();
        black_box(
            net.loss_and_backward(&cx, black_box(&x), black_box(&y))
                .unwrap(),
        );
    };

    let mut group = c.benchmark_group("train_step");
    group.throughput(Throughput::Elements(peak_flop as u64));
    group.bench_function("peak", |b| b.iter(peak));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("mlp784-128-64-10/b64", |b| b.iter(|| step(&mut net)));
    group.bench_function("mlp784-128-64-10/b64-zero+acc", |b| {
        b.iter(|| step_acc(&mut net))
    });
    group.finish();

    // Criterion does not hand its estimates back, so the in-run ratio is
    // taken from our own medians. Each sample is short (one step, or 50
    // peak calls: both ~0.4 ms) and the two kinds are interleaved, so on a
    // shared machine both see the same preemption odds: long samples
    // (criterion's are ~30 ms here) mostly measure the scheduler.
    let (mut tp, mut ts) = (Vec::new(), Vec::new());
    for _ in 0..1001 {
        tp.push(time_secs(50, || {
            peak();
        }));
        ts.push(time_secs(1, || step(&mut net)));
    }
    tp.sort_by(f64::total_cmp);
    ts.sort_by(f64::total_cmp);
    // The median is the figure; the 10th percentile shows what a quieter
    // machine gives (other processes evict the step's caches, not peak's).
    for (what, q) in [("median", 0.5), ("p10", 0.1)] {
        let (tp, ts) = (
            tp[(tp.len() as f64 * q) as usize],
            ts[(ts.len() as f64 * q) as usize],
        );
        let peak_gflops = peak_flop as f64 / tp / 1e9;
        let step_gflops = (FLOP_PER_EXAMPLE * BATCH) as f64 / ts / 1e9;
        println!(
            "train_step {what}: {FLOP_PER_EXAMPLE} FLOP/example; step {:.1} µs = {step_gflops:.1} GFLOP/s; \
             peak {peak_gflops:.1} GFLOP/s; ratio {:.1}% (target ≥ 80%)",
            ts * 1e6,
            100.0 * step_gflops / peak_gflops
        );
    }
}

fn threads(c: &mut Criterion) {
    let models: [(&str, &[usize], usize); 2] = [
        ("mlp784-128-64-10/b64", &SIZES, BATCH),
        ("mlp784-1024-1024-10/b256", &[784, 1024, 1024, 10], 256),
    ];
    let counts = thread_counts();
    let mut group = c.benchmark_group("train_step");
    for (name, sizes, rows) in models {
        group.throughput(Throughput::Elements(rows as u64));
        let mut steppers: Vec<Stepper> = counts
            .iter()
            .map(|&t| Stepper::new(sizes, rows, t))
            .collect();
        for (s, t) in steppers.iter_mut().zip(&counts) {
            group.bench_function(format!("{name}/threads={t}"), |b| b.iter(|| s.step()));
        }
        // Interleaved medians: every thread count sees the same machine.
        let reps = if rows > BATCH { 3 } else { 20 };
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
        for _ in 0..201 {
            for (s, ts) in steppers.iter_mut().zip(&mut times) {
                ts.push(time_secs(reps, || s.step()));
            }
        }
        let med: Vec<f64> = times
            .iter_mut()
            .map(|ts| {
                ts.sort_by(f64::total_cmp);
                ts[ts.len() / 2]
            })
            .collect();
        for (t, m) in counts.iter().zip(&med) {
            println!(
                "train_step {name} threads={t}: step {:.1} µs (median), speed-up {:.2}× over 1 thread",
                m * 1e6,
                med[0] / m
            );
        }
    }
    group.finish();
}

fn gemms(c: &mut Criterion) {
    let mut cases = GemmCase::for_step(&SIZES, Activation::Relu, BATCH);
    let serial = Compute::serial();
    let mut group = c.benchmark_group("train_step/gemm");
    for case in &mut cases {
        let name = case.phase.label("relu").replace(' ', "-");
        group.throughput(Throughput::Elements(case.flops() as u64));
        group.bench_function(format!("{name}/descent"), |b| {
            b.iter(|| case.run_descent(&serial))
        });
        group.bench_function(format!("{name}/matrixmultiply"), |b| {
            b.iter(|| case.run_matrixmultiply())
        });
    }
    group.finish();
    let cmp = compare_gemms(&mut cases, 51);
    for (case, c) in cases.iter().zip(cmp) {
        println!(
            "train_step/gemm {} {:?}: descent {:.2} µs, matrixmultiply {:.2} µs (interleaved medians), matrixmultiply / descent {:.2}×",
            case.phase.label("relu"),
            c.mkn,
            c.descent_s * 1e6,
            c.matrixmultiply_s * 1e6,
            c.speedup
        );
    }
}

criterion_group!(train_step, benches, threads, gemms);
criterion_main!(train_step);
