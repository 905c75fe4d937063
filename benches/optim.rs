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
//! buffer), Adam/AdamW 7×4 (p, g, m, v in; p, m, v out); Lion and ASGD
//! 5×4 (one state buffer), Adamax, Adadelta, NAdam, RAdam, Rprop and
//! Schedule-Free AdamW 7×4 (two); copy 2×4, triad 3×4 (write-allocate traffic not counted). So
//! criterion's bytes/s of every id is comparable to the memory baselines.
//!
//! Targets at N = 4 194 304: `adam/fused` ≥ 5× `adam/naive` (issue 3), and
//! every rule's `…/fused` bytes/s ≥ 85% of `memory/triad` (issues 3, 27).
//!
//! The rules that treat matrices as matrices, `optim_matrix`: one whole
//! step on the 784-128-64-10 MLP's layout (109 386 parameters, bound as
//! the trainer binds them) for Adam, Adafactor and Muon, so Muon's and
//! Adafactor's cost reads as a multiple of Adam's; and Muon's Newton–Schulz
//! iteration on the first layer's 128 × 784 matrix beside the same 15
//! GEMMs (5 × `X·Xᵀ`, `A·A`, `P·X`) run alone, throughput in FLOPs, so the
//! iteration's rate reads as a fraction of its GEMMs' (target ≥ 80%).
//!
//! Run: `cargo bench --bench optim` (add `-- adam` to filter).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use descent::optim::{
    newton_schulz, two_loop, Adagrad, AdagradConfig, Adam, AdamConfig, Block, Hyper, Optimizer,
    OptimizerConfig, OptimizerKind, Rmsprop, RmspropConfig, Sgd, SgdConfig,
};
use descent::profile::roof;
use descent::tensor::{matmul, step, Compute, Epilogue, MatMut, MatRef};
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
    Adamax,
    Lion,
    Adadelta,
    Nadam,
    Radam,
    Rprop,
    Asgd,
    ScheduleFree,
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
        Naive::Adamax => {
            let (lr, b1, b2, eps) = (2e-3f32, 0.9f32, 0.999f32, 1e-8f32);
            apply(&mut s.a, |x| x * b1);
            map(t0, g, |x| x * (1.0 - b1));
            apply2(&mut s.a, t0, |x, y| x + y);
            map(t1, g, f32::abs);
            apply(t1, |x| x + eps);
            apply(&mut s.b, |x| x * b2);
            apply2(&mut s.b, t1, f32::max);
            let clr = lr / (1.0 - b1.powi(s.t as i32));
            zip(t2, &s.a, &s.b, |x, y| x / y);
            apply(t2, |x| x * clr);
            apply2(p, t2, |x, y| x - y);
        }
        Naive::Lion => {
            let (lr, b1, b2) = (1e-4f32, 0.9f32, 0.99f32);
            map(t0, &s.a, |x| x * b1);
            map(t1, g, |x| x * (1.0 - b1));
            apply2(t0, t1, |x, y| x + y);
            apply(t0, f32::signum);
            apply(t0, |x| x * lr);
            apply2(p, t0, |x, y| x - y);
            apply(&mut s.a, |x| x * b2);
            map(t1, g, |x| x * (1.0 - b2));
            apply2(&mut s.a, t1, |x, y| x + y);
        }
        Naive::Adadelta => {
            let (lr, rho, eps) = (1.0f32, 0.9f32, 1e-6f32);
            apply(&mut s.a, |x| x * rho);
            zip(t0, g, g, |x, y| x * y);
            apply(t0, |x| x * (1.0 - rho));
            apply2(&mut s.a, t0, |x, y| x + y);
            map(t1, &s.a, |x| x + eps);
            apply(t1, f32::sqrt);
            map(t2, &s.b, |x| x + eps);
            apply(t2, f32::sqrt);
            apply2(t2, t1, |x, y| x / y);
            apply2(t2, g, |x, y| x * y);
            apply(&mut s.b, |x| x * rho);
            zip(t3, t2, t2, |x, y| x * y);
            apply(t3, |x| x * (1.0 - rho));
            apply2(&mut s.b, t3, |x, y| x + y);
            apply(t2, |x| x * lr);
            apply2(p, t2, |x, y| x - y);
        }
        Naive::Nadam | Naive::Radam => {
            let (lr, b1, b2, eps) = (2e-3f32, 0.9f32, 0.999f32, 1e-8f32);
            apply(&mut s.a, |x| x * b1);
            map(t0, g, |x| x * (1.0 - b1));
            apply2(&mut s.a, t0, |x, y| x + y);
            apply(&mut s.b, |x| x * b2);
            zip(t1, g, g, |x, y| x * y);
            apply(t1, |x| x * (1.0 - b2));
            apply2(&mut s.b, t1, |x, y| x + y);
            let bc2 = 1.0 - b2.powi(s.t as i32);
            if let Naive::Nadam = rule {
                map(t1, &s.b, |x| x / bc2);
                apply(t1, f32::sqrt);
                apply(t1, |x| x + eps);
                // The two addcdivs, with stand-in coefficients.
                map(t2, g, |x| x * -lr * 0.5);
                apply2(t2, t1, |x, y| x / y);
                apply2(p, t2, |x, y| x + y);
                map(t3, &s.a, |x| x * -lr * 0.5);
                apply2(t3, t1, |x, y| x / y);
                apply2(p, t3, |x, y| x + y);
            } else {
                let bc1 = 1.0 - b1.powi(s.t as i32);
                map(t0, &s.a, |x| x / bc1);
                apply(t0, |x| x * lr);
                map(t1, &s.b, f32::sqrt);
                apply(t1, |x| x + eps);
                map(t2, t1, |x| bc2.sqrt() / x);
                apply2(t0, t2, |x, y| x * y);
                apply(t0, |x| x * 0.9);
                apply2(p, t0, |x, y| x - y);
            }
        }
        Naive::Rprop => {
            // a = prev, b = step sizes (start: 0 and lr).
            if s.t == 1 {
                s.b.fill(1e-2);
            }
            zip(t0, g, &s.a, |x, y| {
                (x * y).signum() * f32::from(x * y != 0.0)
            });
            map(t1, t0, |x| {
                if x > 0.0 {
                    1.2
                } else if x < 0.0 {
                    0.5
                } else {
                    1.0
                }
            });
            apply2(&mut s.b, t1, |x, y| x * y);
            apply(&mut s.b, |x| x.clamp(1e-6, 50.0));
            zip(t2, g, t0, |x, y| if y < 0.0 { 0.0 } else { x });
            map(t3, t2, f32::signum);
            apply2(t3, &s.b, |x, y| x * y);
            apply2(p, t3, |x, y| x - y);
            s.a.copy_from_slice(t2);
        }
        Naive::ScheduleFree => {
            // a = z (starts at p), b = v.
            if s.t == 1 {
                s.a.copy_from_slice(p);
            }
            let (lr, b1, b2, eps) = (2.5e-3f32, 0.9f32, 0.999f32, 1e-8f32);
            let c = 1.0 / s.t as f32;
            apply(&mut s.b, |x| x * b2);
            zip(t0, g, g, |x, y| x * y);
            apply(t0, |x| x * (1.0 - b2));
            apply2(&mut s.b, t0, |x, y| x + y);
            let bc2 = 1.0 - b2.powi(s.t as i32);
            map(t1, &s.b, |x| x / bc2);
            apply(t1, f32::sqrt);
            apply(t1, |x| x + eps);
            zip(t2, g, t1, |x, y| x / y);
            zip(t3, &s.a, p, |x, y| x - y);
            apply(t3, |x| x * c);
            apply2(p, t3, |x, y| x + y);
            map(t3, t2, |x| x * lr * (b1 * (1.0 - c) - 1.0));
            apply2(p, t3, |x, y| x + y);
            map(t3, t2, |x| x * lr);
            apply2(&mut s.a, t3, |x, y| x - y);
        }
        Naive::Asgd => {
            let (eta, lambd) = (1e-2f32, 1e-4f32);
            apply(p, |x| x * (1.0 - lambd * eta));
            map(t0, g, |x| x * eta);
            apply2(p, t0, |x, y| x - y);
            s.a.copy_from_slice(p);
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
        // The rest as the kind table makes them (PyTorch's defaults).
        _ => {
            let kind: OptimizerKind = name.parse().unwrap();
            let c = OptimizerConfig::new(kind, &Hyper::default(), None, 0).unwrap();
            c.build().unwrap().into_gradient().unwrap()
        }
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
        "adamax" => {
            let h = step::AdamaxStep::new(2e-3, 0.9, 0.999, 1e-8, 0.0, s.t, 1.0);
            step::adamax_scalar(p, g, &mut s.a, &mut s.b, &h)
        }
        "lion" => {
            let h = step::LionStep::new(1e-4, 0.9, 0.99, 0.0, 1.0);
            step::lion_scalar(p, g, &mut s.a, &h)
        }
        "adadelta" => {
            let h = step::AdadeltaStep {
                lr: 1.0,
                rho: 0.9,
                eps: 1e-6,
                weight_decay: 0.0,
                grad_scale: 1.0,
            };
            step::adadelta_scalar(p, g, &mut s.a, &mut s.b, &h)
        }
        "nadam" => {
            let h = step::NadamStep::new(2e-3, 0.9, 0.999, 1e-8, 0.0, false, 4e-3, s.t, 0.5, 1.0);
            step::nadam_scalar(p, g, &mut s.a, &mut s.b, &h)
        }
        "radam" => {
            let h = step::RadamStep::new(1e-3, 0.9, 0.999, 1e-8, 0.0, false, s.t, 1.0);
            step::radam_scalar(p, g, &mut s.a, &mut s.b, &h)
        }
        "rprop" => {
            if s.t == 1 {
                s.b.fill(1e-2);
            }
            let h = step::RpropStep {
                eta_minus: 0.5,
                eta_plus: 1.2,
                step_min: 1e-6,
                step_max: 50.0,
                grad_scale: 1.0,
            };
            step::rprop_scalar(p, g, &mut s.a, &mut s.b, &h)
        }
        "schedule-free-adamw" => {
            if s.t == 1 {
                s.a.copy_from_slice(p);
            }
            let c = 1.0 / s.t as f32;
            let h = step::ScheduleFreeStep {
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                inv_bias_correction2: (1.0 / step::bias_correction(0.999, s.t)) as f32,
                ckp1: c,
                y_coef: 2.5e-3 * (0.9 * (1.0 - c) - 1.0),
                lr: 2.5e-3,
                grad_scale: 1.0,
            };
            step::schedule_free_scalar(p, g, &mut s.a, &mut s.b, &h)
        }
        "asgd" => {
            let h = step::AsgdStep::new(1e-2, 1.0, 1e-4, 0.0, 1.0);
            step::asgd_scalar(p, g, &mut s.a, &h)
        }
        _ => unreachable!("{name}"),
    }
}

const RULES: [(&str, Naive, u64); 15] = [
    ("sgd", Naive::Sgd, 12),
    ("momentum", Naive::Momentum, 20),
    ("nesterov", Naive::Nesterov, 20),
    ("adagrad", Naive::Adagrad, 20),
    ("rmsprop", Naive::Rmsprop, 20),
    ("adam", Naive::Adam, 28),
    ("adamw", Naive::Adamw, 28),
    ("adamax", Naive::Adamax, 28),
    ("lion", Naive::Lion, 20),
    ("adadelta", Naive::Adadelta, 28),
    ("nadam", Naive::Nadam, 28),
    ("radam", Naive::Radam, 28),
    ("rprop", Naive::Rprop, 28),
    ("asgd", Naive::Asgd, 20),
    ("schedule-free-adamw", Naive::ScheduleFree, 28),
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

/// The MLP's tensors as the trainer binds them.
fn mlp_blocks(sizes: &[usize]) -> Vec<Block> {
    let mut at = 0;
    let mut out = Vec::new();
    for w in sizes.windows(2) {
        out.push(Block::Matrix {
            start: at,
            rows: w[1],
            cols: w[0],
        });
        at += w[0] * w[1];
        out.push(Block::Vector {
            start: at,
            len: w[1],
        });
        at += w[1];
    }
    out
}

fn bench_matrix_rules(c: &mut Criterion) {
    let mut group = c.benchmark_group("optim_matrix");
    group.sample_size(30);
    let cx = Compute::serial();
    let blocks = mlp_blocks(&[784, 128, 64, 10]);
    let n = blocks.iter().map(Block::len).sum();
    let g = random(n, 2);
    for name in ["adam", "adafactor", "muon"] {
        let mut p = random(n, 1);
        let mut opt = fused(name);
        opt.bind(&blocks).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(
            BenchmarkId::new(format!("{name}/step"), "784-128-64-10"),
            |b| b.iter(|| opt.step(&cx, black_box(&mut p), black_box(&g)).unwrap()),
        );
    }
    // Newton–Schulz on 128 × 784 against its GEMMs alone.
    let (r, k) = (128usize, 784usize);
    let steps = 5u64;
    let flops = steps * (4 * (r * r * k) as u64 + 2 * (r * r * r) as u64);
    group.throughput(Throughput::Elements(flops));
    let x0 = random(r * k, 5);
    let (mut x, mut next, mut gram, mut poly) = (x0.clone(), Vec::new(), Vec::new(), Vec::new());
    let coef = [3.4445f32, -4.775, 2.0315];
    group.bench_function(BenchmarkId::new("muon/newton_schulz", "128x784"), |b| {
        b.iter(|| {
            x.copy_from_slice(&x0);
            newton_schulz(
                &cx, &mut x, r, k, coef, 1e-7, 5, &mut next, &mut gram, &mut poly,
            )
            .unwrap()
        })
    });
    let (mut a, mut pm, mut xn) = (
        vec![0.0f32; r * r],
        vec![0.0f32; r * r],
        vec![0.0f32; r * k],
    );
    let xs: Vec<f32> = x0.iter().map(|v| v * 1e-3).collect();
    group.bench_function(BenchmarkId::new("muon/gemms_alone", "128x784"), |b| {
        b.iter(|| {
            for _ in 0..steps {
                let xv = MatRef::row_major(&xs, r, k).unwrap();
                matmul(
                    &cx,
                    1.0,
                    xv,
                    xv.t(),
                    0.0,
                    MatMut::row_major(&mut a, r, r).unwrap(),
                    Epilogue::None,
                )
                .unwrap();
                let av = MatRef::row_major(&a, r, r).unwrap();
                matmul(
                    &cx,
                    coef[2],
                    av,
                    av,
                    coef[1],
                    MatMut::row_major(&mut pm, r, r).unwrap(),
                    Epilogue::None,
                )
                .unwrap();
                let pv = MatRef::row_major(&pm, r, r).unwrap();
                matmul(
                    &cx,
                    1.0,
                    pv,
                    xv,
                    coef[0],
                    MatMut::row_major(&mut xn, r, k).unwrap(),
                    Epilogue::None,
                )
                .unwrap();
            }
            black_box(&xn);
        })
    });
    group.finish();
}

/// L-BFGS's two-loop recursion with 10 pairs, at the MLP's size (its 22
/// vectors, 9.6 MB, live in L3 on most machines) and at 4M (DRAM), against
/// triad over the same footprint (three arrays of 22n/3), so both run
/// from the same level of the memory hierarchy. Bytes: the first dot reads 2 vectors; each of the 2k
/// fused steps reads 3 and writes 1; the scale reads 1 and writes 1; the
/// negation reads g and writes q.
fn bench_lbfgs(c: &mut Criterion) {
    let mut group = c.benchmark_group("lbfgs");
    group.sample_size(20);
    let k = 10usize;
    for n in [109_386usize, 4_194_304] {
        let g = random(n, 1);
        let dirs: std::collections::VecDeque<Vec<f32>> =
            (0..k).map(|i| random(n, 10 + i as u64)).collect();
        let stps: std::collections::VecDeque<Vec<f32>> =
            (0..k).map(|i| random(n, 30 + i as u64)).collect();
        let ro: std::collections::VecDeque<f32> = (0..k).map(|i| 0.1 / (i + 1) as f32).collect();
        let (mut al, mut d) = (vec![0.0f32; k], Vec::new());
        let bytes = 4 * n as u64 * (2 + 2 * k as u64 * 4 + 2 + 2 + 2);
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(BenchmarkId::new("two_loop/k10", n), |b| {
            b.iter(|| two_loop(black_box(&g), &dirs, &stps, &ro, 0.5, &mut al, &mut d))
        });
        let m = (2 * k + 2) * n / 3;
        let (src, c2) = (random(m, 3), random(m, 4));
        let mut dst = vec![0.0f32; m];
        group.throughput(Throughput::Bytes(12 * m as u64));
        group.bench_function(BenchmarkId::new("memory/triad_same_footprint", n), |b| {
            b.iter(|| roof::triad(black_box(&mut dst), black_box(&src), black_box(&c2), 0.5))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_steps, bench_matrix_rules, bench_lbfgs);
criterion_main!(benches);
