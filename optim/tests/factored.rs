//! `Optimizer::step_factored` (the gradient made in registers from its
//! factors, never stored) gives the bits `Optimizer::step` gives for the
//! same gradient stored, for every elementwise rule, on one thread and on
//! three; it declines, touching nothing, where the step would depend on
//! the norm's last bits (clipping at work, a non-finite norm) and for the
//! rules that are not elementwise.

use descent_optim::*;

/// Two Linear layers, 13 → 7 → 3, on B rows: the factors of their
/// gradient, which change with the step so that every step differs.
struct Layers {
    x0: Vec<f32>,
    dy0: Vec<f32>,
    x1: Vec<f32>,
    dy1: Vec<f32>,
    rows: usize,
}

const PARAMS: usize = 13 * 7 + 7 + 7 * 3 + 3;

impl Layers {
    /// Deterministic values from `+`, `*` and integers only (see
    /// state.rs on why not `sin`).
    fn at(t: usize, rows: usize) -> Layers {
        let v = |n: usize, salt: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 29 + t * 11 + salt) % 23) as f32 * 0.0625 - 0.7)
                .collect()
        };
        Layers {
            x0: v(rows * 13, 1),
            dy0: v(rows * 7, 2),
            x1: v(rows * 7, 3),
            dy1: v(rows * 3, 4),
            rows,
        }
    }

    /// The gradient's values, read element by element.
    fn stored(&self) -> Vec<f32> {
        let mut g = vec![0.0; PARAMS];
        self.segments(0..PARAMS, &mut |at, seg| {
            for k in 0..seg.len() {
                g[at + k] = match seg {
                    step::Segment::Scaled(s) => step::GradIn::<Wide>::get(&s, k),
                    step::Segment::ScaledRows(s) => step::GradIn::<Wide>::get(&s, k),
                    step::Segment::AheadRows(s) => step::GradIn::<Wide>::get(&s, k),
                    step::Segment::Row(s) => step::GradIn::<Wide>::get(&s, k),
                    step::Segment::Sums(s) => step::GradIn::<Wide>::get(&s, k),
                };
            }
        });
        g
    }
}

use descent_core::simd::Wide;
use descent_core::step;

impl Factored for Layers {
    fn blocks(&self) -> usize {
        4
    }
    fn block(&self, k: usize) -> Factor<'_> {
        let (dy, x, outs, ins) = match k / 2 {
            0 => (&self.dy0[..], &self.x0[..], 7, 13),
            _ => (&self.dy1[..], &self.x1[..], 3, 7),
        };
        if k % 2 == 0 {
            Factor::Outer {
                dy,
                x,
                rows: self.rows,
                outs,
                ins,
                ahead: None,
            }
        } else {
            Factor::Sums {
                dy,
                rows: self.rows,
                outs,
            }
        }
    }
}

fn norm(g: &[f32]) -> f32 {
    g.iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt() as f32
}

fn kinds() -> impl Iterator<Item = OptimizerKind> {
    OptimizerKind::ALL
        .into_iter()
        .filter(|k| k.uses_gradient() && *k != OptimizerKind::Lbfgs)
}

fn build(kind: OptimizerKind, clip: Option<f32>) -> Box<dyn Optimizer> {
    // A weight decay where the rule has one, so the kernels read p too.
    let decay = Hyper {
        weight_decay: Some(0.01),
        ..Hyper::default()
    };
    let c = OptimizerConfig::new(kind, &decay, clip, 0)
        .or_else(|_| OptimizerConfig::new(kind, &Hyper::default(), clip, 0))
        .unwrap();
    let mut o = c.build().unwrap().into_gradient().unwrap();
    let blocks = [
        Block::of_shape(0, &[7, 13]),
        Block::of_shape(91, &[7]),
        Block::of_shape(98, &[3, 7]),
        Block::of_shape(119, &[3]),
    ];
    o.bind(&blocks).unwrap();
    o
}

#[test]
fn a_factored_step_is_the_stored_step_bit_for_bit() {
    for threads in [1, 3] {
        let cx = Compute::threads(threads);
        for kind in kinds() {
            // A clip far above the norm: the factor is 1 and the step runs.
            let (mut a, mut b) = (build(kind, Some(1e6)), build(kind, Some(1e6)));
            let mut pa: Vec<f32> = (0..PARAMS).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
            let mut pb = pa.clone();
            let mut taken = 0;
            for t in 0..20 {
                let f = Layers::at(t, 1 + t % descent_core::step::MAX_COMBINED);
                let g = f.stored();
                let n = norm(&g);
                let info = a.step(&cx, &mut pa, &g).unwrap();
                match b.step_factored(&cx, &mut pb, n, &f).unwrap() {
                    Some(fi) => {
                        taken += 1;
                        assert_eq!(fi.grad_norm, n, "the caller's norm is reported");
                        assert_eq!(fi.applied, info.applied);
                    }
                    None => {
                        b.step(&cx, &mut pb, &g).unwrap();
                    }
                }
                let what = format!("{} step {t}, {threads} threads", kind.as_str());
                for (i, (x, y)) in pa.iter().zip(&pb).enumerate() {
                    assert_eq!(x.to_bits(), y.to_bits(), "{what}: p[{i}] {x} vs {y}");
                }
                assert_eq!(a.export_state(), b.export_state(), "{what}: state");
            }
            let elementwise = !matches!(kind, OptimizerKind::Adafactor | OptimizerKind::Muon);
            assert_eq!(a.elementwise(), elementwise, "{}", kind.as_str());
            let sgd = matches!(
                kind,
                OptimizerKind::Gd
                    | OptimizerKind::Sgd
                    | OptimizerKind::Momentum
                    | OptimizerKind::Nesterov
            );
            assert_eq!(a.prefers_factored(), sgd, "{}", kind.as_str());
            assert_eq!(taken, if elementwise { 20 } else { 0 }, "{}", kind.as_str());
        }
    }
}

#[test]
fn a_factored_step_declines_where_the_norm_decides() {
    let cx = Compute::serial();
    let f = Layers::at(0, 2);
    let n = norm(&f.stored());
    for kind in kinds().filter(|k| !matches!(k, OptimizerKind::Adafactor | OptimizerKind::Muon)) {
        let p0: Vec<f32> = vec![0.25; PARAMS];
        // Clipping at work (threshold below the norm), just at the
        // threshold, a NaN or infinite norm: nothing is touched.
        for (clip, given) in [
            (Some(n / 2.0), n),
            (Some(n), n),
            (None, f32::NAN),
            (None, f32::INFINITY),
            (None, 1e30),
        ] {
            let mut o = build(kind, clip);
            let mut p = p0.clone();
            let got = o.step_factored(&cx, &mut p, given, &f).unwrap();
            assert!(
                got.is_none(),
                "{} clip {clip:?} norm {given}",
                kind.as_str()
            );
            assert_eq!(p, p0);
            assert_eq!(o.steps(), 0);
        }
        // A gradient of the wrong length is an error naming it.
        let mut o = build(kind, None);
        let e = o
            .step_factored(&cx, &mut vec![0.0; PARAMS + 1], n, &f)
            .unwrap_err();
        assert!(e.to_string().contains("factored grads"), "{e}");
    }
}

/// A step whose weights the caller stepped at SGD's descent rate
/// (`Optimizer::descent`, as a GEMM does with `gemm::matmul_descend`),
/// then completed by `step_descended`, gives the bits `step` gives; of the
/// rules without a buffer only plain SGD descends, and only where the norm
/// cannot decide the step.
#[test]
fn a_descended_step_is_the_stored_step_bit_for_bit() {
    let weights = [0..91, 98..119];
    for threads in [1, 3] {
        let cx = Compute::threads(threads);
        for maximize in [false, true] {
            let cfg = |clip: Option<f32>| {
                let h = Hyper {
                    lr: Some(0.05),
                    maximize,
                    ..Hyper::default()
                };
                OptimizerConfig::new(OptimizerKind::Sgd, &h, clip, 0)
                    .unwrap()
                    .build()
                    .unwrap()
                    .into_gradient()
                    .unwrap()
            };
            let (mut stored, mut descended) = (cfg(None), cfg(None));
            let mut p0: Vec<f32> = (0..PARAMS).map(|i| (i % 17) as f32 * 0.03 - 0.2).collect();
            let mut p1 = p0.clone();
            for t in 0..5 {
                let g = Layers::at(t, 3).stored();
                let n = norm(&g);
                stored.step(&cx, &mut p0, &g).unwrap();
                let Some(DescentStep::Sgd { eta }) = descended.descent(n) else {
                    panic!("plain SGD descends at a rate");
                };
                // The GEMM's store: `eta.mul_neg_add(g, p)`, SGD's kernel
                // at rate η with no decay and a factor of 1.
                let h = step::SgdStep {
                    lr: eta,
                    weight_decay: 0.0,
                    grad_scale: 1.0,
                };
                for w in &weights {
                    step::sgd::<Wide>(&mut p1[w.clone()], &g[w.clone()], &h);
                }
                // The weights' part of the gradient is not read: poison it.
                let mut poisoned = g.clone();
                for w in &weights {
                    poisoned[w.clone()].fill(f32::NAN);
                }
                let info = descended
                    .step_descended(&cx, &mut p1, &poisoned, n, &weights)
                    .unwrap();
                assert!(info.applied && info.grad_norm == n);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&p1),
                    bits(&p0),
                    "maximize {maximize}, step {t}, {threads} threads"
                );
            }
            assert_eq!(descended.steps(), stored.steps());
            // No rate where the norm decides: not finite, or clipping at
            // work at the bound.
            assert!(descended.descent(f32::NAN).is_none());
            assert!(descended.descent(f32::INFINITY).is_none());
            assert!(cfg(Some(1.0)).descent(0.5).is_some());
            assert!(cfg(Some(1.0)).descent(2.0).is_none());
        }
    }
    // Every other rule: no rate, and completing a step is an error.
    for kind in kinds().filter(|&k| k != OptimizerKind::Sgd) {
        let mut o = build(kind, None);
        assert!(o.descent(1.0).is_none(), "{}", kind.as_str());
        let (mut p, g) = (vec![0.0; PARAMS], vec![0.0; PARAMS]);
        let e = o.step_descended(&Compute::serial(), &mut p, &g, 0.0, &weights);
        assert!(e.is_err(), "{}", kind.as_str());
    }
}

/// Momentum (heavy ball and Nesterov, dampened, maximizing) descends from
/// its second step: the caller steps the weights and their part of the
/// buffer with the momentum kernel at the descent's constants (as the
/// GEMM's store does), `step_descended` the rest, and weights and buffer
/// are the bits of `step`. No step is offered before the buffer exists,
/// with weight decay, or where the norm decides; no other rule offers one.
#[test]
fn a_descended_momentum_step_is_the_stored_step_bit_for_bit() {
    let weights = [0..91, 98..119];
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for threads in [1, 3] {
        let cx = Compute::threads(threads);
        for (kind, dampening, maximize) in [
            (OptimizerKind::Momentum, 0.0, false),
            (OptimizerKind::Momentum, 0.3, true),
            (OptimizerKind::Nesterov, 0.0, true),
        ] {
            let cfg = |clip: Option<f32>, decay: f32| {
                let h = Hyper {
                    lr: Some(0.05),
                    momentum: Some(0.9),
                    dampening: Some(dampening),
                    weight_decay: Some(decay),
                    maximize,
                    ..Hyper::default()
                };
                OptimizerConfig::new(kind, &h, clip, 0)
                    .unwrap()
                    .build()
                    .unwrap()
                    .into_gradient()
                    .unwrap()
            };
            let what = format!(
                "{} dampening {dampening} maximize {maximize}",
                kind.as_str()
            );
            let (mut stored, mut descended) = (cfg(None, 0.0), cfg(None, 0.0));
            let mut p0: Vec<f32> = (0..PARAMS).map(|i| (i % 17) as f32 * 0.03 - 0.2).collect();
            let mut p1 = p0.clone();
            for t in 0..5 {
                let g = Layers::at(t, 3).stored();
                let n = norm(&g);
                stored.step(&cx, &mut p0, &g).unwrap();
                if t == 0 {
                    // The first step sets b ← g: stored.
                    assert!(descended.descent(n).is_none(), "{what}");
                    descended.step(&cx, &mut p1, &g).unwrap();
                    continue;
                }
                let Some(DescentStep::Momentum { step: h, buf }) = descended.descent(n) else {
                    panic!("{what}: no momentum descent at step {t}");
                };
                assert_eq!((h.weight_decay, h.first_step), (0.0, false), "{what}");
                for w in &weights {
                    let (p, g, b) = (&mut p1[w.clone()], &g[w.clone()], &mut buf[w.clone()]);
                    step::momentum::<Wide>(p, g, b, &h);
                }
                let mut poisoned = g.clone();
                for w in &weights {
                    poisoned[w.clone()].fill(f32::NAN);
                }
                let info = descended
                    .step_descended(&cx, &mut p1, &poisoned, n, &weights)
                    .unwrap();
                assert!(info.applied && info.grad_norm == n);
                assert_eq!(bits(&p1), bits(&p0), "{what}, step {t}, {threads} threads");
            }
            let (a, b) = (stored.export_state(), descended.export_state());
            assert_eq!(a.buffers.len(), 1);
            assert_eq!(
                bits(&a.buffers[0].1),
                bits(&b.buffers[0].1),
                "{what}: buffer"
            );
            assert_eq!(descended.steps(), stored.steps());
            assert!(descended.descent(f32::NAN).is_none(), "{what}");
            // Not with weight decay, nor with clipping at work.
            let mut decayed = cfg(None, 0.01);
            decayed
                .step(&cx, &mut p1.clone(), &Layers::at(0, 3).stored())
                .unwrap();
            assert!(decayed.descent(1.0).is_none(), "{what}");
            let mut clipped = cfg(Some(1.0), 0.0);
            clipped
                .step(&cx, &mut p1.clone(), &Layers::at(0, 3).stored())
                .unwrap();
            assert!(clipped.descent(0.5).is_some(), "{what}");
            assert!(clipped.descent(2.0).is_none(), "{what}");
        }
    }
    // No rule but SGD's offers a descent, after a step either.
    for kind in kinds().filter(|k| {
        !matches!(
            k,
            OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov
        )
    }) {
        let mut o = build(kind, None);
        let (mut p, g) = (vec![0.1; PARAMS], Layers::at(0, 3).stored());
        o.step(&Compute::serial(), &mut p, &g).unwrap();
        assert!(o.descent(1.0).is_none(), "{}", kind.as_str());
    }
}
