//! Optimizer step throughput: each rule's fused single pass (through the
//! `descent-optim` types) against `naive`, the same math as separate
//! whole-array passes with temporaries (how a tensor library without fusion
//! runs it), and `scalar`, the kernels' plain scalar twins; plus the
//! machine's streaming bandwidth measured in the same run:
//! `memory/copy/N` (`a = b`) and `memory/triad/N` (`a = b + s·c`), the
//! kernels `descent profile` measures its bandwidth roofs with
//! (`descent::profile::roof`).
//!
//! Every step is what `Optimizer::step` does: the gradient's norm (one
//! read-only pass over g), then the update; the naive and scalar twins
//! compute the norm too, in their own way. Throughput is the bytes the
//! fused form reads and writes per parameter: 4 for the norm, then SGD 3×4
//! (p, g in; p out), momentum/Nesterov/AdaGrad/RMSprop 5×4 (one state
//! buffer), Adam/AdamW 7×4 (p, g, m, v in; p, m, v out); copy 2×4, triad
//! 3×4 (write-allocate traffic not counted). So criterion's bytes/s of
//! every id is comparable to the memory baselines.
//!
//! Targets (issue 3) at N = 4 194 304: `adam/fused` ≥ 5× `adam/naive`, and
//! `adam/fused` bytes/s ≥ 85% of `memory/triad`.
//!
//! Run: `cargo bench --bench optim` (add `-- adam` to filter).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use descent::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, Optimizer, Rmsprop, RmspropConfig, Sgd, SgdConfig,
};
use descent::profile::roof;
use descent::tensor::{step, Compute};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 2] = [100_000, 4_194_304];

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

// ---- the unfused "tensor library": one whole-array pass per operation ----
//
// Each operation reads its inputs and writes a whole output array. The
// temporaries come from a pool allocated once, as a caching allocator would
// hand them out: allocating fresh 16 MB arrays per operation would add page
// faults and zeroing and make the baseline look far worse than the memory
// traffic alone (a first run with `Vec` per operation measured adam/naive at
// ≈ 1 GB/s at N = 4M). So `naive` costs exactly its extra passes.

/// Temporaries of length n, reused across steps.
struct Pool {
    bufs: Vec<Vec<f32>>,
}

impl Pool {
    fn new(n: usize, k: usize) -> Self {
        Pool {
            bufs: (0..k).map(|_| vec![0.0; n]).collect(),
        }
    }
}

/// `out = f(a)`.
fn map(out: &mut [f32], a: &[f32], f: impl Fn(f32) -> f32) {
    for (o, &x) in out.iter_mut().zip(a) {
        *o = f(x);
    }
}

/// `out = f(a, b)`.
fn zip(out: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

/// `a = f(a)` in place.
fn apply(a: &mut [f32], f: impl Fn(f32) -> f32) {
    for x in a {
        *x = f(*x);
    }
}

/// `a = f(a, b)` in place.
fn apply2(a: &mut [f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

/// The unfused rules; hyper-parameters as the fused ids' configs (PyTorch
/// defaults, μ = 0.9 for the momentum kinds, AdamW λ = 1e-2).
#[derive(Clone, Copy)]
enum Naive {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    Rmsprop,
    Adam,
    Adamw,
}

struct NaiveState {
    a: Vec<f32>,
    b: Vec<f32>,
    t: u64,
    pool: Pool,
}

impl NaiveState {
    fn new(n: usize) -> Self {
        NaiveState {
            a: vec![0.0; n],
            b: vec![0.0; n],
            t: 0,
            pool: Pool::new(n, 4),
        }
    }
}

fn naive_step(rule: Naive, p: &mut [f32], g: &[f32], s: &mut NaiveState) {
    s.t += 1;
    let [t0, t1, t2, t3] = &mut s.pool.bufs[..] else {
        unreachable!()
    };
    match rule {
        Naive::Sgd => {
            map(t0, g, |x| x * 1e-3);
            apply2(p, t0, |x, y| x - y);
        }
        Naive::Momentum | Naive::Nesterov => {
            let (lr, mu) = (1e-3f32, 0.9f32);
            apply(&mut s.a, |x| x * mu);
            map(t0, g, |x| x * (1.0 - 0.0));
            apply2(&mut s.a, t0, |x, y| x + y);
            if let Naive::Nesterov = rule {
                map(t1, &s.a, |x| x * mu);
                zip(t2, g, t1, |x, y| x + y);
                map(t3, t2, |x| x * lr);
            } else {
                map(t3, &s.a, |x| x * lr);
            }
            apply2(p, t3, |x, y| x - y);
        }
        Naive::Adagrad => {
            zip(t0, g, g, |x, y| x * y);
            apply2(&mut s.a, t0, |x, y| x + y);
            map(t1, &s.a, f32::sqrt);
            apply(t1, |x| x + 1e-10);
            zip(t2, g, t1, |x, y| x / y);
            apply(t2, |x| x * 1e-2);
            apply2(p, t2, |x, y| x - y);
        }
        Naive::Rmsprop => {
            let a = 0.99f32;
            apply(&mut s.a, |x| x * a);
            zip(t0, g, g, |x, y| x * y);
            apply(t0, |x| x * (1.0 - a));
            apply2(&mut s.a, t0, |x, y| x + y);
            map(t1, &s.a, f32::sqrt);
            apply(t1, |x| x + 1e-8);
            zip(t2, g, t1, |x, y| x / y);
            apply(t2, |x| x * 1e-2);
            apply2(p, t2, |x, y| x - y);
        }
        Naive::Adam | Naive::Adamw => {
            let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
            if let Naive::Adamw = rule {
                apply(p, |x| x * (1.0 - lr * 1e-2));
            }
            apply(&mut s.a, |x| x * b1);
            map(t0, g, |x| x * (1.0 - b1));
            apply2(&mut s.a, t0, |x, y| x + y);
            apply(&mut s.b, |x| x * b2);
            zip(t1, g, g, |x, y| x * y);
            apply(t1, |x| x * (1.0 - b2));
            apply2(&mut s.b, t1, |x, y| x + y);
            let bc1 = 1.0 - b1.powi(s.t as i32);
            let bc2 = 1.0 - b2.powi(s.t as i32);
            map(t0, &s.a, |x| x / bc1);
            map(t1, &s.b, |x| x / bc2);
            map(t2, t1, f32::sqrt);
            apply(t2, |x| x + eps);
            zip(t3, t0, t2, |x, y| x / y);
            apply(t3, |x| x * lr);
            apply2(p, t3, |x, y| x - y);
        }
    }
}

fn fused(name: &str) -> Box<dyn Optimizer> {
    match name {
        "sgd" => Box::new(Sgd::new(SgdConfig::default()).unwrap()),
        "momentum" | "nesterov" => Box::new(
            Sgd::new(SgdConfig {
                momentum: 0.9,
                nesterov: name == "nesterov",
                ..SgdConfig::default()
            })
            .unwrap(),
        ),
        "adagrad" => Box::new(Adagrad::new(AdagradConfig::default()).unwrap()),
        "rmsprop" => Box::new(Rmsprop::new(RmspropConfig::default()).unwrap()),
        "adam" => Box::new(Adam::new(AdamConfig::default()).unwrap()),
        "adamw" => Box::new(Adam::new(AdamConfig::adamw()).unwrap()),
        _ => unreachable!("{name}"),
    }
}

/// One step of the scalar twin of `name` (state in `a`, `b`; step `t`).
fn scalar_step(name: &str, p: &mut [f32], g: &[f32], s: &mut NaiveState) {
    s.t += 1;
    match name {
        "sgd" => step::sgd_scalar(
            p,
            g,
            &step::SgdStep {
                lr: 1e-3,
                weight_decay: 0.0,
                grad_scale: 1.0,
            },
        ),
        "momentum" | "nesterov" => step::momentum_scalar(
            p,
            g,
            &mut s.a,
            &step::MomentumStep {
                lr: 1e-3,
                weight_decay: 0.0,
                momentum: 0.9,
                dampening: 0.0,
                nesterov: name == "nesterov",
                first_step: s.t == 1,
                grad_scale: 1.0,
            },
        ),
        "adagrad" => step::adagrad_scalar(
            p,
            g,
            &mut s.a,
            &step::AdagradStep {
                clr: 1e-2,
                weight_decay: 0.0,
                eps: 1e-10,
                grad_scale: 1.0,
            },
        ),
        "rmsprop" => step::rmsprop_scalar(
            p,
            g,
            step::RmspropState {
                square_avg: &mut s.a,
                grad_avg: None,
                momentum_buffer: None,
            },
            &step::RmspropStep {
                lr: 1e-2,
                alpha: 0.99,
                eps: 1e-8,
                weight_decay: 0.0,
                momentum: 0.0,
                grad_scale: 1.0,
            },
        ),
        "adam" | "adamw" => {
            let (wd, dec) = if name == "adamw" {
                (1e-2, true)
            } else {
                (0.0, false)
            };
            let h = step::AdamStep::new(1e-3, 0.9, 0.999, 1e-8, wd, dec, false, s.t, 1.0);
            step::adam_scalar(p, g, &mut s.a, &mut s.b, None, &h)
        }
        _ => unreachable!("{name}"),
    }
}

const RULES: [(&str, Naive, u64); 7] = [
    ("sgd", Naive::Sgd, 12),
    ("momentum", Naive::Momentum, 20),
    ("nesterov", Naive::Nesterov, 20),
    ("adagrad", Naive::Adagrad, 20),
    ("rmsprop", Naive::Rmsprop, 20),
    ("adam", Naive::Adam, 28),
    ("adamw", Naive::Adamw, 28),
];

fn bench_steps(c: &mut Criterion) {
    // The streaming-bandwidth baselines first, so they run next to the
    // 4M-parameter ids rather than minutes later on a shared machine.
    let n = 4_194_304;
    let mut group = c.benchmark_group("optim_step");
    group.sample_size(20);
    let src = random(n, 3);
    let c2 = random(n, 4);
    let mut dst = vec![0.0f32; n];
    group.throughput(Throughput::Bytes(8 * n as u64));
    group.bench_function(BenchmarkId::new("memory/copy", n), |b| {
        b.iter(|| roof::copy(black_box(&mut dst), black_box(&src)))
    });
    group.throughput(Throughput::Bytes(12 * n as u64));
    let s = black_box(0.5f32);
    group.bench_function(BenchmarkId::new("memory/triad", n), |b| {
        b.iter(|| roof::triad(black_box(&mut dst), black_box(&src), black_box(&c2), s))
    });
    group.finish();

    let mut group = c.benchmark_group("optim_step");
    for n in SIZES {
        if n > 1_000_000 {
            group.sample_size(20);
        } else {
            group.sample_size(100);
        }
        let g = random(n, 2);
        for (name, naive, bytes) in RULES {
            group.throughput(Throughput::Bytes((bytes + 4) * n as u64));
            let mut p = random(n, 1);
            let mut opt = fused(name);
            let cx = Compute::serial();
            group.bench_function(BenchmarkId::new(format!("{name}/fused"), n), |b| {
                b.iter(|| opt.step(&cx, black_box(&mut p), black_box(&g)).unwrap())
            });
            let mut p = random(n, 1);
            let mut st = NaiveState::new(n);
            group.bench_function(BenchmarkId::new(format!("{name}/naive"), n), |b| {
                b.iter(|| {
                    let norm = g.iter().map(|x| x * x).sum::<f32>().sqrt();
                    naive_step(naive, black_box(&mut p), black_box(&g), &mut st);
                    black_box(norm)
                })
            });
            let mut p = random(n, 1);
            let mut st = NaiveState::new(n);
            group.bench_function(BenchmarkId::new(format!("{name}/scalar"), n), |b| {
                b.iter(|| {
                    let norm = step::grad_norm_scalar(black_box(&g));
                    scalar_step(name, black_box(&mut p), black_box(&g), &mut st);
                    black_box(norm)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);
