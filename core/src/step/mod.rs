//! Fused optimizer update kernels: one pass over a flat parameter buffer per
//! update rule.
//!
//! All of a model's parameters live in one `&mut [f32]`, the gradients in one
//! `&[f32]` of the same layout, and every state buffer (momentum, second
//! moments, …) has that length too. Each kernel reads `p`, `g` and the state
//! once and writes `p` and the state once: a single pass over memory, which
//! is what makes an update cost the bytes it moves and nothing more.
//!
//! Semantics are those of `torch.optim` (`_single_tensor_*`), element by
//! element, in this order:
//!
//! 1. `g ← s·g` where `s` is [`grad_scale`]: `−1` for `maximize` times the
//!    global-norm clipping factor of [`clip_scale`] (PyTorch negates the
//!    gradient first when maximizing, so L2 weight decay still pulls the
//!    parameters towards zero);
//! 2. L2 weight decay `g ← g + wd·p`, skipped when `wd = 0` as in PyTorch
//!    (not for AdamW, which decays `p` itself);
//! 3. the rule's own update.
//!
//! The per-step scalars (bias corrections, AdaGrad's decayed learning rate,
//! first-step flags) are computed by the caller in `f64` and passed in the
//! rule's hyper-parameter struct, so the fused kernel and its scalar twin use
//! the very same constants.
//!
//! Where PyTorch divides every element by the same per-step scalar (Adam's
//! `√(1 − β₂ᵗ)`, NAdam's and Schedule-Free's `1 − β₂ᵗ`), the kernel
//! multiplies by its reciprocal, computed in `f64` and rounded once, and
//! NAdam's two `addcdiv`s are one: these passes are bound by the divider
//! (square roots and divides share one unit), so each element takes one
//! `√` and one `÷`. The results differ from PyTorch's by rounding only.
//!
//! Every fused kernel has a scalar twin (`*_scalar`) written directly from
//! PyTorch's formulas, with plain `*` and `+`. The fused body uses
//! `mul_add`, which is one FMA (one rounding) where the build has FMA, so the two
//! agree to a few ulps, not bit for bit; on inputs where every product is
//! exact (small dyadic numbers) they agree exactly.
//!
//! Each fused kernel is generic over its vector `V` ([`Vector`]): the
//! optimizers run it on [`crate::simd::Wide`], the widest vector the build
//! has in registers, and the tests on every width, so the 8-lane path an
//! AVX2 machine takes is tested on an AVX-512 one and the other way round.
//! The last `len % L` elements (L = `V::LANES`) run the same vector code
//! on a zero-padded copy, so element `i`'s result depends neither on where
//! it sits in the slice (alignment, body or tail) nor on the width.
//!
//! Length mismatches between the slices are programming errors here and
//! panic with both lengths; `descent-optim` checks user-facing lengths first.

mod adadelta;
pub mod adafactor;
mod adagrad;
mod adam;
mod adamax;
mod asgd;
pub mod lbfgs;
mod lion;
mod muon;
mod nadam;
mod radam;
mod rmsprop;
mod rprop;
mod schedule_free;
mod sgd;

pub use adadelta::{adadelta, adadelta_scalar, AdadeltaStep};
pub use adagrad::{adagrad, adagrad_scalar, AdagradStep};
pub use adam::{adam, adam_scalar, AdamStep};
pub use adamax::{adamax, adamax_scalar, AdamaxStep};
pub use asgd::{asgd, asgd_scalar, AsgdStep};
pub use lion::{lion, lion_scalar, LionStep};
pub use muon::{muon_apply, muon_apply_scalar, muon_momentum, muon_momentum_scalar};
pub use nadam::{nadam, nadam_mu, nadam_scalar, NadamStep};
pub use radam::{radam, radam_scalar, RadamStep};
pub use rmsprop::{rmsprop, rmsprop_scalar, RmspropState, RmspropStep};
pub use rprop::{rprop, rprop_scalar, RpropStep};
pub use schedule_free::{
    schedule_free, schedule_free_scalar, schedule_free_x, schedule_free_x_scalar, ScheduleFreeStep,
};
pub use sgd::{momentum, momentum_scalar, sgd, sgd_scalar, MomentumStep, SgdStep};

use crate::compute::Compute;
use crate::ops::{same_len, DOT_SUMS};
use crate::par::split_mut;
use crate::simd::{Vector, MAX_LANES};
use std::sync::atomic::{AtomicU32, Ordering};

/// Elements per piece of [`grad_norm`]'s sum. Fixed, so the order of the
/// sum, and its bits, never depend on the number of threads.
pub const NORM_CHUNK: usize = 1 << 14;

/// Global L2 norm of a gradient buffer, `‖g‖₂ = √(Σ gᵢ²)`: one read-only
/// SIMD pass on vectors `V`, its pieces spread over `cx`'s threads.
///
/// The sum is taken per piece of [`NORM_CHUNK`] elements
/// ([`crate::ops::sum_squares`], `4·V::LANES` partial sums in `f32`), and
/// the pieces' sums are added in order in `f64`: the same bits for any
/// thread count (the pieces are fixed), and for a given width `V` on any
/// machine.
pub fn grad_norm<V: Vector>(cx: &Compute, g: &[f32]) -> f32 {
    let pieces = g.len().div_ceil(NORM_CHUNK);
    if pieces <= 1 {
        // One piece: its f32 sum, exactly what the loop below returns.
        return crate::ops::sum_squares::<V>(g).sqrt();
    }
    // The pieces' sums live on the stack up to 4 M parameters: the norm
    // runs every step and should not allocate.
    let (mut stack, mut heap) = ([0.0f32; 256], Vec::new());
    let sums: &mut [f32] = if pieces <= stack.len() {
        &mut stack[..pieces]
    } else {
        heap.resize(pieces, 0.0);
        &mut heap
    };
    split_mut(cx.pool(), pieces, 1, [(&mut sums[..], 1)], &|r, [out]| {
        for (j, o) in r.zip(out) {
            let piece = &g[j * NORM_CHUNK..((j + 1) * NORM_CHUNK).min(g.len())];
            *o = crate::ops::sum_squares::<V>(piece);
        }
    });
    let total: f64 = sums.iter().map(|&s| f64::from(s)).sum();
    (total as f32).sqrt()
}

/// Scalar twin of [`grad_norm`] (accumulates in `f64`).
pub fn grad_norm_scalar(g: &[f32]) -> f32 {
    crate::ops::sum_squares_scalar(g).sqrt()
}

/// The factor `torch.nn.utils.clip_grad_norm_` multiplies the gradients by:
/// `min(1, max_norm / (norm + 1e-6))`.
///
/// The `1e-6` keeps the factor finite for a zero gradient. A NaN `norm`
/// gives NaN (as in PyTorch with `error_if_nonfinite=False`), so a
/// non-finite gradient is not silently hidden.
pub fn clip_scale(norm: f32, max_norm: f32) -> f32 {
    let coef = max_norm / (norm + 1e-6);
    if coef.is_nan() {
        f32::NAN
    } else {
        coef.min(1.0)
    }
}

/// The factor every kernel multiplies the raw gradient by before anything
/// else: `(maximize ? −1 : 1) · clip` (`clip` = 1 when not clipping).
/// Multiplying by ±1 is exact, so without clipping the kernels see the
/// gradient bit for bit.
pub fn grad_scale(maximize: bool, clip: f32) -> f32 {
    if maximize {
        -clip
    } else {
        clip
    }
}

/// `1 − βᵗ` in `f64`, as PyTorch computes its bias corrections in Python
/// floats from the β the user wrote ([`decimal`]; `t` is 1-based; the
/// exponent saturates at `i32::MAX`).
pub fn bias_correction(beta: f32, t: u64) -> f64 {
    1.0 - decimal(beta).powi(t.min(i32::MAX as u64) as i32)
}

/// The hyper-parameter `x` as the number the user wrote: the shortest
/// decimal that reads back as `x`, as an `f64` (`0.999f32` → `0.999`).
///
/// PyTorch keeps hyper-parameters as Python floats and computes every
/// per-step constant from them in double precision, rounding to `f32` only
/// where a tensor takes the value. descent's configs hold `f32`s, and
/// `0.999f32` is `0.99900001287…`: `1 − β₂` from it is 1.3e-5 away from
/// torch's `0.001`, which moves Adam's second moment by as much. Widened
/// through its decimal, the constant is torch's to the bit.
pub fn decimal(x: f32) -> f64 {
    if !x.is_finite() {
        return x as f64;
    }
    // Rust prints the shortest decimal that round-trips, which parses back.
    x.to_string().parse().unwrap_or(x as f64)
}

/// `1 − x` as PyTorch computes it from a Python float and hands to a
/// tensor operation: in `f64` from the written value ([`decimal`]), then
/// rounded to `f32` once (the `(1 − β)` of every moving average).
pub fn one_minus(x: f32) -> f32 {
    (1.0 - decimal(x)) as f32
}

/// `a + w·(b − a)`, as ATen's vectorised `lerp` computes it: one FMA, from
/// whichever end is nearer (`a + w·(b − a)` for `|w| < ½`, else
/// `b + (w − 1)·(b − a)`), so that `w = 1` gives `b` exactly. Shared by
/// Schedule-Free's, Muon's and Adafactor's moving averages.
#[inline(always)]
pub(crate) fn lerp<V: Vector>(a: V, b: V, w: f32) -> V {
    if w.abs() < 0.5 {
        V::splat(w).mul_add(b - a, a)
    } else {
        V::splat(w - 1.0).mul_add(b - a, b)
    }
}

/// Scalar twin of `lerp` (two roundings where `lerp` has one).
pub fn lerp_scalar(a: f32, b: f32, w: f32) -> f32 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b + (w - 1.0) * (b - a)
    }
}

/// The weight decay of the rules that take it either way (NAdam, RAdam):
/// `(λ for L2, the decoupled factor 1 − γ·λ)`, one of them neutral: `(λ,
/// 1)` for L2, `(0, 1 − γ·λ)` decoupled, the factor in `f64` from the
/// values as written.
pub(crate) fn weight_decay_split(lr: f32, weight_decay: f32, decoupled: bool) -> (f32, f32) {
    if decoupled {
        (0.0, (1.0 - decimal(lr) * decimal(weight_decay)) as f32)
    } else {
        (weight_decay, 1.0)
    }
}

/// L2 weight decay on one block: `g + λ·p`, or `g` untouched when λ = 0
/// (PyTorch skips the term then, so an infinite `p` does not turn `0·∞`
/// into a NaN gradient). The flag is loop-invariant.
#[inline(always)]
pub(crate) fn l2<V: Vector>(on: bool, wd: V, p: V, g: V) -> V {
    if on {
        wd.mul_add(p, g)
    } else {
        g
    }
}

/// Scalar twin of [`l2`]: `g + λ·p`, skipped when λ = 0.
#[inline(always)]
pub(crate) fn l2_scalar(wd: f32, p: f32, g: f32) -> f32 {
    if wd != 0.0 {
        g + wd * p
    } else {
        g
    }
}

/// Where a fused update reads its gradient from, `V::LANES` elements at a
/// time: a stored buffer (`&[f32]`), or a gradient made in registers as
/// it is read ([`Combination`]), which is then never stored anywhere.
/// Every rule's kernel takes any of them; the update's bits depend only on
/// the gradient's values.
pub trait GradIn<V: Vector>: Copy {
    /// Elements.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Elements `i .. i + V::LANES`.
    ///
    /// # Safety
    /// `i + V::LANES ≤ self.len()`.
    unsafe fn load(&self, i: usize) -> V;
    /// Element `i` alone, the same bits as its lane of [`GradIn::load`]
    /// (for the tail). Panics when `i ≥ len`.
    fn get(&self, i: usize) -> f32;

    /// `Some((n, rows))` when the gradient is `rows` whole rows of `n`
    /// elements (`len = rows·n`), row r made from one input row shared by
    /// all ([`ScaledRows`], [`AheadRows`]): the pass then walks the rows
    /// two at a time, column by column ([`GradIn::coef`], [`GradIn::shared`]), so each
    /// vector of the shared row is loaded once for two rows, and one call
    /// covers a whole weight. `None` (one run of elements,
    /// [`GradIn::load`]) by default.
    #[inline(always)]
    fn rows(&self) -> Option<(usize, usize)> {
        None
    }

    /// Of rows of `n` ([`GradIn::rows`]): row `r`'s factor `c[r]`, which
    /// with [`GradIn::shared`] makes the row, `g[r, j] = c[r]·x[j]` (the
    /// same bits as [`GradIn::load`] and [`GradIn::get`] give).
    ///
    /// # Panics
    /// For a gradient not in rows (the default), or `r ≥ rows`.
    #[inline(always)]
    fn coef(&self, _r: usize) -> f32 {
        unreachable!("coef: a gradient in rows only")
    }

    /// Of rows of `n` ([`GradIn::rows`]): elements `j .. j + V::LANES` of
    /// the row `x` they share.
    ///
    /// # Safety
    /// `j + V::LANES ≤ n`.
    #[inline(always)]
    unsafe fn shared(&self, _j: usize) -> V {
        unreachable!("shared: a gradient in rows only")
    }

    /// Shown the updated vectors `p` at column `j` of rows `r` and `r + 1`
    /// as the pass stores them, with [`DOT_SUMS`] running sums a row that
    /// the pass keeps in registers for it (from zero). Nothing by default;
    /// [`AheadRows`] forms the next forward's dot products here, while the
    /// rows are in registers.
    #[inline(always)]
    fn watch_pair(&self, _r: usize, _j: usize, _p: [V; 2], _sums: &mut [[V; DOT_SUMS]; 2]) {}

    /// Called once rows `r` and `r + 1` (`p`, 2n) are stored, with the sums
    /// [`GradIn::watch_pair`] left after `vectors` body vectors a row.
    #[inline(always)]
    fn watched_pair(&self, _r: usize, _sums: [[V; DOT_SUMS]; 2], _vectors: usize, _p: &[f32]) {}

    /// [`GradIn::watch_pair`] for a last row `r` without a partner.
    #[inline(always)]
    fn watch_row(&self, _r: usize, _j: usize, _p: V, _sums: &mut [V; DOT_SUMS]) {}

    /// [`GradIn::watched_pair`] for a last row `r` without a partner (`p`, n).
    #[inline(always)]
    fn watched_row(&self, _r: usize, _sums: [V; DOT_SUMS], _vectors: usize, _p: &[f32]) {}
}

impl<V: Vector> GradIn<V> for &[f32] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[f32]>::len(self)
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        // SAFETY: the caller keeps i + LANES within the slice.
        unsafe { V::load(self.as_ptr().add(i)) }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self[i]
    }
}

/// A `Vec` reads as its slice (so `&g` works where `g: Vec<f32>`).
impl<V: Vector> GradIn<V> for &Vec<f32> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        // SAFETY: as for the slice.
        unsafe { GradIn::<V>::load(&self.as_slice(), i) }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self[i]
    }
}

/// An array reads as its slice.
impl<V: Vector, const N: usize> GradIn<V> for &[f32; N] {
    #[inline(always)]
    fn len(&self) -> usize {
        N
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        // SAFETY: as for the slice.
        unsafe { GradIn::<V>::load(&self.as_slice(), i) }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self[i]
    }
}

/// The most rows a [`Combination`] adds up: the small-batch kernels' limit.
pub const MAX_COMBINED: usize = crate::ops::SMALL_BATCH;

/// A gradient segment made where it is read: `g[j] = Σ_b c[b]·x[b·stride +
/// j]`, the sum over b in order, the first term a product and each further
/// one an FMA ([`crate::ops::combine_rows_of`]'s arithmetic, so the same
/// bits as that stored). With `c` = column o of dY (B ≤ [`MAX_COMBINED`]
/// rows) and `x` = X from a column on, it is a segment of row o of the
/// weight gradient `dW = dYᵀ·X`; at B = 1 it is `c₀·x`, a row of a rank-1
/// outer product.
#[derive(Clone, Copy, Debug)]
pub struct Combination<'a> {
    c: [f32; MAX_COMBINED],
    rows: usize,
    x: &'a [f32],
    stride: usize,
    len: usize,
}

impl<'a> Combination<'a> {
    /// The segment of `len` elements with coefficients `c` (1 to
    /// [`MAX_COMBINED`]) over rows of `x` `stride` apart.
    ///
    /// # Panics
    /// If `c` is empty or too long, or a row's segment runs past `x`.
    pub fn new(c: &[f32], x: &'a [f32], stride: usize, len: usize) -> Self {
        let rows = c.len();
        assert!(
            (1..=MAX_COMBINED).contains(&rows) && (rows - 1) * stride + len <= x.len(),
            "Combination: {rows} rows of {len} at stride {stride} over {} floats",
            x.len()
        );
        let mut cc = [0.0; MAX_COMBINED];
        cc[..rows].copy_from_slice(c);
        Combination {
            c: cc,
            rows,
            x,
            stride,
            len,
        }
    }
}

impl<V: Vector> GradIn<V> for Combination<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        let xp = self.x.as_ptr();
        // SAFETY: i + LANES ≤ len, and `new` checked that every row's
        // segment of len elements lies in x.
        unsafe {
            let mut a = V::splat(self.c[0]) * V::load(xp.add(i));
            for b in 1..self.rows {
                a = V::splat(self.c[b]).mul_add(V::load(xp.add(b * self.stride + i)), a);
            }
            a
        }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        assert!(i < self.len);
        (1..self.rows).fold(self.c[0] * self.x[i], |s, b| {
            crate::ops::fma(self.c[b], self.x[b * self.stride + i], s)
        })
    }
}

/// A [`Combination`] of one row, `g[j] = c·x[j]`: a row of a rank-1 outer
/// product (the weight gradient at batch 1). Its own type, so a kernel's
/// loop has no loop over rows inside (the same bits as the combination).
#[derive(Clone, Copy, Debug)]
pub struct Scaled<'a> {
    c: f32,
    x: &'a [f32],
}

impl<'a> Scaled<'a> {
    /// `c·x`.
    pub fn new(c: f32, x: &'a [f32]) -> Self {
        Scaled { c, x }
    }
}

impl<V: Vector> GradIn<V> for Scaled<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.x.len()
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        // SAFETY: the caller keeps i + LANES ≤ len = x.len().
        V::splat(self.c) * unsafe { V::load(self.x.as_ptr().add(i)) }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self.c * self.x[i]
    }
}

/// Adds `p'`'s next vector into the rotating sums of [`AheadRows`]:
/// vector v joins sum v mod [`DOT_SUMS`] (`dot_row`'s order), which is
/// always `sums[0]`, and the sums rotate, so each FMA waits on the one
/// `DOT_SUMS` vectors back and the rotation is only register renaming.
#[inline(always)]
fn watch_dot<V: Vector>(p: V, next: V, sums: &mut [V; DOT_SUMS]) {
    let t = p.mul_add(next, sums[0]);
    // Element by element (`rotate_left` went through the stack).
    *sums = std::array::from_fn(|k| if k + 1 < DOT_SUMS { sums[k + 1] } else { t });
}

/// The dot product [`watch_dot`]'s sums hold after `vectors` vectors of
/// the row `p` with `next`, finished as [`crate::ops::dot_row`] finishes
/// it (the tail past the body added in order).
#[inline(always)]
fn finish_dot<V: Vector>(sums: [V; DOT_SUMS], vectors: usize, p: &[f32], next: &[f32]) -> f32 {
    // After v vectors the sum of class c sits at (c − v) mod DOT_SUMS.
    // Spelled out, so the sums stay in registers (an index computed at
    // run time sent them through the stack).
    let [a, b, c, d] = sums;
    let by_class = match vectors % DOT_SUMS {
        0 => [a, b, c, d],
        1 => [d, a, b, c],
        2 => [c, d, a, b],
        _ => [b, c, d, a],
    };
    let body = vectors * V::LANES;
    crate::ops::dot_finish(by_class, &p[body..], &next[body..])
}

/// Consecutive whole rows of a rank-1 weight gradient, `g[r, j] =
/// c[r]·x[j]` (`len = rows·n`, rows = `c.len()`, n = `x.len()`): the
/// pass walks them two at a time ([`GradIn::rows`]), so each vector of
/// `x` is loaded once for two rows of W, and one call updates them all.
/// The same values as a [`Scaled`] row each.
///
/// Why: one row a call, the batch-1 update's 200-odd calls each paid a
/// call's stack stores behind the stores of the row before (the
/// optimizer's per-row overhead was ~1.5 µs of a 12 µs update on Ice
/// Lake).
#[derive(Clone, Copy, Debug)]
pub struct ScaledRows<'a> {
    c: &'a [f32],
    x: &'a [f32],
}

impl<'a> ScaledRows<'a> {
    /// Rows `c[r]·x`, r = 0 … `c.len()`.
    pub fn new(c: &'a [f32], x: &'a [f32]) -> Self {
        ScaledRows { c, x }
    }
}

impl<V: Vector> GradIn<V> for ScaledRows<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.c.len() * self.x.len()
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        let n = self.x.len();
        let (r, j) = (i / n, i % n);
        if j + V::LANES <= n {
            // SAFETY: within row r (i + LANES ≤ len, so r < rows).
            unsafe { GradIn::<V>::load(&Scaled::new(self.c[r], self.x), j) }
        } else {
            // Across a seam between rows: lane by lane, the same products.
            let mut a = [0.0f32; MAX_LANES];
            for (k, v) in a[..V::LANES].iter_mut().enumerate() {
                *v = GradIn::<V>::get(self, i + k);
            }
            // SAFETY: `a` holds MAX_LANES ≥ V::LANES floats.
            unsafe { V::load(a.as_ptr()) }
        }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        let n = self.x.len();
        self.c[i / n] * self.x[i % n]
    }
    #[inline(always)]
    fn rows(&self) -> Option<(usize, usize)> {
        Some((self.x.len(), self.c.len()))
    }
    #[inline(always)]
    fn coef(&self, r: usize) -> f32 {
        self.c[r]
    }
    #[inline(always)]
    unsafe fn shared(&self, j: usize) -> V {
        // SAFETY: j + LANES ≤ n = x.len().
        unsafe { V::load(self.x.as_ptr().add(j)) }
    }
}

/// [`ScaledRows`] that form the next forward's products: `Σ_j p'[r,
/// j]·next[j]` over each updated row `p'`, summed as
/// [`crate::ops::dot_row`] sums it (so the same bits as
/// [`crate::ops::rows_times_wt`] reading the updated W), stored in
/// `out[r]` (as `f32::to_bits`) once the row is done.
///
/// At batch 1 the first layer's forward reads all of W₀ from L2 and the
/// update then reads and writes it again; with the next step's input
/// known, the update forms the next forward's products as each row of W₀
/// leaves its registers, and that read is gone. The sums ride in the
/// pass's registers ([`GradIn::watch_pair`]): each vector of `next` is one
/// more load from L1, shared by two rows, and one more FMA a row. (One
/// row at a time, three loads a vector of W, the L1 ports were the limit:
/// the 784 × 128 update took 10.4 µs on Ice Lake against 7.9 µs for a
/// pass that only scales W; two rows a column ran at that floor.)
#[derive(Clone, Copy, Debug)]
pub struct AheadRows<'a> {
    rows: ScaledRows<'a>,
    next: &'a [f32],
    out: &'a [AtomicU32],
}

impl<'a> AheadRows<'a> {
    /// Rows `c[r]·x` whose updates form `Σ_j p'[r, j]·next[j]` into
    /// `out[r]`.
    ///
    /// # Panics
    /// If `next` is not as long as `x`, or `out` as `c`.
    pub fn new(c: &'a [f32], x: &'a [f32], next: &'a [f32], out: &'a [AtomicU32]) -> Self {
        same_len("AheadRows next (the rows' length)", next.len(), x.len());
        same_len("AheadRows out (the rows)", out.len(), c.len());
        AheadRows {
            rows: ScaledRows::new(c, x),
            next,
            out,
        }
    }
}

/// The gradient is the [`ScaledRows`]'; only the watching is its own.
impl<V: Vector> GradIn<V> for AheadRows<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        GradIn::<V>::len(&self.rows)
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        // SAFETY: the caller's promise, passed on (same length).
        unsafe { GradIn::<V>::load(&self.rows, i) }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        GradIn::<V>::get(&self.rows, i)
    }
    #[inline(always)]
    fn rows(&self) -> Option<(usize, usize)> {
        GradIn::<V>::rows(&self.rows)
    }
    #[inline(always)]
    fn coef(&self, r: usize) -> f32 {
        GradIn::<V>::coef(&self.rows, r)
    }
    #[inline(always)]
    unsafe fn shared(&self, j: usize) -> V {
        // SAFETY: the caller's promise, passed on.
        unsafe { GradIn::<V>::shared(&self.rows, j) }
    }
    #[inline(always)]
    fn watch_pair(&self, _r: usize, j: usize, p: [V; 2], sums: &mut [[V; DOT_SUMS]; 2]) {
        // SAFETY: `drive` calls this for j + LANES ≤ n = next.len().
        let next = unsafe { V::load(self.next.as_ptr().add(j)) };
        watch_dot(p[0], next, &mut sums[0]);
        watch_dot(p[1], next, &mut sums[1]);
    }
    #[inline(always)]
    fn watched_pair(&self, r: usize, sums: [[V; DOT_SUMS]; 2], vectors: usize, p: &[f32]) {
        let (p0, p1) = p.split_at(self.next.len());
        let s0 = finish_dot(sums[0], vectors, p0, self.next);
        let s1 = finish_dot(sums[1], vectors, p1, self.next);
        self.out[r].store(s0.to_bits(), Ordering::Relaxed);
        self.out[r + 1].store(s1.to_bits(), Ordering::Relaxed);
    }
    #[inline(always)]
    fn watch_row(&self, _r: usize, j: usize, p: V, sums: &mut [V; DOT_SUMS]) {
        // SAFETY: as in `watch_pair`.
        watch_dot(p, unsafe { V::load(self.next.as_ptr().add(j)) }, sums);
    }
    #[inline(always)]
    fn watched_row(&self, r: usize, sums: [V; DOT_SUMS], vectors: usize, p: &[f32]) {
        let s = finish_dot(sums, vectors, p, self.next);
        self.out[r].store(s.to_bits(), Ordering::Relaxed);
    }
}

/// The next step's input for a [`Factor::Outer`] at batch 1: the row
/// `next` (I) and an `out` (O) for the O dot products of the updated
/// weight's rows with it ([`AheadRows`]).
#[derive(Clone, Copy, Debug)]
pub struct Lookahead<'a> {
    /// The next input row, (I).
    pub next: &'a [f32],
    /// Where row o's product goes, as `f32::to_bits`, (O).
    pub out: &'a [AtomicU32],
}

/// A segment of a bias gradient made where it is read: `g[k] = Σ_b dy[b,
/// k₀ + k]`, the rows added in order from zero ([`crate::ops::col_sums_acc`]'s
/// arithmetic from a zeroed `out`, so the same bits as that stored).
#[derive(Clone, Copy, Debug)]
pub struct ColumnSums<'a> {
    dy: &'a [f32],
    rows: usize,
    cols: usize,
    from: usize,
    len: usize,
}

impl<'a> ColumnSums<'a> {
    /// Columns `from .. from + len` of the sums of `rows` rows of `cols`.
    ///
    /// # Panics
    /// If `dy` is not `rows × cols` or the columns run past `cols`.
    pub fn new(dy: &'a [f32], rows: usize, cols: usize, from: usize, len: usize) -> Self {
        assert!(
            dy.len() == rows * cols && from + len <= cols,
            "ColumnSums: columns {from}..{} of {rows} × {cols} over {} floats",
            from + len,
            dy.len()
        );
        ColumnSums {
            dy,
            rows,
            cols,
            from,
            len,
        }
    }
}

impl<V: Vector> GradIn<V> for ColumnSums<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
    #[inline(always)]
    unsafe fn load(&self, i: usize) -> V {
        let p = self.dy.as_ptr();
        let mut a = V::ZERO;
        for b in 0..self.rows {
            // SAFETY: i + LANES ≤ len and from + len ≤ cols (checked in
            // `new`), so each row's lanes lie in that row of dy.
            a += unsafe { V::load(p.add(b * self.cols + self.from + i)) };
        }
        a
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        assert!(i < self.len);
        (0..self.rows).fold(0.0, |s, b| s + self.dy[b * self.cols + self.from + i])
    }
}

/// One block of a [`Factored`] gradient.
#[derive(Clone, Copy, Debug)]
pub enum Factor<'a> {
    /// A weight (O, I) whose gradient is `dYᵀ·X`: `dy` (B, O), `x` (B, I),
    /// B ≤ [`MAX_COMBINED`].
    Outer {
        /// dY, (B, O).
        dy: &'a [f32],
        /// X, (B, I).
        x: &'a [f32],
        /// B.
        rows: usize,
        /// O.
        outs: usize,
        /// I.
        ins: usize,
        /// At B = 1, the next input whose products with the updated rows
        /// the update forms ([`AheadRows`]) for the rows it updates whole.
        ahead: Option<Lookahead<'a>>,
    },
    /// A bias (O) whose gradient is `Σ_b dY[b, :]`: `dy` (B, O).
    Sums {
        /// dY, (B, O).
        dy: &'a [f32],
        /// B.
        rows: usize,
        /// O.
        outs: usize,
    },
}

impl Factor<'_> {
    /// Elements of the block.
    pub fn len(&self) -> usize {
        match *self {
            Factor::Outer { outs, ins, .. } => outs * ins,
            Factor::Sums { outs, .. } => outs,
        }
    }
    /// True for an empty block.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A gradient given by its factors instead of its values: the flat
/// gradient of Linear layers at a few rows, each weight's `dYᵀ·X` and each
/// bias's `Σ_b dY`, as blocks that tile the flat buffer in order. An
/// optimizer reads it a segment at a time ([`Factored::segments`]) and
/// makes each element in registers where it is used, so the gradient is
/// never stored: at batch 1 the weights are streamed once, as the update
/// needs, and dW's write and read-back are gone.
pub trait Factored: Sync {
    /// Blocks.
    fn blocks(&self) -> usize;
    /// Block `k` (0 ≤ k < [`Factored::blocks`]).
    fn block(&self, k: usize) -> Factor<'_>;

    /// Every element, `Σ` of the blocks' lengths.
    fn len(&self) -> usize {
        (0..self.blocks()).map(|k| self.block(k).len()).sum()
    }
    /// True when there is no element.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f(at, segment)` for the gradient's elements `range` in order,
    /// cut where a block or a weight's row ends: `segment` makes elements
    /// `at .. at + segment.len()` of the flat gradient.
    ///
    /// # Panics
    /// If `range` runs past the gradient.
    fn segments(&self, range: std::ops::Range<usize>, f: &mut dyn FnMut(usize, Segment<'_>)) {
        let (mut base, mut at) = (0, range.start);
        for k in 0..self.blocks() {
            if at >= range.end {
                break;
            }
            let block = self.block(k);
            let end = base + block.len();
            while at < end.min(range.end) {
                let off = at - base;
                let stop = end.min(range.end);
                match block {
                    Factor::Outer {
                        dy,
                        x,
                        rows,
                        outs,
                        ins,
                        ahead,
                    } => {
                        let (r, j) = (off / ins, off % ins);
                        // Whole rows from here to the range's or the
                        // block's end, at batch 1.
                        let whole = if j == 0 { (stop - at) / ins } else { 0 };
                        let n = if rows == 1 && whole > 0 {
                            let c = &dy[r..r + whole];
                            f(
                                at,
                                match ahead {
                                    // Their products are the forward's.
                                    Some(a) => Segment::AheadRows(AheadRows::new(
                                        c,
                                        x,
                                        &a.next[..ins],
                                        &a.out[r..r + whole],
                                    )),
                                    None => Segment::ScaledRows(ScaledRows::new(c, x)),
                                },
                            );
                            whole * ins
                        } else {
                            // Part of row r.
                            let n = (ins - j).min(stop - at);
                            if rows == 1 {
                                f(at, Segment::Scaled(Scaled::new(dy[r], &x[j..j + n])));
                            } else {
                                let mut c = [0.0; MAX_COMBINED];
                                for (b, cb) in c[..rows].iter_mut().enumerate() {
                                    *cb = dy[b * outs + r];
                                }
                                let g = Combination::new(&c[..rows], &x[j..], ins, n);
                                f(at, Segment::Row(g));
                            }
                            n
                        };
                        at += n;
                    }
                    Factor::Sums { dy, rows, outs } => {
                        let n = stop - at;
                        f(at, Segment::Sums(ColumnSums::new(dy, rows, outs, off, n)));
                        at += n;
                    }
                }
            }
            base = end;
        }
        assert!(at >= range.end, "Factored::segments: {range:?} past {at}");
    }
}

/// A segment of a [`Factored`] gradient, ready to be read by a kernel.
#[derive(Clone, Copy, Debug)]
pub enum Segment<'a> {
    /// Part of a weight's row at batch 1.
    Scaled(Scaled<'a>),
    /// Whole rows of a weight at batch 1, walked two at a time.
    ScaledRows(ScaledRows<'a>),
    /// Whole rows of a weight at batch 1, walked two at a time, that form
    /// the next forward's products as they are updated.
    AheadRows(AheadRows<'a>),
    /// Part of a weight's row at 2 to [`MAX_COMBINED`] rows.
    Row(Combination<'a>),
    /// Part of a bias.
    Sums(ColumnSums<'a>),
}

impl Segment<'_> {
    /// Elements.
    pub fn len(&self) -> usize {
        match self {
            Segment::Scaled(g) => g.x.len(),
            Segment::ScaledRows(g) => g.c.len() * g.x.len(),
            Segment::AheadRows(g) => g.rows.c.len() * g.rows.x.len(),
            Segment::Row(g) => g.len,
            Segment::Sums(g) => g.len,
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The shared single-pass driver: for each block of `V::LANES` elements,
/// load `p`, `g` and the `K` state buffers, let `f` compute the new `p`
/// (updating the state lanes in place), store them back. The last
/// `len % V::LANES` elements run through the same `f` on a zero-padded
/// copy.
///
/// Panics (naming `op`) when a slice's length differs from `p`'s.
#[inline(always)]
pub(crate) fn drive<V: Vector, const K: usize>(
    op: &str,
    p: &mut [f32],
    g: impl GradIn<V>,
    mut s: [&mut [f32]; K],
    f: impl Fn(V, V, &mut [V; K]) -> V,
) {
    let lanes = V::LANES;
    let n = p.len();
    same_len(op, n, g.len());
    for sk in s.iter() {
        same_len(op, n, sk.len());
    }
    if let Some((row, rows)) = g.rows() {
        return drive_rows(row, rows, p, g, s, f);
    }
    let body = n / lanes * lanes;
    let pp = p.as_mut_ptr();
    let sp: [*mut f32; K] = std::array::from_fn(|k| s[k].as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: i + lanes <= body <= n and every slice has length n (checked
        // above); `p` and the state buffers are distinct `&mut` borrows, so
        // no store aliases another stream.
        unsafe { drive_vector(pp, sp, i, g.load(i), &f) };
        i += lanes;
    }
    drive_tail(body..n, p, &g, &mut s, &f);
}

/// One vector of a [`drive`] pass at element `at`: loads `p` and the
/// state there, runs `f` with the gradient `gv`, stores both back, and
/// returns the new `p`.
///
/// # Safety
/// `at + V::LANES` elements lie within `p` and every state buffer, which
/// are distinct allocations.
#[inline(always)]
unsafe fn drive_vector<V: Vector, const K: usize>(
    pp: *mut f32,
    sp: [*mut f32; K],
    at: usize,
    gv: V,
    f: &impl Fn(V, V, &mut [V; K]) -> V,
) -> V {
    // SAFETY: the caller's promise.
    unsafe {
        let mut st = [V::ZERO; K];
        for k in 0..K {
            st[k] = V::load(sp[k].add(at));
        }
        let pv = f(V::load(pp.add(at)), gv, &mut st);
        V::store(pp.add(at), pv);
        for k in 0..K {
            V::store(sp[k].add(at), st[k]);
        }
        pv
    }
}

/// [`drive`] over `rows` rows of `n` ([`GradIn::rows`]): two rows at a
/// time, column by column, each vector of both rows in one iteration, so
/// the gradient's shared row is loaded once for both
/// ([`GradIn::shared`]); an odd last row alone. Each element meets the
/// same `f` on the same inputs as in [`drive`], so the bits are the same;
/// each row's tail runs as [`drive`]'s does.
#[inline(always)]
fn drive_rows<V: Vector, const K: usize>(
    n: usize,
    rows: usize,
    p: &mut [f32],
    g: impl GradIn<V>,
    mut s: [&mut [f32]; K],
    f: impl Fn(V, V, &mut [V; K]) -> V,
) {
    let lanes = V::LANES;
    same_len("rows (rows × their length)", p.len(), rows * n);
    let body = n / lanes * lanes;
    let pp = p.as_mut_ptr();
    let sp: [*mut f32; K] = std::array::from_fn(|k| s[k].as_mut_ptr());
    // One vector of row `at / n` at element `at`.
    // SAFETY (of each call): at = r·n + j with j + lanes ≤ n and r < rows,
    // so the vector lies within p and the slots, which have length rows·n
    // (checked by `drive` and above) and are distinct `&mut` borrows.
    let one = |at: usize, gv: V| unsafe { drive_vector(pp, sp, at, gv, &f) };
    let mut r = 0;
    while r + 1 < rows {
        // The factors in registers for the pair's pass (read in the loop,
        // they were loaded again after every store: 1 µs more a batch-1
        // step on Ice Lake).
        let (c0, c1) = (V::splat(g.coef(r)), V::splat(g.coef(r + 1)));
        let mut sums = [[V::ZERO; DOT_SUMS]; 2];
        let mut j = 0;
        while j < body {
            // SAFETY: j + lanes ≤ n.
            let x = unsafe { g.shared(j) };
            let pv = [one(r * n + j, c0 * x), one((r + 1) * n + j, c1 * x)];
            g.watch_pair(r, j, pv, &mut sums);
            j += lanes;
        }
        drive_tail(r * n + body..(r + 1) * n, p, &g, &mut s, &f);
        drive_tail((r + 1) * n + body..(r + 2) * n, p, &g, &mut s, &f);
        g.watched_pair(r, sums, body / lanes, &p[r * n..(r + 2) * n]);
        r += 2;
    }
    if r < rows {
        let c = V::splat(g.coef(r));
        let mut sums = [V::ZERO; DOT_SUMS];
        let mut j = 0;
        while j < body {
            // SAFETY: j + lanes ≤ n.
            let pv = one(r * n + j, c * unsafe { g.shared(j) });
            g.watch_row(r, j, pv, &mut sums);
            j += lanes;
        }
        drive_tail(r * n + body..(r + 1) * n, p, &g, &mut s, &f);
        g.watched_row(r, sums, body / lanes, &p[r * n..(r + 1) * n]);
    }
}

/// The elements `tail` (fewer than `V::LANES`) of a [`drive`] pass: the
/// same vector code on a zero-padded copy, so each element's result is
/// the one it would get in the body.
#[inline(always)]
fn drive_tail<V: Vector, const K: usize>(
    tail: std::ops::Range<usize>,
    p: &mut [f32],
    g: &impl GradIn<V>,
    s: &mut [&mut [f32]; K],
    f: &impl Fn(V, V, &mut [V; K]) -> V,
) {
    let (from, r) = (tail.start, tail.len());
    if r == 0 {
        return;
    }
    let pad = |x: &[f32]| {
        let mut a = [0.0f32; MAX_LANES];
        a[..r].copy_from_slice(&x[tail.clone()]);
        // SAFETY: `a` holds MAX_LANES ≥ V::LANES floats.
        unsafe { V::load(a.as_ptr()) }
    };
    let unpad = |v: V, x: &mut [f32]| {
        let mut a = [0.0f32; MAX_LANES];
        // SAFETY: as above.
        unsafe { V::store(a.as_mut_ptr(), v) };
        x[tail.clone()].copy_from_slice(&a[..r]);
    };
    let gv = {
        let mut a = [0.0f32; MAX_LANES];
        for (k, v) in a[..r].iter_mut().enumerate() {
            *v = g.get(from + k);
        }
        // SAFETY: as above.
        unsafe { V::load(a.as_ptr()) }
    };
    let mut st: [V; K] = std::array::from_fn(|k| pad(s[k]));
    let pv = f(pad(p), gv, &mut st);
    unpad(pv, p);
    for k in 0..K {
        unpad(st[k], s[k]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_scale_matches_torch_formula() {
        assert_eq!(clip_scale(0.5, 1.0), 1.0);
        let s = clip_scale(4.0, 1.0);
        assert_eq!(s, 1.0 / (4.0f32 + 1e-6));
        assert_eq!(clip_scale(0.0, 1.0), 1.0);
        assert!(clip_scale(f32::NAN, 1.0).is_nan());
    }

    #[test]
    fn grad_scale_folds_maximize() {
        assert_eq!(grad_scale(false, 1.0), 1.0);
        assert_eq!(grad_scale(true, 1.0), -1.0);
        assert_eq!(grad_scale(true, 0.25), -0.25);
    }

    #[test]
    fn grad_norm_agrees_with_twin() {
        let g: Vec<f32> = (0..1003)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let a = grad_norm::<crate::simd::Wide>(&Compute::serial(), &g);
        let b = grad_norm_scalar(&g);
        assert!((a - b).abs() <= 1e-6 * b, "{a} vs {b}");
    }
}
