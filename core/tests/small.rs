//! The small-batch kernels (`rows_times_wt`, `rows_times_w`,
//! `combine_rows_of`) against their scalar twins, and the factored
//! gradient sources (`Scaled`, `Combination`, `ColumnSums`) against the
//! gradient stored, at every width, on odd shapes, unaligned slices and
//! edge values.
//!
//! Tolerances: `rows_times_w` and `combine_rows_of` add their terms in the
//! order written, one rounding each, so they equal their twins bit for bit.
//! `rows_times_wt` sums each dot product in two `LANES`-lane partial sums
//! (`dot_row`'s order), so it agrees with the in-order twin to
//! `1e-5·Σ|w·x|`; it is bit-identical to
//! itself whatever slice offsets it is given. A rule's kernel fed a factored
//! source must give the bits it gives for the same gradient stored.

use descent_core::ops;
use descent_core::simd::{F32x16, F32x4, F32x8, Vector};
use descent_core::step::{
    self, AdamStep, AheadRows, ColumnSums, Combination, Factor, Factored, GradIn, Lookahead,
    MomentumStep, Scaled, Segment, SgdStep,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicU32, Ordering};

fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-2.0f32..2.0)).collect()
}

/// `v` with NaN, ±∞, −0 and a subnormal at a few positions.
fn with_edges(mut v: Vec<f32>, every: usize) -> Vec<f32> {
    let edges = [
        f32::NAN,
        f32::INFINITY,
        -0.0,
        f32::MIN_POSITIVE / 8.0,
        f32::NEG_INFINITY,
    ];
    for (k, e) in edges.iter().enumerate() {
        let at = k * every + 3;
        if at < v.len() {
            v[at] = *e;
        }
    }
    v
}

fn same_bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

/// Input widths: every tail of 4-, 8- and 16-lane vectors, a 784.
const INS: [usize; 9] = [1, 3, 7, 16, 17, 31, 33, 64, 784];
/// Output widths: below, at and past the four-row block.
const OUTS: [usize; 6] = [1, 3, 4, 5, 10, 13];

fn small_at_width<V: Vector>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for batch in [1usize, 2, 3, 8] {
        for &i in &INS {
            for &o in &OUTS {
                for off in [0usize, 1, 3] {
                    // Forward: Y = f(X·Wᵀ + b), operands at an offset.
                    let xb = random(&mut rng, batch * i + off);
                    let wb = random(&mut rng, o * i + off);
                    let (x, w) = (&xb[off..], &wb[off..]);
                    let bias = random(&mut rng, o);
                    for relu in [false, true] {
                        let (mut y, mut ys) = (vec![0.0; batch * o], vec![0.0; batch * o]);
                        ops::rows_times_wt::<V>(x, i, w, Some(&bias), relu, &mut y);
                        ops::rows_times_wt_scalar(x, i, w, Some(&bias), relu, &mut ys);
                        for b in 0..batch {
                            for r in 0..o {
                                let mag: f32 = (0..i)
                                    .map(|j| (w[r * i + j] * x[b * i + j]).abs())
                                    .sum::<f32>()
                                    + bias[r].abs();
                                let (g, s) = (y[b * o + r], ys[b * o + r]);
                                assert!(
                                    (g - s).abs() <= 1e-5 * mag + 1e-30,
                                    "rows_times_wt B {batch} I {i} O {o} lanes {}: {g} vs {s}",
                                    V::LANES
                                );
                                if relu {
                                    assert!(g >= 0.0);
                                }
                            }
                        }
                        // The same bits from aligned copies: the offset of a
                        // slice changes nothing.
                        let mut ya = vec![0.0; batch * o];
                        let (xa, wa): (Vec<f32>, Vec<f32>) = (x.into(), w.into());
                        ops::rows_times_wt::<V>(&xa, i, &wa, Some(&bias), relu, &mut ya);
                        same_bits(&y, &ya, "rows_times_wt offset");
                    }

                    // dX = (dY·W) ⊙ [A > 0], with edge values in dY and A.
                    let dyb = with_edges(random(&mut rng, batch * o + off), 2);
                    let dy = &dyb[off..];
                    let mask = with_edges(random(&mut rng, batch * i), 3);
                    for m in [None, Some(&mask[..])] {
                        let (mut dx, mut dxs) = (vec![0.0; batch * i], vec![1.0; batch * i]);
                        ops::rows_times_w::<V>(dy, o, w, m, &mut dx);
                        ops::rows_times_w_scalar(dy, o, w, m, &mut dxs);
                        same_bits(&dx, &dxs, &format!("rows_times_w B {batch} I {i} O {o}"));
                        if let Some(m) = m {
                            for (d, &a) in dx.iter().zip(m) {
                                if a.is_nan() || a <= 0.0 {
                                    assert_eq!(d.to_bits(), 0, "masked lanes are +0");
                                }
                            }
                        }
                    }

                    // A row of dW = dYᵀ·X, stored and made in registers.
                    let c = with_edges(random(&mut rng, batch), 1);
                    let (mut out, mut outs) = (vec![0.0; i], vec![0.0; i]);
                    ops::combine_rows_of::<V>(&c, x, i, &mut out);
                    ops::combine_rows_of_scalar(&c, x, i, &mut outs);
                    same_bits(&out, &outs, &format!("combine_rows_of B {batch} I {i}"));
                }
            }
        }
    }
}

#[test]
fn small_kernels_equal_their_twins_at_every_width() {
    small_at_width::<F32x4>(1);
    small_at_width::<F32x8>(2);
    small_at_width::<F32x16>(3);
}

#[test]
#[should_panic(expected = "rows_times_w dx")]
fn small_kernels_check_their_shapes() {
    ops::rows_times_w::<F32x8>(&[1.0; 6], 3, &[1.0; 12], None, &mut [0.0; 7]);
}

/// Reads a source the way a kernel does: whole vectors, then the tail.
fn read<V: Vector>(g: impl GradIn<V>) -> Vec<f32> {
    let n = g.len();
    let body = n / V::LANES * V::LANES;
    let mut out = vec![0.0; n];
    for i in (0..body).step_by(V::LANES) {
        // SAFETY: i + LANES ≤ body ≤ n.
        let v = unsafe { g.load(i) };
        descent_core::simd::store(&mut out, i, v);
    }
    for (i, o) in out.iter_mut().enumerate().skip(body) {
        *o = g.get(i);
    }
    out
}

/// Two Linear layers' factors, B rows: 13 → 7 → 3.
struct Net {
    x0: Vec<f32>,
    dy0: Vec<f32>,
    x1: Vec<f32>,
    dy1: Vec<f32>,
    rows: usize,
}

impl Factored for Net {
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

impl Net {
    fn new(rows: usize, rng: &mut ChaCha8Rng) -> Net {
        Net {
            x0: with_edges(random(rng, rows * 13), 4),
            dy0: random(rng, rows * 7),
            x1: random(rng, rows * 7),
            dy1: with_edges(random(rng, rows * 3), 2),
            rows,
        }
    }

    /// The stored gradient, computed the plain way: dW[o, i] = Σ_b dy·x
    /// in b order (first a product, then FMAs), db = 0 + Σ_b dy.
    fn stored(&self) -> Vec<f32> {
        let mut g = Vec::new();
        for (dy, x, outs, ins) in [(&self.dy0, &self.x0, 7, 13), (&self.dy1, &self.x1, 3, 7)] {
            for o in 0..outs {
                for i in 0..ins {
                    let mut s = dy[o] * x[i];
                    for b in 1..self.rows {
                        s = ops::fma(dy[b * outs + o], x[b * ins + i], s);
                    }
                    g.push(s);
                }
            }
            for o in 0..outs {
                g.push((0..self.rows).fold(0.0, |s, b| s + dy[b * outs + o]));
            }
        }
        g
    }
}

/// Walks `range` of a factored gradient, reading each segment at width V.
fn factored_values<V: Vector>(f: &impl Factored, range: std::ops::Range<usize>) -> Vec<f32> {
    let mut out = Vec::new();
    let mut next = range.start;
    f.segments(range, &mut |at, seg| {
        assert_eq!(at, next, "segments come in order, without gaps");
        next += seg.len();
        out.extend(match seg {
            Segment::Scaled(g) => read::<V>(g),
            Segment::ScaledRows(g) => read::<V>(g),
            Segment::AheadRows(g) => read::<V>(g),
            Segment::Row(g) => read::<V>(g),
            Segment::Sums(g) => read::<V>(g),
        });
    });
    out
}

fn factored_at_width<V: Vector>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for rows in 1..=step::MAX_COMBINED {
        let net = Net::new(rows, &mut rng);
        let want = net.stored();
        assert_eq!(net.len(), want.len());
        same_bits(&factored_values::<V>(&net, 0..want.len()), &want, "whole");
        // Any cut: mid-row, across blocks, one element.
        for r in [3..50, 90..100, 7..8, 97..want.len(), 0..0] {
            let got = factored_values::<V>(&net, r.clone());
            same_bits(&got, &want[r.clone()], &format!("B {rows} range {r:?}"));
        }

        // The kernels: the stored gradient vs each segment made in
        // registers, every state slot updated alongside.
        let n = want.len();
        let start = State::new(n, &mut rng);
        let mut stored = start.clone();
        stored.apply::<V>(&want[..], 0..n);
        let mut made = start.clone();
        net.segments(0..n, &mut |at, seg| {
            let k = at..at + seg.len();
            match seg {
                Segment::Scaled(g) => made.apply::<V>(g, k),
                Segment::ScaledRows(g) => made.apply::<V>(g, k),
                Segment::AheadRows(g) => made.apply::<V>(g, k),
                Segment::Row(g) => made.apply::<V>(g, k),
                Segment::Sums(g) => made.apply::<V>(g, k),
            }
        });
        made.same_bits_as(&stored, &format!("B {rows}, {} lanes", V::LANES));
    }
}

/// Parameters and slots of three rules, stepped side by side.
#[derive(Clone)]
struct State {
    sgd: Vec<f32>,
    mom: Vec<f32>,
    buf: Vec<f32>,
    adam: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl State {
    fn new(n: usize, rng: &mut ChaCha8Rng) -> State {
        let p = random(rng, n);
        let pos: Vec<f32> = random(rng, n).iter().map(|v| v.abs()).collect();
        State {
            sgd: p.clone(),
            mom: p.clone(),
            buf: random(rng, n),
            adam: p,
            m: random(rng, n),
            v: pos,
        }
    }

    /// [`State::apply`] with the rows `c[r]·x` (elements `k`, as many rows)
    /// given as [`AheadRows`]: rule n stores row r's product with `next`
    /// in `outs[n][r]`.
    fn apply_rows<V: Vector>(
        &mut self,
        c: &[f32],
        x: &[f32],
        next: &[f32],
        outs: [&[AtomicU32]; 3],
        k: std::ops::Range<usize>,
    ) {
        let (sgd, mom, adam) = Self::hypers();
        let g = |n: usize| AheadRows::new(c, x, next, outs[n]);
        assert_eq!(GradIn::<V>::rows(&g(0)), Some((x.len(), c.len())));
        step::sgd::<V>(&mut self.sgd[k.clone()], g(0), &sgd);
        step::momentum::<V>(
            &mut self.mom[k.clone()],
            g(1),
            &mut self.buf[k.clone()],
            &mom,
        );
        let (m, v) = (&mut self.m[k.clone()], &mut self.v[k.clone()]);
        step::adam::<V>(&mut self.adam[k], g(2), m, v, None, &adam);
    }

    /// Every parameter and slot of every rule has `want`'s bits.
    fn same_bits_as(&self, want: &State, what: &str) {
        for (a, b, slot) in [
            (&self.sgd, &want.sgd, "sgd"),
            (&self.mom, &want.mom, "momentum p"),
            (&self.buf, &want.buf, "momentum buffer"),
            (&self.adam, &want.adam, "adam p"),
            (&self.m, &want.m, "adam m"),
            (&self.v, &want.v, "adam v"),
        ] {
            same_bits(a, b, &format!("{slot}, {what}"));
        }
    }

    fn hypers() -> (SgdStep, MomentumStep, AdamStep) {
        let sgd = SgdStep {
            lr: 0.1,
            weight_decay: 0.01,
            grad_scale: -1.0,
        };
        let mom = MomentumStep {
            lr: 0.1,
            weight_decay: 0.0,
            momentum: 0.9,
            dampening: 0.1,
            nesterov: true,
            first_step: false,
            grad_scale: 1.0,
        };
        let adam = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 0.01, true, false, 3, 0.5);
        (sgd, mom, adam)
    }

    /// One step of each rule on elements `k`, reading the gradient from `g`.
    fn apply<V: Vector>(&mut self, g: impl GradIn<V>, k: std::ops::Range<usize>) {
        let (sgd, mom, adam) = Self::hypers();
        step::sgd::<V>(&mut self.sgd[k.clone()], g, &sgd);
        step::momentum::<V>(&mut self.mom[k.clone()], g, &mut self.buf[k.clone()], &mom);
        let (m, v) = (&mut self.m[k.clone()], &mut self.v[k.clone()]);
        step::adam::<V>(&mut self.adam[k], g, m, v, None, &adam);
    }
}

#[test]
fn factored_gradients_equal_the_stored_one_in_every_kernel() {
    factored_at_width::<F32x4>(4);
    factored_at_width::<F32x8>(5);
    factored_at_width::<F32x16>(6);
}

#[test]
fn factored_sources_check_their_shapes() {
    let x = [1.0f32; 10];
    assert!(std::panic::catch_unwind(|| Combination::new(&[1.0; 3], &x, 4, 3)).is_err());
    assert!(std::panic::catch_unwind(|| Combination::new(&[], &x, 4, 3)).is_err());
    assert!(std::panic::catch_unwind(|| ColumnSums::new(&x, 2, 5, 3, 3)).is_err());
    let ok = Combination::new(&[1.0; 3], &x, 4, 2);
    assert_eq!(GradIn::<F32x8>::len(&ok), 2);
    assert_eq!(GradIn::<F32x8>::get(&Scaled::new(2.0, &x), 9), 2.0);
}

/// An update fed [`AheadRows`] leaves the bits [`Scaled`] rows leave
/// (parameters and state, every rule), and `out` holds the forward's
/// product of each updated row with the next input: [`ops::dot_row`]'s
/// bits, which are [`ops::rows_times_wt`]'s over the updated W. The rows
/// are given one at a time, three at a time (a pair and a row alone, the
/// last group shorter) and all at once.
fn ahead_at_width<V: Vector>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for &i in &INS {
        for &o in &OUTS {
            let x = with_edges(random(&mut rng, i), 5);
            let next = random(&mut rng, i);
            let c = random(&mut rng, o);
            let start = State::new(o * i, &mut rng);
            let mut plain = start.clone();
            for (r, &cr) in c.iter().enumerate() {
                plain.apply::<V>(Scaled::new(cr, &x), r * i..(r + 1) * i);
            }
            for group in [1, 3, o] {
                let mut ahead = start.clone();
                // Rule n's product for row r in outs[n][r].
                let outs: [Vec<AtomicU32>; 3] =
                    std::array::from_fn(|_| (0..o).map(|_| AtomicU32::new(u32::MAX)).collect());
                for r0 in (0..o).step_by(group) {
                    let r1 = (r0 + group).min(o);
                    let rule_outs = [&outs[0][r0..r1], &outs[1][r0..r1], &outs[2][r0..r1]];
                    ahead.apply_rows::<V>(&c[r0..r1], &x, &next, rule_outs, r0 * i..r1 * i);
                }
                let what = format!("I {i} O {o}, {group} rows a call, {} lanes", V::LANES);
                ahead.same_bits_as(&plain, &format!("ahead, {what}"));
                for (n, w) in [&plain.sgd, &plain.mom, &plain.adam]
                    .into_iter()
                    .enumerate()
                {
                    let mut y = vec![0.0; o];
                    ops::rows_times_wt::<V>(&next, i, w, None, false, &mut y);
                    for r in 0..o {
                        let got = f32::from_bits(outs[n][r].load(Ordering::Relaxed));
                        let row = ops::dot_row::<V>(&w[r * i..(r + 1) * i], &next);
                        same_bits(
                            &[got],
                            &[row],
                            &format!("ahead dot, rule {n}, row {r}, {what}"),
                        );
                        same_bits(
                            &[got],
                            &[y[r]],
                            &format!("ahead vs forward, row {r}, {what}"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn ahead_rows_update_as_scaled_and_form_the_next_forward() {
    ahead_at_width::<F32x4>(11);
    ahead_at_width::<F32x8>(12);
    ahead_at_width::<F32x16>(13);
}

/// A factored gradient at B = 1 hands out each run of whole rows in the
/// range as one segment ([`AheadRows`] with a [`Lookahead`], else
/// `ScaledRows`), and parts of rows (a range cut mid-row, as a thread's
/// piece may be) as plain [`Scaled`] ones.
#[test]
fn whole_rows_come_as_one_segment() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let net = Net::new(1, &mut rng);
    let next = random(&mut rng, 13);
    let out: Vec<AtomicU32> = (0..7).map(|_| AtomicU32::new(0)).collect();
    let with = Ahead0 {
        net: &net,
        next: &next,
        out: &out,
    };
    let kinds = |f: &dyn Factored, r: std::ops::Range<usize>| {
        let mut k = Vec::new();
        f.segments(r, &mut |at, seg| {
            let kind = match seg {
                Segment::AheadRows(_) => "ahead",
                Segment::ScaledRows(_) => "rows",
                Segment::Scaled(_) => "part",
                _ => "bias",
            };
            k.push((at, kind, seg.len()))
        });
        k
    };
    // Rows 0 and 1 whole, row 2 cut at 5.
    assert_eq!(kinds(&with, 0..31), vec![(0, "ahead", 26), (26, "part", 5)]);
    // Row 0 from its 3rd element, then row 1 whole.
    assert_eq!(
        kinds(&with, 3..26),
        vec![(3, "part", 10), (13, "ahead", 13)]
    );
    // All seven rows, then the bias; the second layer's rows (3 of 7),
    // without a lookahead.
    assert_eq!(kinds(&with, 0..93), vec![(0, "ahead", 91), (91, "bias", 2)]);
    assert_eq!(
        kinds(&with, 98..120),
        vec![(98, "rows", 21), (119, "bias", 1)]
    );
    assert_eq!(kinds(&net, 0..39), vec![(0, "rows", 39)]);
    // The values are the gradient's, however the segments are made.
    same_bits(
        &factored_values::<F32x8>(&with, 0..net.len()),
        &factored_values::<F32x8>(&net, 0..net.len()),
        "lookahead values",
    );
}

/// [`Net`] with a lookahead on its first layer.
struct Ahead0<'a> {
    net: &'a Net,
    next: &'a [f32],
    out: &'a [AtomicU32],
}

impl Factored for Ahead0<'_> {
    fn blocks(&self) -> usize {
        self.net.blocks()
    }
    fn block(&self, k: usize) -> Factor<'_> {
        match self.net.block(k) {
            Factor::Outer {
                dy,
                x,
                rows,
                outs,
                ins,
                ..
            } if k == 0 => Factor::Outer {
                dy,
                x,
                rows,
                outs,
                ins,
                ahead: Some(Lookahead {
                    next: self.next,
                    out: self.out,
                }),
            },
            b => b,
        }
    }
}
