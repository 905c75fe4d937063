//! Each fused optimizer kernel against its scalar twin.
//!
//! Tolerance (random data): after three consecutive steps, every parameter
//! and state element satisfies `|fused − twin| ≤ 1e-6·(|twin| + scale)`,
//! where `scale` is the largest magnitude in that buffer (at least 1 for the
//! parameters, which start in [−1, 1)). The fused body uses
//! FMA (one rounding) where the twin multiplies then adds (two), so they
//! differ by a few ulps of the largest term that enters an element; the
//! `scale` term covers elements that cancel to nearly zero (e.g. a momentum
//! buffer whose old value and new gradient have opposite signs).
//!
//! Exactness: with power-of-two hyper-parameters and small integer data every
//! product the kernel fuses is exact, so fused and twin must agree bit for bit.
//!
//! Every fused kernel runs at every width ([`F32x8`], the AVX2 path, and
//! [`F32x16`], the AVX-512 path; both are correct on every machine), and
//! the two widths must give the same bits: the kernels are elementwise.
//!
//! Sizes 0..=67 (every tail length, several bodies) and 100 000, aligned and
//! unaligned (`&buf[1..]`), every flag combination, `grad_scale` ∈ {1, −1, 0.3}
//! (plain, maximize, maximize with clipping).

use descent_core::simd::{F32x16, F32x8, Vector};
use descent_core::step::*;
use descent_core::Compute;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One rule with its flags; `state` is how many state buffers it needs.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Sgd(SgdStep),
    Momentum(MomentumStep),
    Adagrad(AdagradStep),
    Rmsprop {
        h: RmspropStep,
        centered: bool,
        momentum: bool,
    },
    Adam(AdamStep),
    Adamax(AdamaxStep),
    Lion(LionStep),
    Adadelta(AdadeltaStep),
    Nadam(NadamStep),
    Radam(RadamStep),
    Rprop(RpropStep),
    Asgd(AsgdStep),
    ScheduleFree(ScheduleFreeStep),
}

impl Rule {
    fn n_state(&self) -> usize {
        match self {
            Rule::Sgd(_) => 0,
            Rule::Momentum(_) | Rule::Adagrad(_) => 1,
            Rule::Rmsprop {
                centered, momentum, ..
            } => 1 + *centered as usize + *momentum as usize,
            Rule::Adam(h) => 2 + h.amsgrad as usize,
            Rule::Adamax(_) => 2,
            Rule::Lion(_) => 1,
            Rule::Adadelta(_) | Rule::Nadam(_) | Rule::Radam(_) | Rule::Rprop(_) => 2,
            Rule::Asgd(_) => 1,
            Rule::ScheduleFree(_) => 2,
        }
    }

    /// Range of valid random starting values of state buffer `k`: second
    /// moments are ≥ 0, and RMSprop's centered variant needs `v ≥ ḡ²`.
    fn state_range(&self, k: usize) -> (f32, f32) {
        match self {
            Rule::Momentum(_) => (-0.5, 0.5),
            Rule::Rmsprop { centered: true, .. } if k == 0 => (0.05, 0.5),
            Rule::Rmsprop { centered: true, .. } if k == 1 => (-0.2, 0.2),
            Rule::Rmsprop { .. } if k >= 1 => (-0.5, 0.5),
            Rule::Adam(_) | Rule::Adamax(_) | Rule::Nadam(_) | Rule::Radam(_) if k == 0 => {
                (-0.5, 0.5)
            }
            Rule::Lion(_) | Rule::Asgd(_) => (-0.5, 0.5),
            Rule::Rprop(_) | Rule::ScheduleFree(_) if k == 0 => (-0.5, 0.5),
            Rule::Rprop(_) => (1e-6, 0.05),
            _ => (0.0, 0.5),
        }
    }

    /// The rule at step `t` (1-based): flags that change with t are set here.
    fn at_step(&self, t: u64) -> Rule {
        match *self {
            Rule::Momentum(mut h) => {
                h.first_step = t == 1;
                Rule::Momentum(h)
            }
            Rule::Adam(h) => Rule::Adam(AdamStep::new(
                h.lr,
                h.beta1,
                h.beta2,
                h.eps,
                h.weight_decay,
                h.decoupled,
                h.amsgrad,
                t,
                h.grad_scale,
            )),
            r => r,
        }
    }

    /// One step, as `run` says.
    fn apply(&self, run: Run, p: &mut [f32], g: &[f32], st: &mut [Vec<f32>]) {
        match run {
            Run::Twin => self.apply_with::<F32x8>(false, p, g, st),
            Run::X8 => self.apply_with::<F32x8>(true, p, g, st),
            Run::X16 => self.apply_with::<F32x16>(true, p, g, st),
        }
    }

    /// One step: the fused kernel on vectors `V`, or the scalar twin.
    fn apply_with<V: Vector>(&self, fused: bool, p: &mut [f32], g: &[f32], st: &mut [Vec<f32>]) {
        match self {
            Rule::Sgd(h) => {
                if fused {
                    sgd::<V>(p, g, h)
                } else {
                    sgd_scalar(p, g, h)
                }
            }
            Rule::Momentum(h) => {
                if fused {
                    momentum::<V>(p, g, &mut st[0], h)
                } else {
                    momentum_scalar(p, g, &mut st[0], h)
                }
            }
            Rule::Adagrad(h) => {
                if fused {
                    adagrad::<V>(p, g, &mut st[0], h)
                } else {
                    adagrad_scalar(p, g, &mut st[0], h)
                }
            }
            Rule::Rmsprop {
                h,
                centered,
                momentum,
            } => {
                let (sq, rest) = st.split_first_mut().unwrap();
                let mut rest = rest.iter_mut();
                let ga = if *centered {
                    Some(&mut rest.next().unwrap()[..])
                } else {
                    None
                };
                let bf = if *momentum {
                    Some(&mut rest.next().unwrap()[..])
                } else {
                    None
                };
                let state = RmspropState {
                    square_avg: sq,
                    grad_avg: ga,
                    momentum_buffer: bf,
                };
                if fused {
                    rmsprop::<V>(p, g, state, h)
                } else {
                    rmsprop_scalar(p, g, state, h)
                }
            }
            Rule::Adam(h) => {
                let (m, rest) = st.split_first_mut().unwrap();
                let (v, rest) = rest.split_first_mut().unwrap();
                let vm = rest.first_mut().map(|x| &mut x[..]);
                if fused {
                    adam::<V>(p, g, m, v, vm, h)
                } else {
                    adam_scalar(p, g, m, v, vm, h)
                }
            }
            Rule::Adamax(h) => {
                let (m, rest) = st.split_first_mut().unwrap();
                let u = &mut rest[0];
                if fused {
                    adamax::<V>(p, g, m, u, h)
                } else {
                    adamax_scalar(p, g, m, u, h)
                }
            }
            Rule::Lion(h) => {
                if fused {
                    lion::<V>(p, g, &mut st[0], h)
                } else {
                    lion_scalar(p, g, &mut st[0], h)
                }
            }
            Rule::Asgd(h) => {
                if fused {
                    asgd::<V>(p, g, &mut st[0], h)
                } else {
                    asgd_scalar(p, g, &mut st[0], h)
                }
            }
            Rule::Adadelta(h) => {
                let [a, b] = two(st);
                if fused {
                    adadelta::<V>(p, g, a, b, h)
                } else {
                    adadelta_scalar(p, g, a, b, h)
                }
            }
            Rule::Nadam(h) => {
                let [a, b] = two(st);
                if fused {
                    nadam::<V>(p, g, a, b, h)
                } else {
                    nadam_scalar(p, g, a, b, h)
                }
            }
            Rule::Radam(h) => {
                let [a, b] = two(st);
                if fused {
                    radam::<V>(p, g, a, b, h)
                } else {
                    radam_scalar(p, g, a, b, h)
                }
            }
            Rule::ScheduleFree(h) => {
                let [a, b] = two(st);
                if fused {
                    schedule_free::<V>(p, g, a, b, h)
                } else {
                    schedule_free_scalar(p, g, a, b, h)
                }
            }
            Rule::Rprop(h) => {
                let [a, b] = two(st);
                if fused {
                    rprop::<V>(p, g, a, b, h)
                } else {
                    rprop_scalar(p, g, a, b, h)
                }
            }
        }
    }
}

/// The first two state buffers, both mutable.
fn two(st: &mut [Vec<f32>]) -> [&mut [f32]; 2] {
    let (a, rest) = st.split_first_mut().unwrap();
    [&mut a[..], &mut rest[0][..]]
}

/// How a step runs: the scalar twin, or the fused kernel at a width.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Run {
    Twin,
    X8,
    X16,
}

/// The fused runs, one per width.
const WIDTHS: [Run; 2] = [Run::X8, Run::X16];

/// Every rule and flag combination, with realistic hyper-parameters.
fn all_rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    for &gs in &[1.0f32, -1.0, -0.3] {
        for &wd in &[0.0f32, 0.01] {
            rules.push(Rule::Sgd(SgdStep {
                lr: 0.1,
                weight_decay: wd,
                grad_scale: gs,
            }));
            for &nesterov in &[false, true] {
                for &damp in &[0.0f32, 0.1] {
                    if nesterov && damp != 0.0 {
                        continue;
                    }
                    rules.push(Rule::Momentum(MomentumStep {
                        lr: 0.1,
                        weight_decay: wd,
                        momentum: 0.9,
                        dampening: damp,
                        nesterov,
                        first_step: true,
                        grad_scale: gs,
                    }));
                }
            }
            rules.push(Rule::Adagrad(AdagradStep {
                clr: 0.01,
                weight_decay: wd,
                eps: 1e-10,
                grad_scale: gs,
            }));
            for &centered in &[false, true] {
                for &mom in &[false, true] {
                    rules.push(Rule::Rmsprop {
                        h: RmspropStep {
                            lr: 0.01,
                            alpha: 0.99,
                            eps: 1e-8,
                            weight_decay: wd,
                            momentum: if mom { 0.9 } else { 0.0 },
                            grad_scale: gs,
                        },
                        centered,
                        momentum: mom,
                    });
                }
            }
            for &decoupled in &[false, true] {
                for &amsgrad in &[false, true] {
                    rules.push(Rule::Adam(AdamStep::new(
                        1e-3, 0.9, 0.999, 1e-8, wd, decoupled, amsgrad, 1, gs,
                    )));
                }
            }
        }
    }
    // Appended, so that the rules above keep their random data.
    for &gs in &[1.0f32, -1.0, -0.3] {
        for &wd in &[0.0f32, 0.01] {
            rules.push(Rule::Adamax(AdamaxStep::new(
                2e-3, 0.9, 0.999, 1e-8, wd, 3, gs,
            )));
            rules.push(Rule::Lion(LionStep::new(1e-4, 0.9, 0.99, wd, gs)));
        }
    }
    // Appended again: the rules of the second half of torch.optim.
    for &gs in &[1.0f32, -1.0, -0.3] {
        for &wd in &[0.0f32, 0.01] {
            rules.push(Rule::Adadelta(AdadeltaStep {
                lr: 1.0,
                rho: 0.9,
                eps: 1e-6,
                weight_decay: wd,
                grad_scale: gs,
            }));
            for decoupled in [false, true] {
                rules.push(Rule::Nadam(NadamStep::new(
                    2e-3, 0.9, 0.999, 1e-8, wd, decoupled, 4e-3, 3, 0.3, gs,
                )));
                // Step 3 is before the rectification switch, step 10 after.
                for t in [3, 10] {
                    rules.push(Rule::Radam(RadamStep::new(
                        1e-3, 0.9, 0.999, 1e-8, wd, decoupled, t, gs,
                    )));
                }
            }
            for mu in [1.0f32, 0.25] {
                rules.push(Rule::Asgd(AsgdStep::new(0.01, mu, 1e-4, wd, gs)));
            }
        }
        for (wd, ckp1) in [(0.0f32, 1.0f32), (0.01, 0.5), (0.0, 0.2)] {
            rules.push(Rule::ScheduleFree(ScheduleFreeStep {
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
                inv_bias_correction2: 1.0 / 0.003,
                ckp1,
                y_coef: 2.5e-3 * (0.9 * (1.0 - ckp1) - 1.0),
                lr: 2.5e-3,
                grad_scale: gs,
            }));
        }
        rules.push(Rule::Rprop(RpropStep {
            eta_minus: 0.5,
            eta_plus: 1.2,
            step_min: 1e-6,
            step_max: 50.0,
            grad_scale: gs,
        }));
    }
    rules
}

fn random(len: usize, rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// Runs three steps of `rule` fused at `width` and scalar from the same
/// start, on buffers that start at offset `off` in their allocation;
/// returns (fused, twin) parameter and state buffers.
fn three_steps(
    rule: Rule,
    width: Run,
    n: usize,
    off: usize,
    seed: u64,
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p0 = random(n + off, &mut rng, -1.0, 1.0);
    let st0: Vec<Vec<f32>> = (0..rule.n_state())
        .map(|k| {
            let (lo, hi) = rule.state_range(k);
            random(n + off, &mut rng, lo, hi)
        })
        .collect();
    let grads: Vec<Vec<f32>> = (0..3)
        .map(|_| random(n + off, &mut rng, -1.0, 1.0))
        .collect();
    let mut out = Vec::new();
    for run in [width, Run::Twin] {
        let mut p = p0.clone();
        let mut st = st0.clone();
        for (t, g) in grads.iter().enumerate() {
            let r = rule.at_step(t as u64 + 1);
            let mut views: Vec<Vec<f32>> = st.iter().map(|s| s[off..].to_vec()).collect();
            r.apply(run, &mut p[off..], &g[off..], &mut views);
            for (s, v) in st.iter_mut().zip(&views) {
                s[off..].copy_from_slice(v);
            }
        }
        let mut bufs = vec![p[off..].to_vec()];
        bufs.extend(st.iter().map(|s| s[off..].to_vec()));
        out.push(bufs);
    }
    let twin = out.pop().unwrap();
    (out.pop().unwrap(), twin)
}

fn assert_close(rule: &Rule, n: usize, off: usize, fused: &[Vec<f32>], twin: &[Vec<f32>]) -> f64 {
    let mut worst = 0.0f64;
    for (k, (a, b)) in fused.iter().zip(twin).enumerate() {
        let mut scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        if k == 0 {
            // Parameters start in [−1, 1): the terms of every update are
            // O(1) even where the result cancels (and for n = 1 the buffer's
            // own maximum is that one cancelled element).
            scale = scale.max(1.0);
        }
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!(
                x.is_finite() && y.is_finite(),
                "{rule:?} n={n} off={off} buf {k}[{i}]: {x} vs {y}"
            );
            // (Equal values are no error, even where both are 0 and so is
            // the scale: Rprop zeroes a gradient after a sign change.)
            let err = if x == y {
                0.0
            } else {
                (x as f64 - y as f64).abs() / (y.abs() as f64 + scale)
            };
            worst = worst.max(err);
            assert!(
                err <= 1e-6,
                "{rule:?} n={n} off={off} buf {k}[{i}]: fused {x} vs twin {y} (rel {err:e})"
            );
        }
    }
    worst
}

#[test]
fn fused_equals_twin_small_sizes_every_flag() {
    let mut worst = 0.0f64;
    for width in WIDTHS {
        for (ri, rule) in all_rules().into_iter().enumerate() {
            for n in 0..=67 {
                for off in [0, 1] {
                    let seed = (ri * 1000 + n * 2 + off) as u64;
                    let (f, t) = three_steps(rule, width, n, off, seed);
                    worst = worst.max(assert_close(&rule, n, off, &f, &t));
                }
            }
        }
    }
    eprintln!("worst scaled relative difference, sizes 0..=67: {worst:e}");
}

#[test]
fn fused_equals_twin_large_unaligned_every_flag() {
    for width in WIDTHS {
        for (ri, rule) in all_rules().into_iter().enumerate() {
            let (f, t) = three_steps(rule, width, 100_000, 1, 77 + ri as u64);
            assert_close(&rule, 100_000, 1, &f, &t);
        }
    }
}

/// The width never changes the bits: every rule and flag, fused on 8 and
/// on 16 lanes from the same start, on every tail length.
#[test]
fn every_width_gives_the_same_bits() {
    for (ri, rule) in all_rules().into_iter().enumerate() {
        for n in (0..=67).chain([1001]) {
            let seed = (ri * 1000 + n) as u64;
            let (x8, _) = three_steps(rule, Run::X8, n, 1, seed);
            let (x16, _) = three_steps(rule, Run::X16, n, 1, seed);
            for (a, b) in x8.iter().zip(&x16) {
                let ab: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
                let bb: Vec<u32> = b.iter().map(|v| v.to_bits()).collect();
                assert_eq!(ab, bb, "{rule:?} n={n}");
            }
        }
    }
}

/// The fused result of an element does not depend on its position: the same
/// data run at offset 1 (every element in a different lane, the tail shifted)
/// gives bit-identical results to offset 0.
#[test]
fn fused_is_position_independent() {
    for (ri, rule, width) in all_rules()
        .into_iter()
        .enumerate()
        .flat_map(|(ri, r)| WIDTHS.map(|w| (ri, r, w)))
    {
        for n in [13usize, 64, 67] {
            let mut rng = ChaCha8Rng::seed_from_u64(ri as u64 + 5);
            let p = random(n, &mut rng, -1.0, 1.0);
            let g = random(n, &mut rng, -1.0, 1.0);
            let st: Vec<Vec<f32>> = (0..rule.n_state())
                .map(|_| random(n, &mut rng, 0.0, 0.5))
                .collect();
            let run = |shift: usize| {
                let mut pp = vec![0.5f32; n + shift];
                pp[shift..].copy_from_slice(&p);
                let mut gg = vec![0.25f32; n + shift];
                gg[shift..].copy_from_slice(&g);
                let mut ss: Vec<Vec<f32>> = st
                    .iter()
                    .map(|s| {
                        let mut v = vec![0.125f32; n + shift];
                        v[shift..].copy_from_slice(s);
                        v
                    })
                    .collect();
                rule.at_step(2).apply(width, &mut pp, &gg, &mut ss);
                let mut out = vec![pp[shift..].to_vec()];
                out.extend(ss.iter().map(|s| s[shift..].to_vec()));
                out
            };
            let base = run(0);
            for shift in 1..8 {
                let r = run(shift);
                for (x, y) in base.iter().zip(&r) {
                    let xb: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
                    let yb: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(xb, yb, "{rule:?} {width:?} n={n} shift={shift}");
                }
            }
        }
    }
}

/// Power-of-two hyper-parameters and small integer data: every product the
/// fused body folds into an FMA is exact, so fused and twin agree bit for bit
/// over three steps.
#[test]
fn fused_equals_twin_exactly_on_dyadic_data() {
    let mut rules = Vec::new();
    for &gs in &[1.0f32, -1.0] {
        for &wd in &[0.0f32, 0.5] {
            rules.push(Rule::Sgd(SgdStep {
                lr: 0.25,
                weight_decay: wd,
                grad_scale: gs,
            }));
            for (nesterov, damp) in [(false, 0.0f32), (false, 0.5), (true, 0.0)] {
                rules.push(Rule::Momentum(MomentumStep {
                    lr: 0.25,
                    weight_decay: wd,
                    momentum: 0.5,
                    dampening: damp,
                    nesterov,
                    first_step: true,
                    grad_scale: gs,
                }));
            }
        }
        // L2 decay makes the gradient an arbitrary float after step 1, and
        // then `g²` is not exact: the adaptive rules run without it here.
        {
            let wd = 0.0;
            rules.push(Rule::Adagrad(AdagradStep {
                clr: 0.5,
                weight_decay: wd,
                eps: 0.25,
                grad_scale: gs,
            }));
            for centered in [false, true] {
                for mom in [false, true] {
                    rules.push(Rule::Rmsprop {
                        h: RmspropStep {
                            lr: 0.25,
                            alpha: 0.5,
                            eps: 0.125,
                            weight_decay: wd,
                            momentum: if mom { 0.5 } else { 0.0 },
                            grad_scale: gs,
                        },
                        centered,
                        momentum: mom,
                    });
                }
            }
        }
    }
    let mut dyadic_adam = Vec::new();
    for &gs in &[1.0f32, -1.0] {
        for (decoupled, wd) in [(false, 0.0f32), (true, 0.5)] {
            for amsgrad in [false, true] {
                dyadic_adam.push(AdamStep {
                    lr: 0.25,
                    beta1: 0.5,
                    beta2: 0.5,
                    eps: 0.125,
                    weight_decay: wd,
                    decoupled,
                    amsgrad,
                    step_size: 0.5,
                    inv_bias_correction2_sqrt: 2.0,
                    grad_scale: gs,
                });
            }
        }
    }
    let n = 67;
    let ints = |seed: u64, lo: i32, hi: i32| -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(lo..=hi) as f32).collect()
    };
    let check = |rule: Rule, fixed_step: bool| {
        let p0 = ints(1, -8, 8);
        let grads = [ints(2, -4, 4), ints(3, -4, 4), ints(4, -4, 4)];
        let st0: Vec<Vec<f32>> = (0..rule.n_state())
            .map(|k| ints(10 + k as u64, 0, 4))
            .collect();
        let mut res = Vec::new();
        for run in [Run::Twin, Run::X8, Run::X16] {
            let mut p = p0.clone();
            let mut st = st0.clone();
            for (t, g) in grads.iter().enumerate() {
                let r = if fixed_step {
                    rule
                } else {
                    rule.at_step(t as u64 + 1)
                };
                r.apply(run, &mut p, g, &mut st);
            }
            let mut all: Vec<u32> = p.iter().map(|v| v.to_bits()).collect();
            for s in &st {
                all.extend(s.iter().map(|v| v.to_bits()));
            }
            res.push(all);
        }
        assert_eq!(res[0], res[1], "{rule:?} f32x8");
        assert_eq!(res[0], res[2], "{rule:?} f32x16");
    };
    for r in rules {
        check(r, false);
    }
    for h in dyadic_adam {
        check(Rule::Adam(h), true);
    }
}

#[test]
fn momentum_first_step_ignores_old_buffer() {
    let h = MomentumStep {
        lr: 0.5,
        weight_decay: 0.0,
        momentum: 0.9,
        dampening: 0.5,
        nesterov: false,
        first_step: true,
        grad_scale: 1.0,
    };
    let mut p = vec![1.0f32; 11];
    let g = vec![2.0f32; 11];
    let mut b = vec![f32::NAN; 11];
    momentum::<F32x8>(&mut p, &g, &mut b, &h);
    assert!(b.iter().all(|&v| v == 2.0), "{b:?}");
    assert!(p.iter().all(|&v| v == 0.0), "{p:?}");
}

#[test]
#[should_panic(expected = "slice lengths differ")]
fn length_mismatch_panics_with_lengths() {
    let mut p = vec![0.0f32; 9];
    sgd::<F32x16>(
        &mut p,
        &[0.0; 8],
        &SgdStep {
            lr: 0.1,
            weight_decay: 0.0,
            grad_scale: 1.0,
        },
    );
}

/// The gradient norm at each width within 1e-6 of the f64 twin, and the
/// same bits on 1–4 threads (its pieces are fixed, whatever the pool).
#[test]
fn grad_norm_matches_twin_on_many_sizes() {
    fn at_width<V: Vector>(pools: &[Compute]) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for n in (0..=67).chain([100_000, 3 * NORM_CHUNK + 17]) {
            let g = random(n + 1, &mut rng, -2.0, 2.0);
            let a = grad_norm::<V>(&Compute::serial(), &g[1..]);
            let b = grad_norm_scalar(&g[1..]);
            assert!(
                (a - b).abs() <= 1e-6 * b.max(f32::MIN_POSITIVE),
                "x{} n={n}: {a} vs {b}",
                V::LANES
            );
            for cx in pools {
                let t = grad_norm::<V>(cx, &g[1..]);
                assert_eq!(
                    t.to_bits(),
                    a.to_bits(),
                    "n={n}, {} threads",
                    cx.thread_count()
                );
            }
        }
    }
    let pools: Vec<Compute> = (1..=4).map(Compute::threads).collect();
    at_width::<F32x8>(&pools);
    at_width::<F32x16>(&pools);
}

/// Schedule-Free's x from y and z: fused at both widths against the twin
/// (within an ulp of the terms: one FMA against two roundings), and the
/// same bits at both widths, over every tail length and unaligned.
#[test]
fn schedule_free_x_agrees_with_twin() {
    let w = 1.0 - 1.0 / 0.9f32;
    for n in (0..=67).chain([1001]) {
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
        let y = random(n + 1, &mut rng, -1.0, 1.0);
        let z = random(n + 1, &mut rng, -1.0, 1.0);
        let (mut a, mut b, mut t) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        schedule_free_x::<F32x8>(&y[1..], &z[1..], w, &mut a);
        schedule_free_x::<F32x16>(&y[1..], &z[1..], w, &mut b);
        schedule_free_x_scalar(&y[1..], &z[1..], w, &mut t);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        for (x, e) in a.iter().zip(&t) {
            assert!((x - e).abs() <= 1e-6, "n={n}: {x} vs {e}");
        }
    }
}

/// Adafactor's three passes against their scalar twins, on odd shapes
/// (every column tail), unaligned: the elementwise results within an ulp
/// of the terms (FMA against two roundings), the sums within 1e-6 (their
/// partial sums are grouped by the width), and the elementwise parts the
/// same bits at both widths.
#[test]
fn adafactor_passes_agree_with_twins() {
    use descent_core::step::adafactor::*;
    fn at<V: Vector>(rows: usize, cols: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g = random(rows * cols + 1, &mut rng, -1.0, 1.0);
        let p0 = random(rows * cols + 1, &mut rng, -1.0, 1.0);
        let g = &g[1..];
        let (s, floor, decay, coef) = (-0.7f32, 1e-6f32, 0.999f32, 0.01f32);
        let (mut r, mut c) = (vec![0.0; rows], vec![0.0; cols]);
        let (mut rt, mut ct) = (vec![0.0; rows], vec![0.0; cols]);
        square_sums::<V>(g, cols, s, &mut r, &mut c);
        square_sums_scalar(g, cols, s, &mut rt, &mut ct);
        for (x, y) in r.iter().zip(&rt).chain(c.iter().zip(&ct)) {
            assert!(
                (x - y).abs() <= 1e-6 * y.max(1.0),
                "{rows}×{cols}: {x} vs {y}"
            );
        }
        // From here on both sides use the twin's sums, so the elementwise
        // passes are compared alone.
        let den = 0.3f32;
        let a = factored_update_sq::<V>(g, s, &rt, &ct, den, floor);
        let b = factored_update_sq_scalar(g, s, &rt, &ct, den, floor);
        assert!(
            (a - b).abs() <= 1e-5 * b.max(1.0),
            "{rows}×{cols}: {a} vs {b}"
        );
        let (mut p, mut pt) = (p0[1..].to_vec(), p0[1..].to_vec());
        factored_apply::<V>(&mut p, g, s, &rt, &ct, den, floor, decay, coef);
        factored_apply_scalar(&mut pt, g, s, &rt, &ct, den, floor, decay, coef);
        for (x, y) in p.iter().zip(&pt) {
            assert!((x - y).abs() <= 1e-6, "{rows}×{cols}: {x} vs {y}");
        }
        let v0: Vec<f32> = g.iter().map(|x| x.abs() * 0.5).collect();
        let (mut v, mut vt) = (v0.clone(), v0.clone());
        let a = unfactored_update_sq::<V>(g, s, &mut v, 0.4, floor);
        let b = unfactored_update_sq_scalar(g, s, &mut vt, 0.4, floor);
        assert!(
            (a - b).abs() <= 1e-5 * b.max(1.0),
            "{rows}×{cols}: {a} vs {b}"
        );
        let (mut q, mut qt) = (p0[1..].to_vec(), p0[1..].to_vec());
        unfactored_apply::<V>(&mut q, g, s, &vt, floor, decay, coef);
        unfactored_apply_scalar(&mut qt, g, s, &vt, floor, decay, coef);
        for (x, y) in q.iter().zip(&qt).chain(v.iter().zip(&vt)) {
            assert!(
                (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                "{rows}×{cols}: {x} vs {y}"
            );
        }
        vec![p, q, v]
    }
    for (rows, cols) in [(1, 1), (3, 5), (7, 17), (10, 64), (13, 33), (4, 100)] {
        let seed = (rows * 100 + cols) as u64;
        let x8 = at::<F32x8>(rows, cols, seed);
        let x16 = at::<F32x16>(rows, cols, seed);
        for (a, b) in x8.iter().zip(&x16) {
            let ab: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
            let bb: Vec<u32> = b.iter().map(|v| v.to_bits()).collect();
            assert_eq!(ab, bb, "{rows}×{cols}");
        }
    }
}

/// Muon's elementwise passes (the momentum with and without the Nesterov
/// look-ahead, and the step) against their twins at both widths, every
/// tail, unaligned; the widths give the same bits.
#[test]
fn muon_passes_agree_with_twins() {
    for n in (0..=67).chain([1001]) {
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64 + 3);
        let g = random(n + 1, &mut rng, -1.0, 1.0);
        let b0 = random(n + 1, &mut rng, -0.5, 0.5);
        let p0 = random(n + 1, &mut rng, -1.0, 1.0);
        for nesterov in [false, true] {
            let mut outs = Vec::new();
            for run in [Run::Twin, Run::X8, Run::X16] {
                let (mut b, mut u, mut p) = (b0[1..].to_vec(), vec![0.0; n], p0[1..].to_vec());
                let (mu, omm) = (0.95f32, one_minus(0.95));
                match run {
                    Run::Twin => {
                        muon_momentum_scalar(&g[1..], -0.3, &mut b, mu, omm, nesterov, &mut u);
                        muon_apply_scalar(&mut p, &u, 0.998, 0.02);
                    }
                    Run::X8 => {
                        muon_momentum::<F32x8>(&g[1..], -0.3, &mut b, mu, omm, nesterov, &mut u);
                        muon_apply::<F32x8>(&mut p, &u, 0.998, 0.02);
                    }
                    Run::X16 => {
                        muon_momentum::<F32x16>(&g[1..], -0.3, &mut b, mu, omm, nesterov, &mut u);
                        muon_apply::<F32x16>(&mut p, &u, 0.998, 0.02);
                    }
                }
                outs.push([b, u, p]);
            }
            for (k, (t, x)) in outs[0].iter().zip(&outs[1]).enumerate() {
                for (a, e) in x.iter().zip(t) {
                    assert!((a - e).abs() <= 1e-6, "n={n} buf {k}: {a} vs {e}");
                }
            }
            for (x8, x16) in outs[1].iter().zip(&outs[2]) {
                let a: Vec<u32> = x8.iter().map(|v| v.to_bits()).collect();
                let b: Vec<u32> = x16.iter().map(|v| v.to_bits()).collect();
                assert_eq!(a, b, "n={n}");
            }
        }
    }
}

/// L-BFGS's dot product and fused axpy-and-dot against their twins at both
/// widths, every tail, unaligned: the updated vector the same bits at both
/// widths (elementwise), the sums within 1e-5 of the f64 twin's.
#[test]
fn lbfgs_kernels_agree_with_twins() {
    use descent_core::step::lbfgs::*;
    for n in (0..=67).chain([1001, 100_000]) {
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64 + 11);
        let q0 = random(n + 1, &mut rng, -1.0, 1.0);
        let x = random(n + 1, &mut rng, -1.0, 1.0);
        let z = random(n + 1, &mut rng, -1.0, 1.0);
        let (x, z) = (&x[1..], &z[1..]);
        let want = dot_scalar(&q0[1..], x);
        let scale_of = (n as f32).sqrt().max(1.0);
        for got in [dot::<F32x8>(&q0[1..], x), dot::<F32x16>(&q0[1..], x)] {
            assert!(
                (got - want).abs() <= 1e-5 * scale_of,
                "dot n={n}: {got} vs {want}"
            );
        }
        let mut qt = q0[1..].to_vec();
        let st = axpy_dot_scalar(&mut qt, -0.7, x, z);
        let mut outs = Vec::new();
        for w in [8, 16] {
            let mut q = q0[1..].to_vec();
            let s = if w == 8 {
                axpy_dot::<F32x8>(&mut q, -0.7, x, z)
            } else {
                axpy_dot::<F32x16>(&mut q, -0.7, x, z)
            };
            assert!(
                (s - st).abs() <= 1e-5 * scale_of,
                "axpy_dot n={n}: {s} vs {st}"
            );
            for (a, b) in q.iter().zip(&qt) {
                assert!((a - b).abs() <= 1e-6, "axpy n={n}: {a} vs {b}");
            }
            outs.push(q.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        assert_eq!(outs[0], outs[1], "n={n}");
    }
}
