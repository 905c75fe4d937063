//! Single-precision GEMM, BLIS-style, with fused epilogues:
//!
//! `C ← epilogue(α·op(A)·op(B) + β·C)`, where `epilogue(x)[i, j] =
//! act(x[i, j] + bias[j])`, `bias` optional (one value per column of C),
//! `act` the identity or ReLU (`x < 0 ? 0 : x`, NaN stays NaN).
//!
//! `op(X)` is X or Xᵀ: a transpose is a strided view ([`MatRef::t`]), so any
//! row and column strides are accepted. With `β = 0`, C is never read (NaN
//! in C is overwritten); with `α = 0`, A and B are not read (the BLAS
//! convention). Every `m, k, n ≥ 0` works; `k = 0` gives
//! `epilogue(β·C)`.
//!
//! Files: `blocking.rs` (the cache blocks KC, MC, NC from this CPU's
//! caches), `pack.rs` (packing A and B), `kernel.rs` (the width-generic
//! MR × NR micro-kernel and the fused tile store), `config.rs` (the kernel
//! family and what the host decides), this file (the one entry point
//! [`matmul`], the loop nest, the naive twin).
//!
//! **The kernel family.** One micro-kernel source, instantiated per SIMD
//! width ([`Kernel`]): `f32x8` with a 6 × 16 tile (AVX2: 12 accumulators of
//! 16 `ymm`) and `f32x16` with a 12 × 32 tile (AVX-512: 24 of 32 `zmm`).
//! [`Kernel::native`] is the widest this build compiled to real registers;
//! a [`Compute`] forced to a [`Config`] runs any of them (the tests run all of them everywhere:
//! `wide` emulates `f32x16` with two `f32x8` halves without AVX-512). The
//! loop nest never names a width: it reads MR, NR and the tile functions
//! from the kernel's [`TileSet`].

pub mod blocking;
pub mod config;
pub mod kernel;
pub mod pack;

use std::cell::RefCell;

use crate::buffer::AlignedVec;
use crate::compute::Compute;
use crate::error::{CoreError, Result};
use crate::step::MomentumStep;
use crate::view::{MatMut, MatRef};
use blocking::{Blocks, PREFETCH_C_MIN_KC};
use config::Plan;
pub use config::{Config, Kernel, TileSet, DIRECT_A_MAX_N};
use kernel::{relu_s, ASrc, BSrc, Dest, MomentumTile, PrefetchRows, TileFn, TileOps};

/// What to do to each output element after `α·A·B + β·C`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// Added to every row: `C[i, j] += bias[j]`; length must be `n`.
    pub bias: Option<&'a [f32]>,
    /// Then `C[i, j] = max(0, C[i, j])` (NaN kept).
    pub relu: bool,
}

impl<'a> Epilogue<'a> {
    /// Plain GEMM.
    #[allow(non_upper_case_globals)]
    pub const None: Epilogue<'static> = Epilogue {
        bias: None,
        relu: false,
    };
    /// `C = α·A·B + β·C + bias` (bias broadcast over rows).
    pub fn bias(bias: &'a [f32]) -> Self {
        Self {
            bias: Some(bias),
            relu: false,
        }
    }
    /// `C = relu(α·A·B + β·C + bias)`: a Linear layer and its ReLU in one call.
    pub fn bias_relu(bias: &'a [f32]) -> Self {
        Self {
            bias: Some(bias),
            relu: true,
        }
    }
    /// `C = relu(α·A·B + β·C)`.
    pub fn relu() -> Self {
        Self {
            bias: None,
            relu: true,
        }
    }
}

/// Checks the shapes of `C ← α·A·B + β·C` and returns `(m, k, n)`.
fn check(a: &MatRef, b: &MatRef, c: &MatMut, epi: &Epilogue) -> Result<(usize, usize, usize)> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if b.rows() != k {
        return Err(CoreError::ShapeMismatch {
            op: "gemm (inner dimensions)",
            left_name: "op(A)",
            left: a.shape().to_vec(),
            right_name: "op(B)",
            right: b.shape().to_vec(),
        });
    }
    if c.shape() != [m, n] {
        return Err(CoreError::ShapeMismatch {
            op: "gemm (output)",
            left_name: "op(A)·op(B)",
            left: vec![m, n],
            right_name: "C",
            right: c.shape().to_vec(),
        });
    }
    if let Some(bias) = epi.bias {
        if bias.len() != n {
            return Err(CoreError::ShapeMismatch {
                op: "gemm (bias epilogue)",
                left_name: "C",
                left: vec![m, n],
                right_name: "bias",
                right: vec![bias.len()],
            });
        }
    }
    // Two elements of C must never share memory, or the result would
    // depend on the order tiles are written in.
    if m > 1 && n > 1 {
        let (rs, cs) = (c.rs(), c.cs());
        let disjoint = (cs >= 1 && rs >= n * cs) || (rs >= 1 && cs >= m * rs);
        if !disjoint {
            return Err(CoreError::Aliasing {
                rows: m,
                cols: n,
                rs,
                cs,
            });
        }
    }
    Ok((m, k, n))
}

/// A read-only operand on raw memory: `rows × cols`, element `(i, j)` at
/// `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct RawMat {
    pub ptr: *const f32,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl RawMat {
    fn of(m: &MatRef) -> RawMat {
        RawMat {
            ptr: m.data().as_ptr(),
            rows: m.rows(),
            cols: m.cols(),
            rs: m.rs(),
            cs: m.cs(),
        }
    }

    /// `ptr + i·rs + j·cs`, computed without dereferencing.
    fn at(&self, i: usize, j: usize) -> *const f32 {
        self.ptr.wrapping_add(i * self.rs + j * self.cs)
    }
}

/// The output operand: as [`RawMat`], writable.
#[derive(Clone, Copy)]
pub struct RawMatMut {
    pub ptr: *mut f32,
    pub rs: usize,
    pub cs: usize,
}

impl RawMatMut {
    fn at(&self, i: usize, j: usize) -> *mut f32 {
        self.ptr.wrapping_add(i * self.rs + j * self.cs)
    }
}

/// Products smaller than this many flops (2·m·k·n) run on the calling
/// thread alone: the pool's hand-off costs a few hundred nanoseconds, what
/// a 12 × 32 tile computes in about as long.
pub const PAR_MIN_FLOP: usize = 1 << 18;

/// **The GEMM**: `C ← epilogue(α·op(A)·op(B) + β·C)` (see the module docs)
/// on `cx`'s threads, with its configuration ([`Compute::gemm_config`]).
///
/// `a` is `m × k`, `b` is `k × n`, `c` is `m × n`; pass `x.t()` for a
/// transposed operand. The shapes are checked here, once, and an error
/// prints both when they disagree, the bias is not `n` long, or C's
/// strides make two of its elements share memory.
///
/// **Bit-identical for any number of threads.** The split is along n (or
/// m when n is narrow) in whole micro-tiles, and every decision that
/// changes the order of a sum is made once, from the whole product and
/// the configuration, before the split: the kernel, whether A is read in
/// place and the k blocks that follow from it (the `Plan`). No part looks
/// at its own slice of n or m to decide them. A part chooses only how it
/// walks its slice (row slivers, buffer slots, prefetches), and those never
/// change what is added to what, or in which order. So every element of C
/// is computed by exactly the sequence of operations one thread would use.
/// (`core/tests/gemm.rs` holds this for every configuration of its table
/// of CPUs, on shapes that straddle each of its thresholds.)
pub fn matmul(
    cx: &Compute,
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    mut c: MatMut,
    epi: Epilogue,
) -> Result<()> {
    let (m, k, n) = check(&a, &b, &c, &epi)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 || alpha == 0.0 {
        // No product: C ← epilogue(β·C) (β = 0 writes without reading).
        for i in 0..m {
            for j in 0..n {
                let mut v = if beta == 0.0 { 0.0 } else { beta * c.get(i, j) };
                if let Some(bias) = epi.bias {
                    v += bias[j];
                }
                c.set(i, j, if epi.relu { relu_s(v) } else { v });
            }
        }
        return Ok(());
    }
    let cfg = cx.gemm_config(n);
    // Chosen for the whole product, so every part runs the k blocks one
    // thread would (see the doc comment).
    let plan = cfg.plan(k, a.rs(), a.cs(), n);
    // SAFETY: the views were bounds-checked when made, and `check` verified
    // the shapes agree and C's elements are disjoint; m, k, n > 0, α ≠ 0.
    unsafe { run(cx, cfg, plan, alpha, &a, &b, beta, &mut c, epi, None) };
    Ok(())
}

/// SGD's step fused into the GEMM that makes its gradient:
/// `C ← C − η·(A·B)`, each element `η.mul_neg_add(g, c)` with `g` the
/// product as [`matmul`] would store it, so the very bits of
/// [`crate::step::sgd`] stepping C by that stored product (weight decay 0,
/// gradient factor 1). The product is never stored: a weight's gradient
/// `dW = dYᵀ·X` and the step `W ← W − η·dW` are one pass over W instead of
/// a write of dW and a pass that reads W and dW.
///
/// Returns `Σ_ij (A·B)_ij²` in `f64` (for the gradient's norm): each
/// micro-tile sums its squares lane by lane in `f32` into a slot of
/// `squares` (sized here), and the slots are added in a fixed order. The
/// micro-tiles do not depend on the threads (the split is along n in whole
/// tiles), so neither does the sum; it depends on the kernel, and is the
/// exact sum of squares to about `MR·ε` relatively.
///
/// `Ok(None)` when k is deeper than one k block of the configuration: C
/// would then be stepped once a block, not by the whole product, so
/// nothing is done and the caller stores the product instead.
///
/// # Errors
/// As [`matmul`], for shapes that disagree.
pub fn matmul_descend(
    cx: &Compute,
    eta: f32,
    a: MatRef,
    b: MatRef,
    c: MatMut,
    squares: &mut Vec<f32>,
) -> Result<Option<f64>> {
    matmul_descend_with(cx, DescentStep::Sgd { eta }, a, b, c, squares)
}

/// The step a descending GEMM applies to C with the product g = A·B
/// ([`matmul_descend_with`]).
#[derive(Debug)]
pub enum DescentStep<'a> {
    /// SGD: `c ← η.mul_neg_add(g, c)` ([`crate::step::sgd`], η the
    /// learning rate times the gradient factor).
    Sgd { eta: f32 },
    /// SGD with momentum after its first step, without weight decay, as
    /// [`crate::step::momentum`] computes it an element with `step`: `g ←
    /// s·g`, `b ← μ·b + (1 − τ)·g`, `d = b` (Nesterov: `μ·b + g`), `c ← c −
    /// γ·d`. `buf` is the momentum buffer of C, in C's layout: the element
    /// at offset o of C's buffer has its b at `buf[o]`. A `step` with weight
    /// decay or on its first step is declined (see [`matmul_descend_with`]).
    Momentum {
        /// The step's constants, as the stored path's kernel takes them.
        step: MomentumStep,
        /// b.
        buf: &'a mut [f32],
    },
}

impl DescentStep<'_> {
    /// The same step for a part of the parameters: momentum's buffer
    /// narrowed to `range` (SGD's step has no buffer).
    ///
    /// # Panics
    /// If `range` runs past the buffer.
    pub fn part(&mut self, range: std::ops::Range<usize>) -> DescentStep<'_> {
        match self {
            DescentStep::Sgd { eta } => DescentStep::Sgd { eta: *eta },
            DescentStep::Momentum { step, buf } => DescentStep::Momentum {
                step: *step,
                buf: &mut buf[range],
            },
        }
    }
}

/// [`matmul_descend`] with any [`DescentStep`]: each element of C is
/// stepped by the rule's arithmetic on the product as [`matmul`] would
/// store it, so the very bits of the rule's kernel stepping C by that
/// stored product. Returns the squares' sum as [`matmul_descend`] does,
/// or `Ok(None)` (nothing done) when k is deeper than one k block, or a
/// momentum step has weight decay or is its first (`b ← g`, which the
/// store does not do).
///
/// # Errors
/// As [`matmul`]; [`CoreError::BadLength`] when a momentum buffer is
/// shorter than C's buffer.
pub fn matmul_descend_with(
    cx: &Compute,
    step: DescentStep,
    a: MatRef,
    b: MatRef,
    mut c: MatMut,
    squares: &mut Vec<f32>,
) -> Result<Option<f64>> {
    let (m, k, n) = check(&a, &b, &c, &Epilogue::None)?;
    let (eta, momentum) = match step {
        DescentStep::Sgd { eta } => (eta, None),
        DescentStep::Momentum { step, buf } => {
            if step.weight_decay != 0.0 || step.first_step {
                return Ok(None);
            }
            let data = c.data_mut();
            if buf.len() < data.len() {
                return Err(CoreError::BadLength {
                    what: "matmul_descend_with: the momentum buffer (vs C's buffer)",
                    shape: vec![m, n],
                    needed: data.len(),
                    len: buf.len(),
                });
            }
            let tile = MomentumTile {
                c0: data.as_ptr(),
                buf: buf.as_mut_ptr(),
                mu: step.momentum,
                omd: crate::step::one_minus(step.dampening),
                gs: step.grad_scale,
                nesterov: step.nesterov,
            };
            (step.lr, Some(tile))
        }
    };
    if m == 0 || n == 0 {
        return Ok(Some(0.0));
    }
    if k == 0 {
        // No product: SGD leaves C as it is (C − η·0), and there is no
        // square; momentum would still move C along b, which the caller's
        // stored path does.
        return Ok(if momentum.is_none() { Some(0.0) } else { None });
    }
    let cfg = cx.gemm_config(n);
    let plan = cfg.plan(k, a.rs(), a.cs(), n);
    if k > plan.kc {
        return Ok(None);
    }
    let ts = cfg.kernel.tiles();
    let lanes = ts.nr / 2;
    let cols = n.div_ceil(ts.nr);
    let rows = (0..m)
        .step_by(cfg.blocks.mc)
        .map(|ic| row_slivers(ts.mr, cfg.blocks.mc.min(m - ic)))
        .sum::<usize>();
    // Every tile writes its own slot, so the slots need no clearing.
    squares.resize(rows * cols * lanes, 0.0);
    let slots = Squares {
        ptr: squares.as_mut_ptr(),
        cols,
        col0: 0,
    };
    // SAFETY: as in `matmul`; `squares` holds a slot for every tile.
    unsafe {
        run(
            cx,
            cfg,
            plan,
            -1.0,
            &a,
            &b,
            1.0,
            &mut c,
            Epilogue::None,
            Some((eta, momentum, slots)),
        )
    };
    Ok(Some(squares.iter().map(|&v| f64::from(v)).sum()))
}

/// Whether [`matmul_descend`] steps C by the product of an A of `k`
/// columns and strides `(rs, cs)` and a B of `n` columns, rather than
/// declining it: k within one k block of the configuration `cx` gives it.
pub fn descend_fits(cx: &Compute, k: usize, (rs, cs): (usize, usize), n: usize) -> bool {
    k == 0 || n == 0 || k <= cx.gemm_config(n).plan(k, rs, cs, n).kc
}

/// Where [`matmul_descend`]'s tiles put their squares: the tile of row
/// sliver `s` (counted over all of m, in order) and column sliver `j`
/// (NR columns each, counted from C's first column) at slot `s·cols + j`
/// of `ptr`, `NR / 2` floats a slot; `col0` is the first column sliver of
/// this part of C.
#[derive(Clone, Copy)]
struct Squares {
    ptr: *mut f32,
    cols: usize,
    col0: usize,
}

/// The GEMM of [`matmul`] on checked views, split over `cx`'s threads, or
/// with `descend = Some((η, momentum, slots))` the step of
/// [`matmul_descend_with`].
///
/// # Safety
/// `check` passed for the views; m, k, n > 0; α ≠ 0 unless descending;
/// `plan` was made by `cfg` for this product; the slots, if any, cover
/// every tile of C.
#[allow(clippy::too_many_arguments)]
unsafe fn run(
    cx: &Compute,
    cfg: &Config,
    plan: Plan,
    alpha: f32,
    a: &MatRef,
    b: &MatRef,
    beta: f32,
    c: &mut MatMut,
    epi: Epilogue,
    descend: Option<(f32, Option<MomentumTile>, Squares)>,
) {
    let (m, n) = (a.rows(), b.cols());
    let k = a.cols();
    let cm = RawMatMut {
        rs: c.rs(),
        cs: c.cs(),
        ptr: c.data_mut().as_mut_ptr(),
    };
    let (ar, br) = (RawMat::of(a), RawMat::of(b));
    let pool = match cx.pool() {
        Some(pool) if 2 * m * k * n >= PAR_MIN_FLOP => pool,
        // SAFETY: the caller's promise.
        _ => unsafe {
            loops_5_to_3(cfg, plan, alpha, ar, br, beta, cm, epi, descend);
            return;
        },
    };
    let threads = pool.threads();
    let (mr, nr) = (cfg.kernel.mr(), cfg.kernel.nr());
    let (am, bm, cm) = (SendPtr(ar), SendPtr(br), SendPtr(cm));
    // A descent's squares are summed by tile, so its tiles must not depend
    // on the split: along n in whole tiles, each part with all of m.
    let split_n = descend.is_some() || n >= m || n >= threads * 4 * nr;
    let descend = SendPtr(descend);
    let (len, unit) = if split_n { (n, nr) } else { (m, mr) };
    let units = len.div_ceil(unit);
    let threads = threads.min(units);
    // Part t computes columns (or rows) lo..hi of C, whichever thread of
    // the pool runs it.
    let part = |t: usize| {
        let std::ops::Range { start: lo, end: hi } = crate::par::chunk(len, threads, unit, t);
        if lo >= hi {
            return;
        }
        // Whole wrappers, not their fields, are captured (they are Sync).
        let (am, bm, cm, descend) = (am, bm, cm, descend);
        let (a, b, c) = (am.0, bm.0, cm.0);
        let descend = descend.0.map(|(eta, mom, sq)| {
            let col0 = if split_n { lo / nr } else { 0 };
            (eta, mom, Squares { col0, ..sq })
        });
        // SAFETY: each part owns the disjoint columns (or rows) lo..hi of C,
        // not empty; A and B are only read; the views were checked by
        // `check`; k > 0 and α ≠ 0.
        unsafe {
            if split_n {
                let sub = Epilogue {
                    bias: epi.bias.map(|b| &b[lo..hi]),
                    relu: epi.relu,
                };
                let b = RawMat {
                    ptr: b.at(0, lo),
                    cols: hi - lo,
                    ..b
                };
                let c = RawMatMut {
                    ptr: c.at(0, lo),
                    ..c
                };
                loops_5_to_3(cfg, plan, alpha, a, b, beta, c, sub, descend);
            } else {
                let a = RawMat {
                    ptr: a.at(lo, 0),
                    rows: hi - lo,
                    ..a
                };
                let c = RawMatMut {
                    ptr: c.at(lo, 0),
                    ..c
                };
                loops_5_to_3(cfg, plan, alpha, a, b, beta, c, epi, descend);
            }
        }
    };
    pool.run(threads, &part);
}

/// A raw operand handed to the pool's threads.
#[derive(Clone, Copy)]
struct SendPtr<T>(T);
// SAFETY: used only to hand disjoint parts of C (and shared read-only A, B)
// to pool threads that finish before `matmul` returns.
unsafe impl<T> std::marker::Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// The reusable buffers of the loop nest.
#[derive(Default)]
struct Buffers {
    a_packed: AlignedVec,
    b_packed: AlignedVec,
    plan: Vec<RowSliver>,
}

thread_local! {
    // Packing buffers and the plan of row slivers are reused across calls:
    // after the first call of a given size a GEMM allocates nothing.
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// What loops 2 and 1 need to know of the block that loops 5 to 3 chose:
/// the k block `pc .. pc + kc` of the NC block at column `jc`, MC block at
/// row `ic`, and how it is read and written.
struct Block<'a> {
    ts: &'static TileSet,
    blocks: Blocks,
    /// k and n of the whole product.
    k: usize,
    n: usize,
    kc_max: usize,
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    ic: usize,
    /// Every sliver of packed B reuses one slot (all of m is one MC block).
    one_mc_block: bool,
    /// B's rows are contiguous: the first row sliver packs B as it reads it.
    fuse_b: bool,
    /// Prefetch each tile's C corner before its k loop.
    prefetch_c: bool,
    /// Prefetch the next tile's C corner during the k loop instead.
    c_ahead: bool,
    ops: TileOps<'a>,
    /// A descent's squares, and the row slivers of m before this block's.
    squares: Option<Squares>,
    sliver0: usize,
}

/// Loops 5 to 3 of BLIS: cut n into NC-column blocks (B's block lives in
/// L3), k into KC-deep blocks (the slivers live in L1) and m into MC-row
/// blocks (A's block lives in L2); plan each MC block's row slivers and
/// hand it to [`loops_2_1`]. The packing buffers and the plan are this
/// thread's, reused from call to call.
///
/// `C ← epilogue(α·A·B + β·C)` on raw operands, with `cfg`'s kernel and
/// blocks and the k blocks of `plan`: `m = a.rows`, `k = a.cols`,
/// `n = b.cols`. `plan` was made by `cfg` for the whole product (this may
/// be a part of it), so every part forms the same sums.
///
/// # Safety
/// `m, k, n > 0` and `α ≠ 0` (unless `descend`). For `i < m, p < k, j < n`: `a.at(i, p)` and
/// `b.at(p, j)` are readable, `c.at(i, j)` is writable (readable if β ≠ 0)
/// and distinct for distinct `(i, j)`; `b.rows == k`; `epi.bias` has `n`
/// values; A and B do not overlap C; `plan` was made by `cfg` for a
/// product with A's strides and this k.
#[allow(clippy::too_many_arguments)]
unsafe fn loops_5_to_3(
    cfg: &Config,
    plan: Plan,
    alpha: f32,
    a: RawMat,
    b: RawMat,
    beta: f32,
    c: RawMatMut,
    epi: Epilogue,
    descend: Option<(f32, Option<MomentumTile>, Squares)>,
) {
    let alpha = descend.map_or(alpha, |(eta, _, _)| eta);
    BUFFERS.with(|bufs| {
        let bufs = &mut *bufs.borrow_mut();
        let (ts, blocks) = (cfg.kernel.tiles(), cfg.blocks);
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let Plan {
            direct_a,
            kc: kc_max,
        } = plan;
        // In place, A needs a packed sliver only for an odd last sliver.
        let a_rows = if direct_a {
            ts.mr
        } else {
            blocks.mc.min(m.div_ceil(ts.mr) * ts.mr)
        };
        bufs.a_packed.at_least(a_rows * kc_max);
        // With one MC block, a packed sliver of B is read only by the row
        // slivers right after its packing, so every sliver reuses the same
        // buffer: it stays in L1, and the kernel that packs it stores into L1
        // instead of fetching the lines of a KC × NC buffer from L2. Later MC
        // blocks need every sliver of the block kept.
        let one_mc_block = m <= blocks.mc;
        let b_slivers = if one_mc_block {
            1
        } else {
            blocks.nc.min(n).div_ceil(ts.nr)
        };
        bufs.b_packed.at_least(b_slivers * ts.nr * kc_max);
        let large_c = m * n >= blocks.prefetch_min_len;
        // Loop 5: NC-column blocks of B.
        for jc in (0..n).step_by(blocks.nc) {
            let nc = blocks.nc.min(n - jc);
            // Loop 4: KC-deep blocks of k.
            let mut pc = 0;
            while pc < k {
                let kc = kc_max.min(k - pc);
                let (first, last) = (pc == 0, pc + kc == k);
                let prefetch_c = kc >= PREFETCH_C_MIN_KC && large_c;
                // Loop 3: MC-row blocks of A.
                let mut sliver0 = 0;
                for ic in (0..m).step_by(blocks.mc) {
                    let mc = blocks.mc.min(m - ic);
                    let a_block = RawMat {
                        ptr: a.at(ic, pc),
                        rows: mc,
                        cols: kc,
                        ..a
                    };
                    plan_row_slivers(ts, a_block, direct_a, &mut bufs.a_packed, &mut bufs.plan);
                    let block = Block {
                        ts,
                        blocks,
                        k,
                        n,
                        kc_max,
                        pc,
                        kc,
                        jc,
                        nc,
                        ic,
                        one_mc_block,
                        fuse_b: b.cs == 1,
                        prefetch_c,
                        // On a shallow k block a large C is prefetched a tile
                        // ahead instead, spread over the k loop.
                        c_ahead: !prefetch_c && large_c && c.cs == 1,
                        ops: TileOps {
                            alpha,
                            beta: if first { beta } else { 1.0 },
                            bias: if last { epi.bias } else { None },
                            relu: last && epi.relu,
                            descend: descend.is_some(),
                            momentum: descend.and_then(|(_, m, _)| m),
                        },
                        squares: descend.map(|(_, _, sq)| sq),
                        sliver0,
                    };
                    loops_2_1(&block, b, c, &bufs.plan, &mut bufs.b_packed);
                    sliver0 += bufs.plan.len();
                }
                pc += kc;
            }
        }
    });
}

/// Loops 2 and 1 of BLIS over one block: for each NR-column sliver of B
/// (packed by the first MC block just before, or while, it is first used,
/// so it is in L1 for the row slivers that follow; later MC blocks reuse
/// it), one micro-tile per row sliver of `plan`.
///
/// # Safety
/// As [`loops_5_to_3`] for the block; `plan` was made for it;
/// `b_packed` holds the B slivers [`loops_5_to_3`] sized it for.
unsafe fn loops_2_1(
    blk: &Block,
    b: RawMat,
    c: RawMatMut,
    plan: &[RowSliver],
    b_packed: &mut AlignedVec,
) {
    let (ts, nr_max) = (blk.ts, blk.ts.nr);
    // Loop 2: NR-column slivers of B.
    for jr in (0..blk.nc).step_by(nr_max) {
        let nr = nr_max.min(blk.nc - jr);
        let b_src = b.at(blk.pc, blk.jc + jr);
        let slot = if blk.one_mc_block { 0 } else { jr / nr_max };
        let b_sliver = b_packed.as_mut_ptr().add(slot * nr_max * blk.kc);
        let pack_in_kernel = blk.ic == 0 && blk.fuse_b && nr == nr_max;
        if blk.ic == 0 && !pack_in_kernel {
            let sliver = std::slice::from_raw_parts_mut(b_sliver, nr_max * blk.kc);
            (ts.pack_b)(blk.kc, nr, b_src, b.rs, b.cs, sliver);
        }
        let bias = blk
            .ops
            .bias
            .map(|bias| &bias[blk.jc + jr..blk.jc + jr + nr]);
        let c_sliver = c.at(blk.ic, blk.jc + jr);
        let mut dest = Dest {
            c: c_sliver,
            rsc: c.rs,
            csc: c.cs,
            mr: ts.mr,
            nr,
            ops: TileOps { bias, ..blk.ops },
            prefetch: blk.prefetch_c || blk.ops.descend,
            ahead: PrefetchRows::NONE,
            squares: std::ptr::null_mut(),
        };
        // This column sliver's first slot of squares, if descending.
        let squares = blk.squares.map(|sq| {
            let col = sq.col0 + (blk.jc + jr) / nr_max;
            (sq.ptr, sq.cols, col)
        });
        let skip = usize::from(pack_in_kernel);
        let ahead = plan_prefetch(blk, b, jr, plan.len().saturating_sub(skip));
        let packed = BSrc {
            src: b_sliver,
            ks: nr_max,
            packed: b_sliver,
        };
        // Loop 1: row slivers of A, one micro-tile each.
        for (i, sl) in plan.iter().enumerate() {
            dest.ahead = match (ahead, plan.get(i + 1)) {
                (Some((next_b, share)), _) if i >= skip => {
                    next_b.rows_from((i - skip) * share, share)
                }
                // No B to prefetch: the corner of C the next tile writes,
                // where the tile's short k loop leaves no time for a burst
                // before its own stores.
                (None, Some(nx)) if blk.c_ahead => {
                    PrefetchRows::new(c_sliver.add(nx.ir * c.rs), c.rs, nr, nx.mr)
                }
                _ => PrefetchRows::NONE,
            };
            dest.c = c_sliver.add(sl.ir * c.rs);
            dest.mr = sl.mr;
            if let Some((ptr, cols, col)) = squares {
                dest.squares = ptr.add(((blk.sliver0 + i) * cols + col) * (nr_max / 2));
            }
            // The first row sliver reads B in place and packs it; the
            // others read the packed copy.
            if pack_in_kernel && i == 0 {
                let fill = BSrc {
                    src: b_src,
                    ks: b.rs,
                    packed: b_sliver,
                };
                (sl.fill)(blk.kc, sl.a, fill, &dest);
            } else {
                (sl.tile)(blk.kc, sl.a, packed, &dest);
            }
        }
    }
}

/// The next sliver of B that the first MC block reads where it lies, for
/// this sliver's plain tiles (`tiles` of them) to prefetch during their k
/// loops, with each tile's share of its rows: `None` when B is small
/// enough to stay cached, or not the first MC block.
fn plan_prefetch(blk: &Block, b: RawMat, jr: usize, tiles: usize) -> Option<(PrefetchRows, usize)> {
    let (k, n) = (blk.k, blk.n);
    if blk.ic != 0 || k * n < blk.blocks.prefetch_min_len {
        return None;
    }
    let nr_max = blk.ts.nr;
    let (npc, njr, nkc) = next_packed_sliver(
        (blk.pc, jr, blk.kc),
        blk.nc,
        nr_max,
        k,
        blk.kc_max,
        blk.one_mc_block,
    )?;
    let src = b.at(npc, blk.jc + njr);
    let nnr = nr_max.min(blk.nc - njr);
    let rows = if b.cs == 1 {
        PrefetchRows::new(src, b.rs, nnr, nkc)
    } else if b.rs == 1 {
        // A transposed view: the sliver's columns are contiguous rows of Bᵀ.
        PrefetchRows::new(src, b.cs, nkc, nnr)
    } else {
        return None;
    };
    // A tile fetches one line per 4 k steps.
    let share = rows
        .rows()
        .div_ceil(tiles.max(1))
        .min(blk.kc / 4 / rows.calls_per_row());
    Some((rows, share))
}

/// The sliver of B that the first MC block packs after the one at column
/// `jr` of the k block that starts at row `pc` (`kc` deep, in an NC block
/// `nc` wide, slivers `nr` wide): the next column sliver of the same k
/// block, or, when all of m is one MC block (so the k blocks follow each
/// other under it), the first sliver of the next k block. Returns its
/// `(pc, jr, kc)`.
fn next_packed_sliver(
    (pc, jr, kc): (usize, usize, usize),
    nc: usize,
    nr: usize,
    k: usize,
    kc_max: usize,
    one_mc_block: bool,
) -> Option<(usize, usize, usize)> {
    if jr + nr < nc {
        Some((pc, jr + nr, kc))
    } else if one_mc_block && pc + kc < k {
        Some((pc + kc, 0, kc_max.min(k - pc - kc)))
    } else {
        None
    }
}

/// One row sliver of an MC block as loop 1 runs it: rows `ir .. ir + mr`
/// of the block, read by the micro-kernel at `a` (in place, or the packing
/// buffer), through `tile`, or `fill` when it also packs the sliver of B
/// it reads in place.
#[derive(Clone, Copy)]
struct RowSliver {
    ir: usize,
    mr: usize,
    a: ASrc,
    tile: TileFn,
    fill: TileFn,
}

/// Rows of the row sliver that starts at row `ir` of an MC block of `mc`
/// rows, for a tile of `mr` rows. The block is cut into `mr`-row slivers,
/// but its remainder comes first, because the first sliver is the one that
/// packs B while it computes (see [`kernel::kernel`]):
/// - The packing's two vector stores per k step compete with the
///   broadcasts of A for issue slots, and the cost, in cycles per k step,
///   is about four times smaller on a short tile (docs/gemm-tuning.md).
/// - A remainder of at most `mr/3` rows is not left alone: `mr + r` rows
///   run as `2·mr/3` and the rest. Such a tile has at most `2·mr/3`
///   accumulators, too few to cover the FMA latency (4 cycles × 2 pipes
///   needs 8), so it takes as long as a wider one: on 6 rows, 2 + 6 rows
///   cost 10 row-times, 4 + 4 cost 8.
///
/// So with `mr = 6`, 64 rows run as 4 + 10 × 6, 128 as 4 + 4 + 20 × 6, 13
/// as 4 + 3 + 6; with `mr = 12`, 64 as 8 + 8 + 4 × 12, 128 as 8 + 10 × 12.
fn sliver_rows(mr: usize, mc: usize, ir: usize) -> usize {
    let third = mr / 3;
    // The rows before the first full sliver.
    let lead = match mc % mr {
        r if r > 0 && r <= third && mc > mr => mr + r,
        r => r,
    };
    if ir >= lead {
        mr
    } else if lead - ir > mr {
        2 * third
    } else {
        lead - ir
    }
}

/// How many row slivers [`plan_row_slivers`] cuts an MC block of `mc`
/// rows into.
fn row_slivers(mr: usize, mc: usize) -> usize {
    let (mut ir, mut count) = (0, 0);
    while ir < mc {
        ir += sliver_rows(mr, mc, ir);
        count += 1;
    }
    count
}

/// Cuts the block of A (`a.rows × a.cols` = `mc × kc`) into row slivers
/// (see [`sliver_rows`]), packs those the kernel does not read in place
/// into `a_packed`, and fills `plan` with how loop 1 runs each.
///
/// With `direct`, slivers of MR/3, 2·MR/3 or MR rows are read in place and
/// an odd one (there is at most one) is packed into the first slot;
/// otherwise sliver `s` is packed into slot `s`. Packed slivers are
/// zero-padded to MR rows, so an odd one is computed with up to MR/3 − 1
/// zero rows more.
///
/// # Safety
/// As [`loops_5_to_3`] for the block; `a_packed` holds `mc.div_ceil(MR)`
/// slots of `MR·kc` floats (one when `direct`).
unsafe fn plan_row_slivers(
    ts: &TileSet,
    a: RawMat,
    direct: bool,
    a_packed: &mut [f32],
    plan: &mut Vec<RowSliver>,
) {
    let (mc, kc, third) = (a.rows, a.cols, ts.mr / 3);
    plan.clear();
    let mut ir = 0;
    while ir < mc {
        let mr = sliver_rows(ts.mr, mc, ir);
        let rows = a.at(ir, 0);
        let in_place = direct && mr % third == 0;
        let (fns, src) = if in_place {
            let layout = if a.cs == 1 { 0 } else { 1 };
            let src = ASrc {
                a: rows,
                rs: a.rs,
                ks: a.cs,
            };
            (&ts.tiles[layout][mr / third - 1], src)
        } else {
            let slot = if direct { 0 } else { plan.len() };
            let dst = &mut a_packed[slot * ts.mr * kc..(slot + 1) * ts.mr * kc];
            (ts.pack_a)(mr, kc, rows, a.rs, a.cs, dst);
            // Zero padding makes the next multiple of MR/3 rows exact.
            let src = ASrc {
                a: dst.as_ptr(),
                rs: 1,
                ks: ts.mr,
            };
            (&ts.tiles[2][mr.div_ceil(third) - 1], src)
        };
        plan.push(RowSliver {
            ir,
            mr,
            a: src,
            tile: fns[0],
            fill: fns[1],
        });
        ir += mr;
    }
}

/// The naive twin and test oracle: a plain triple loop computing
/// `C ← epilogue(α·Σ_p A[i,p]·B[p,j] + β·C)` with the sum accumulated in
/// f32 in order p = 0, 1, …; β = 0 does not read C.
pub fn gemm_naive(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    mut c: MatMut,
    epi: Epilogue,
) -> Result<()> {
    let (m, k, n) = check(&a, &b, &c, &epi)?;
    for i in 0..m {
        for j in 0..n {
            // α = 0 reads neither A nor B (the BLAS convention, as `gemm`).
            let mut v = 0.0;
            if alpha != 0.0 {
                let mut acc = 0.0f32;
                for p in 0..k {
                    acc += a.get(i, p) * b.get(p, j);
                }
                v = alpha * acc;
            }
            if beta != 0.0 {
                v += beta * c.get(i, j);
            }
            if let Some(bias) = epi.bias {
                v += bias[j];
            }
            if epi.relu {
                v = relu_s(v);
            }
            c.set(i, j, v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slivers cover the block exactly, none is taller than MR, the
    /// short ones come first, and a sliver of MR/3 rows or fewer appears
    /// only when the whole block is that short.
    #[test]
    fn row_slivers_cover_the_block_without_thin_tails() {
        for kernel in Kernel::ALL {
            let mr = kernel.mr();
            let cut = |mc| {
                let (mut ir, mut heights) = (0, vec![]);
                while ir < mc {
                    let h = sliver_rows(mr, mc, ir);
                    assert!((1..=mr).contains(&h), "mc {mc}: sliver of {h} rows");
                    heights.push(h);
                    ir += h;
                }
                assert_eq!(ir, mc, "mc {mc}: {heights:?}");
                heights
            };
            for mc in 1..=4 * mr + 7 {
                let heights = cut(mc);
                // As many slivers as MR-row ones would need: the packed A
                // buffer holds that many.
                assert_eq!(heights.len(), mc.div_ceil(mr), "mc {mc}: {heights:?}");
                if mc > mr / 3 {
                    assert!(heights.iter().all(|&h| h > mr / 3), "mc {mc}: {heights:?}");
                }
                let full = heights
                    .iter()
                    .position(|&h| h == mr)
                    .unwrap_or(heights.len());
                assert!(
                    heights[full..].iter().all(|&h| h == mr),
                    "mc {mc}: {heights:?}"
                );
            }
            if mr == 6 {
                assert_eq!(cut(64), [4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6]);
                assert_eq!(cut(14), [4, 4, 6]);
                assert_eq!(cut(13), [4, 3, 6]);
                assert_eq!(cut(2), [2]);
            } else {
                assert_eq!(cut(64), [8, 8, 12, 12, 12, 12]);
                assert_eq!(cut(128), [8, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12]);
                assert_eq!(cut(13), [8, 5]);
                assert_eq!(cut(4), [4]);
            }
        }
    }

    /// Under one MC block the prefetch chain runs through every sliver of
    /// every k block; under several it stops at the end of a k block.
    #[test]
    fn next_packed_sliver_walks_columns_then_k_blocks() {
        let (k, kc_max, nc, nr) = (700, 234, 40, 16);
        let next = |at, one| next_packed_sliver(at, nc, nr, k, kc_max, one);
        assert_eq!(next((0, 0, 234), true), Some((0, 16, 234)));
        assert_eq!(next((0, 16, 234), true), Some((0, 32, 234)));
        assert_eq!(next((0, 32, 234), true), Some((234, 0, 234)));
        assert_eq!(next((468, 32, 232), true), None);
        assert_eq!(next((0, 32, 234), false), None);
        assert_eq!(next((234, 16, 234), false), Some((234, 32, 234)));
    }

    /// The native kernel is the widest this build has in registers, and
    /// every kernel names its width and tile.
    #[test]
    fn kernels_describe_themselves() {
        assert_eq!(Kernel::native() == Kernel::F32x16, crate::simd::HAS_AVX512);
        assert!(Kernel::F32x8.describe().contains("f32x8, 6×16 tile"));
        assert!(Kernel::F32x16.describe().contains("f32x16, 12×32 tile"));
        let d = Config::native().describe();
        assert!(d.contains("tile; kc "), "{d}");
    }
}
