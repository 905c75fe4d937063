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
//! Files: `blocking.rs` (MR, NR, KC, MC, NC and which loop each cuts),
//! `pack.rs` (packing A and B), `kernel.rs` (the MR × NR micro-kernel and
//! the fused tile store), this file (the loop nest, the checked API, the
//! naive twin).

pub mod blocking;
pub mod kernel;
pub mod pack;

use std::cell::RefCell;

use crate::error::{CoreError, Result};
use crate::simd::F32x8;
use crate::tensor::{MatMut, MatRef};
use blocking::{balanced_kc, MC, MR, NC, NR};
use kernel::{relu_s, TileOps};

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

/// `C ← epilogue(α·op(A)·op(B) + β·C)` (see the module docs), single thread.
///
/// `a` is `m × k`, `b` is `k × n`, `c` is `m × n`; pass `x.t()` for a
/// transposed operand. Errors (printing both shapes) when they disagree or
/// the bias is not `n` long.
pub fn gemm(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    mut c: MatMut,
    epi: Epilogue,
) -> Result<()> {
    let (m, k, n) = check(&a, &b, &c, &epi)?;
    let (rsc, csc) = (c.rs(), c.cs());
    // SAFETY: the views were bounds-checked when made, and `check` verified
    // the shapes agree and C's elements are disjoint.
    unsafe {
        gemm_unchecked(
            m,
            k,
            n,
            alpha,
            a.data().as_ptr(),
            a.rs(),
            a.cs(),
            b.data().as_ptr(),
            b.rs(),
            b.cs(),
            beta,
            c.data_mut().as_mut_ptr(),
            rsc,
            csc,
            epi,
        );
    }
    Ok(())
}

/// As [`gemm`], splitting the work into `threads` parts run on the calling
/// thread and a persistent pool of workers (started on first use).
///
/// The split is along n (or m when n is narrow) in whole micro-tiles, so
/// every element of C is computed by exactly the same sequence of
/// operations as with one thread: the result is bit-identical whatever
/// `threads` is.
pub fn gemm_par(
    threads: usize,
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    mut c: MatMut,
    epi: Epilogue,
) -> Result<()> {
    let (m, k, n) = check(&a, &b, &c, &epi)?;
    // Below ~1 MFLOP waking a worker costs more than it saves.
    let work = 2 * m * k * n;
    let threads = threads.max(1);
    if threads == 1 || work < 1 << 20 {
        return gemm(alpha, a, b, beta, c, epi);
    }
    let (rsc, csc) = (c.rs(), c.cs());
    let cp = SendPtr(c.data_mut().as_mut_ptr());
    let (ap, bp) = (
        SendPtr(a.data().as_ptr() as *mut f32),
        SendPtr(b.data().as_ptr() as *mut f32),
    );
    let split_n = n >= m || n >= threads * 4 * NR;
    let (len, unit) = if split_n { (n, NR) } else { (m, MR) };
    let units = len.div_ceil(unit);
    let threads = threads.min(units);
    let (ars, acs, brs, bcs) = (a.rs(), a.cs(), b.rs(), b.cs());
    // Part t computes columns (or rows) lo..hi of C, whichever thread of
    // the pool runs it.
    let part = |t: usize| {
        let lo = (units * t / threads) * unit;
        let hi = ((units * (t + 1) / threads) * unit).min(len);
        if lo >= hi {
            return;
        }
        let (ap, bp, cp) = (ap, bp, cp);
        // SAFETY: each part owns the disjoint columns (or rows) lo..hi of C;
        // A and B are only read; the views were checked by `check`.
        unsafe {
            if split_n {
                let sub = Epilogue {
                    bias: epi.bias.map(|b| &b[lo..hi]),
                    relu: epi.relu,
                };
                gemm_unchecked(
                    m,
                    k,
                    hi - lo,
                    alpha,
                    ap.0,
                    ars,
                    acs,
                    bp.0.add(lo * bcs),
                    brs,
                    bcs,
                    beta,
                    cp.0.add(lo * csc),
                    rsc,
                    csc,
                    sub,
                );
            } else {
                gemm_unchecked(
                    hi - lo,
                    k,
                    n,
                    alpha,
                    ap.0.add(lo * ars),
                    ars,
                    acs,
                    bp.0,
                    brs,
                    bcs,
                    beta,
                    cp.0.add(lo * rsc),
                    rsc,
                    csc,
                    epi,
                );
            }
        }
    };
    crate::pool::run(threads, &part);
    Ok(())
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: used only to hand disjoint parts of C (and shared read-only A, B)
// to scoped threads that end before the borrow does.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// A growable buffer of 32-byte aligned floats (backed by `f32x8`s).
#[derive(Default)]
struct AlignedBuf(Vec<F32x8>);

impl AlignedBuf {
    fn get(&mut self, len: usize) -> &mut [f32] {
        let vecs = len.div_ceil(8);
        if self.0.len() < vecs {
            self.0.resize(vecs, F32x8::ZERO);
        }
        // SAFETY: f32x8 is 8 f32s with no padding; the slice stays inside.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr() as *mut f32, len) }
    }
}

thread_local! {
    // Packing buffers are reused across calls: after the first call of a
    // given size a GEMM allocates nothing.
    static PACK: RefCell<(AlignedBuf, AlignedBuf)> = RefCell::new(Default::default());
}

/// The loop nest on raw pointers. See [`gemm`] for the formula.
///
/// # Safety
/// For `i < m, p < k, j < n`: `a + i·rsa + p·csa` and `b + p·rsb + j·csb`
/// are readable, `c + i·rsc + j·csc` is writable (readable if β ≠ 0) and
/// distinct for distinct `(i, j)`; `epi.bias` has `n` values; A and B do
/// not overlap C.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_unchecked(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    beta: f32,
    c: *mut f32,
    rsc: usize,
    csc: usize,
    epi: Epilogue,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        // No product: C ← epilogue(β·C) (β = 0 writes without reading).
        for i in 0..m {
            for j in 0..n {
                let p = c.add(i * rsc + j * csc);
                let mut v = if beta == 0.0 { 0.0 } else { beta * *p };
                if let Some(bias) = epi.bias {
                    v += bias[j];
                }
                *p = if epi.relu { relu_s(v) } else { v };
            }
        }
        return;
    }
    let kc_max = balanced_kc(k);
    let direct_a = read_a_in_place(n, rsa, csa);
    // Each row of a 16-column sliver of B is contiguous: the first row
    // sliver reads B in place and packs it as it goes.
    let fuse_b = csb == 1;
    PACK.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        let (abuf, bbuf) = &mut *bufs;
        // In place, A needs a packed sliver only for its last, short rows.
        let a_rows = if direct_a {
            MR
        } else {
            MC.min(m.div_ceil(MR) * MR)
        };
        let a_packed = abuf.get(a_rows * kc_max);
        let b_packed = bbuf.get(NC.min(n.div_ceil(NR) * NR) * kc_max);
        // Loop 5: split n into NC-column blocks (B's block lives in L3).
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            // Loop 4: split k into KC-deep blocks (slivers live in L1).
            let mut pc = 0;
            while pc < k {
                let kc = kc_max.min(k - pc);
                let first = pc == 0;
                let last = pc + kc == k;
                // Loop 3: split m into MC-row blocks (A's block lives in L2).
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    let a_block = a.add(ic * rsa + pc * csa);
                    if !direct_a {
                        pack::pack_a(mc, kc, a_block, rsa, csa, a_packed);
                    } else if mc % MR != 0 {
                        let tail = mc - mc % MR;
                        pack::pack_a(mc % MR, kc, a_block.add(tail * rsa), rsa, csa, a_packed);
                    }
                    // Loop 2: NR-column slivers of B. The first MC block
                    // packs each sliver just before (or while) it is first
                    // used, so it is in L1 for the row slivers that follow;
                    // later MC blocks reuse it.
                    for jr in (0..nc).step_by(NR) {
                        let nr = NR.min(nc - jr);
                        let b_src = b.add(pc * rsb + (jc + jr) * csb);
                        let b_sliver = b_packed.as_mut_ptr().add((jr / NR) * NR * kc);
                        let pack_in_kernel = ic == 0 && fuse_b && nr == NR;
                        if ic == 0 && !pack_in_kernel {
                            let sliver = std::slice::from_raw_parts_mut(b_sliver, NR * kc);
                            pack::pack_b(kc, nr, b_src, rsb, csb, sliver);
                        }
                        let ops = TileOps {
                            alpha,
                            beta: if first { beta } else { 1.0 },
                            bias: if last {
                                epi.bias.map(|bias| &bias[jc + jr..jc + jr + nr])
                            } else {
                                None
                            },
                            relu: last && epi.relu,
                        };
                        // Loop 1: MR-row slivers of A, one micro-tile each.
                        for ir in (0..mc).step_by(MR) {
                            let mr = MR.min(mc - ir);
                            let dest = kernel::Dest {
                                c: c.add((ic + ir) * rsc + (jc + jr) * csc),
                                rsc,
                                csc,
                                mr,
                                nr,
                                ops,
                            };
                            // Full slivers of an in-place A are read where
                            // they lie; everything else from `a_packed`.
                            let (layout, ap, ars, aks) = if direct_a && mr == MR {
                                let layout = if csa == 1 {
                                    ALayout::Rows
                                } else {
                                    ALayout::Cols
                                };
                                (layout, a_block.add(ir * rsa), rsa, csa)
                            } else {
                                let sliver = if direct_a { 0 } else { (ir / MR) * MR * kc };
                                (ALayout::Packed, a_packed.as_ptr().add(sliver), 1, MR)
                            };
                            // The first row sliver reads B in place and
                            // packs it; the others read the packed copy.
                            let fill = pack_in_kernel && ir == 0;
                            let (bp, bks) = if fill {
                                (b_src, rsb)
                            } else {
                                (b_sliver as *const f32, NR)
                            };
                            let f = pick_tile(layout, mr, fill);
                            f(kc, ap, ars, aks, bp, bks, b_sliver, &dest);
                        }
                    }
                }
                pc += kc;
            }
        }
    });
}

/// How the micro-kernel reads a sliver of A (see [`kernel::ASliver`]).
#[derive(Clone, Copy)]
enum ALayout {
    Packed,
    Rows,
    Cols,
}

/// The [`kernel::tile`] instance for a sliver of `mr` rows of A in `layout`
/// (packed slivers are zero-padded, so 2, 4 or 6 rows are computed; slivers
/// read in place are always full), reading B in place and packing it when
/// `fill`.
fn pick_tile(layout: ALayout, mr: usize, fill: bool) -> kernel::TileFn {
    use kernel::{tile, ColsA, PackedA, RowsA};
    match (layout, fill) {
        (ALayout::Rows, false) => tile::<RowsA, MR, false>,
        (ALayout::Rows, true) => tile::<RowsA, MR, true>,
        (ALayout::Cols, false) => tile::<ColsA, MR, false>,
        (ALayout::Cols, true) => tile::<ColsA, MR, true>,
        (ALayout::Packed, false) => match mr {
            1..=2 => tile::<PackedA, 2, false>,
            3..=4 => tile::<PackedA, 4, false>,
            _ => tile::<PackedA, MR, false>,
        },
        (ALayout::Packed, true) => match mr {
            1..=2 => tile::<PackedA, 2, true>,
            3..=4 => tile::<PackedA, 4, true>,
            _ => tile::<PackedA, MR, true>,
        },
    }
}

/// Whether the micro-kernel reads A where it lies instead of from a packed
/// copy.
///
/// Packing A costs a pass over the `mc × kc` block through L2 (about half a
/// cycle per float) and is repaid once per NR-column sliver of B that reads
/// it. With few slivers (the MLP's n = 10…128) the pass is a large part of
/// the time and reading in place wins; with many, packing's single
/// contiguous stream (and no cache-set conflicts between rows at large
/// power-of-two strides) wins. A must have unit stride along k or along m
/// so the rows the kernel broadcasts from stream through whole cache lines.
fn read_a_in_place(n: usize, rsa: usize, csa: usize) -> bool {
    n <= DIRECT_A_MAX_N && (csa == 1 || rsa == 1)
}

/// Widest n for which A is read in place (see [`read_a_in_place`]).
const DIRECT_A_MAX_N: usize = 16 * NR;

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
