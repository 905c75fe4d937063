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

use crate::buffer::AlignedVec;
use crate::error::{CoreError, Result};
use crate::tensor::{MatMut, MatRef};
use blocking::{balanced_kc, KC, KC_PACKED_A, MC, MR, NC, NR, PREFETCH_C_MIN_KC, PREFETCH_MIN_LEN};
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

thread_local! {
    // Packing buffers and the plan of row slivers are reused across calls:
    // after the first call of a given size a GEMM allocates nothing.
    static PACK: RefCell<(AlignedVec, AlignedVec, Vec<RowSliver>)> = RefCell::new(Default::default());
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
    let direct_a = read_a_in_place(n, rsa, csa);
    let kc_max = balanced_kc(k, if direct_a { KC } else { KC_PACKED_A });
    // Each row of a 16-column sliver of B is contiguous: the first row
    // sliver reads B in place and packs it as it goes.
    let fuse_b = csb == 1;
    PACK.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        let (abuf, bbuf, plan) = &mut *bufs;
        // In place, A needs a packed sliver only for an odd last sliver.
        let a_rows = if direct_a {
            MR
        } else {
            MC.min(m.div_ceil(MR) * MR)
        };
        let a_packed = abuf.at_least(a_rows * kc_max);
        // With one MC block, a packed sliver of B is read only by the row
        // slivers right after its packing, so every sliver reuses the same
        // buffer: it stays in L1, and the kernel that packs it stores into
        // L1 instead of fetching the lines of a KC × NC buffer from L2 (two
        // points of peak on 64x784x128). Later MC blocks need every sliver
        // of the block kept.
        let one_mc_block = m <= MC;
        let b_slivers = if one_mc_block {
            1
        } else {
            NC.min(n).div_ceil(NR)
        };
        let b_packed = bbuf.at_least(b_slivers * NR * kc_max);
        // Loop 5: split n into NC-column blocks (B's block lives in L3).
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            // Loop 4: split k into KC-deep blocks (slivers live in L1).
            let mut pc = 0;
            while pc < k {
                let kc = kc_max.min(k - pc);
                let first = pc == 0;
                let last = pc + kc == k;
                let large_c = m * n >= PREFETCH_MIN_LEN;
                let prefetch = kc >= PREFETCH_C_MIN_KC && large_c;
                // On a shallow k block a large C is prefetched a tile
                // ahead instead, spread over the k loop (see loop 1).
                let c_ahead = !prefetch && large_c && csc == 1;
                // Loop 3: split m into MC-row blocks (A's block lives in L2).
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    let a_block = a.add(ic * rsa + pc * csa);
                    plan_row_slivers(mc, kc, a_block, rsa, csa, direct_a, a_packed, plan);
                    // Loop 2: NR-column slivers of B. The first MC block
                    // packs each sliver just before (or while) it is first
                    // used, so it is in L1 for the row slivers that follow;
                    // later MC blocks reuse it.
                    for jr in (0..nc).step_by(NR) {
                        let nr = NR.min(nc - jr);
                        let b_src = b.add(pc * rsb + (jc + jr) * csb);
                        let slot = if one_mc_block { 0 } else { jr / NR };
                        let b_sliver = b_packed.as_mut_ptr().add(slot * NR * kc);
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
                        // The next sliver of B that the first MC block
                        // reads where it lies: this sliver's plain tiles
                        // prefetch it, a share of its rows each.
                        let next_b = if ic == 0 && k * n >= PREFETCH_MIN_LEN {
                            let next = next_packed_sliver(pc, jr, kc, nc, k, kc_max, one_mc_block);
                            next.and_then(|(npc, njr, nkc)| {
                                let src = b.add(npc * rsb + (jc + njr) * csb);
                                let nnr = NR.min(nc - njr);
                                if csb == 1 {
                                    Some(kernel::PrefetchRows::new(src, rsb, nnr, nkc))
                                } else if rsb == 1 {
                                    // A transposed view: the sliver's
                                    // columns are contiguous rows of Bᵀ.
                                    Some(kernel::PrefetchRows::new(src, csb, nkc, nnr))
                                } else {
                                    None
                                }
                            })
                        } else {
                            None
                        };
                        let skip = usize::from(pack_in_kernel);
                        // A tile fetches one line per 4 k steps.
                        let share = next_b.map_or(0, |nb| {
                            let tiles = plan.len().saturating_sub(skip).max(1);
                            nb.rows().div_ceil(tiles).min(kc / 4 / nb.calls_per_row())
                        });
                        // What the tiles of this sliver share; loop 1
                        // sets each tile's corner and prefetch share.
                        let c_sliver = c.add(ic * rsc + (jc + jr) * csc);
                        let mut dest = kernel::Dest {
                            c: c_sliver,
                            rsc,
                            csc,
                            mr: MR,
                            nr,
                            ops,
                            prefetch,
                            ahead: kernel::PrefetchRows::NONE,
                        };
                        // Loop 1: row slivers of A, one micro-tile each.
                        for (i, sl) in plan.iter().enumerate() {
                            dest.ahead = match (next_b, plan.get(i + 1)) {
                                (Some(nb), _) if i >= skip => {
                                    nb.rows_from((i - skip) * share, share)
                                }
                                // No B to prefetch: the corner of C the
                                // next tile writes, where the tile's short
                                // k loop leaves no time for a burst before
                                // its own stores (1 point on 128x64x784).
                                (None, Some(nx)) if c_ahead => {
                                    let corner = c_sliver.add(nx.ir * rsc);
                                    kernel::PrefetchRows::new(corner, rsc, nr, nx.mr)
                                }
                                _ => kernel::PrefetchRows::NONE,
                            };
                            dest.c = c_sliver.add(sl.ir * rsc);
                            dest.mr = sl.mr;
                            // The first row sliver reads B in place and
                            // packs it; the others read the packed copy.
                            if pack_in_kernel && i == 0 {
                                (sl.fill)(kc, sl.a, sl.ars, sl.aks, b_src, rsb, b_sliver, &dest);
                            } else {
                                let bp = b_sliver as *const f32;
                                (sl.tile)(kc, sl.a, sl.ars, sl.aks, bp, NR, b_sliver, &dest);
                            }
                        }
                    }
                }
                pc += kc;
            }
        }
    });
}

/// The sliver of B that the first MC block packs after the one at column
/// `jr` of the k block that starts at row `pc` (`kc` deep, in an NC block
/// `nc` wide): the next column sliver of the same k block, or, when all of
/// m is one MC block (so the k blocks follow each other under it), the
/// first sliver of the next k block. Returns its `(pc, jr, kc)`.
fn next_packed_sliver(
    pc: usize,
    jr: usize,
    kc: usize,
    nc: usize,
    k: usize,
    kc_max: usize,
    one_mc_block: bool,
) -> Option<(usize, usize, usize)> {
    if jr + NR < nc {
        Some((pc, jr + NR, kc))
    } else if one_mc_block && pc + kc < k {
        Some((pc + kc, 0, kc_max.min(k - pc - kc)))
    } else {
        None
    }
}

/// One row sliver of an MC block as loop 1 runs it: rows `ir .. ir + mr`
/// of the block, read by the micro-kernel at `a` with strides `ars`, `aks`
/// (in place, or the packing buffer), through `tile`, or `fill` when it
/// also packs the sliver of B it reads in place.
#[derive(Clone, Copy)]
struct RowSliver {
    ir: usize,
    mr: usize,
    a: *const f32,
    ars: usize,
    aks: usize,
    tile: kernel::TileFn,
    fill: kernel::TileFn,
}

/// Rows of the row sliver that starts at row `ir` of an MC block of `mc`
/// rows. The block is cut into MR-row slivers, but its remainder comes
/// first, because the first sliver is the one that packs B while it
/// computes (see [`kernel::kernel`]):
/// - The packing's two vector stores per k step compete with the
///   broadcasts of A for issue slots, and the cost, in cycles per k step,
///   is about four times smaller on a 4-row tile than on a 6-row one
///   (hot L1, measured: 6 rows run at 76% of peak with the stores and 97%
///   without; 4 rows at 88% and 96%).
/// - A remainder of 1 or 2 rows is not left alone: MR + 1 or MR + 2 rows
///   run as 4 + 3 or 4 + 4. A 1- or 2-row tile has 2 or 4 accumulators,
///   too few to cover the FMA latency (4 cycles × 2 pipes needs 8), so it
///   takes as long as a 4-row one: 2 + 6 rows cost 10 row-times, 4 + 4
///   cost 8.
///
/// So 64 rows run as 4 + 10 × 6, 128 as 4 + 4 + 20 × 6, 13 as 4 + 3 + 6.
fn sliver_rows(mc: usize, ir: usize) -> usize {
    // The rows before the first full sliver.
    let lead = match mc % MR {
        1 | 2 if mc > MR => MR + mc % MR,
        r => r,
    };
    if ir >= lead {
        MR
    } else if lead - ir > MR {
        4
    } else {
        lead - ir
    }
}

/// Cuts the `mc × kc` block of A at `a_block` (strides `rsa`, `csa`) into
/// row slivers (see [`sliver_rows`]), packs those the kernel does not read
/// in place into `a_packed`, and fills `plan` with how loop 1 runs each.
///
/// With `direct`, slivers of 2, 4 or 6 rows are read in place and an odd
/// one (there is at most one) is packed into the first slot; otherwise
/// sliver `s` is packed into slot `s`. Packed slivers are zero-padded to
/// MR rows, so an odd one is computed with one zero row more.
///
/// # Safety
/// As [`gemm_unchecked`] for the block; `a_packed` holds `mc.div_ceil(MR)`
/// slots of `MR·kc` floats (one when `direct`).
#[allow(clippy::too_many_arguments)]
unsafe fn plan_row_slivers(
    mc: usize,
    kc: usize,
    a_block: *const f32,
    rsa: usize,
    csa: usize,
    direct: bool,
    a_packed: &mut [f32],
    plan: &mut Vec<RowSliver>,
) {
    use kernel::{tile, ColsA, PackedA, RowsA};
    // The plain and the B-packing instance for a layout and row count,
    // named in each arm below: const generics need the count at compile time.
    macro_rules! pick {
        ($layout:ty, $rows:literal) => {
            (
                tile::<$layout, $rows, false> as kernel::TileFn,
                tile::<$layout, $rows, true> as kernel::TileFn,
            )
        };
    }
    plan.clear();
    let mut ir = 0;
    while ir < mc {
        let mr = sliver_rows(mc, ir);
        let rows = a_block.add(ir * rsa);
        let in_place = direct && mr % 2 == 0;
        let ((tile, fill), a, ars, aks) = if in_place {
            let fns = match (csa == 1, mr) {
                (true, 2) => pick!(RowsA, 2),
                (true, 4) => pick!(RowsA, 4),
                (true, _) => pick!(RowsA, 6),
                (false, 2) => pick!(ColsA, 2),
                (false, 4) => pick!(ColsA, 4),
                (false, _) => pick!(ColsA, 6),
            };
            (fns, rows, rsa, csa)
        } else {
            let slot = if direct { 0 } else { plan.len() };
            let dst = &mut a_packed[slot * MR * kc..(slot + 1) * MR * kc];
            pack::pack_a(mr, kc, rows, rsa, csa, dst);
            // Zero padding makes the next even row count exact.
            let fns = match mr {
                1..=2 => pick!(PackedA, 2),
                3..=4 => pick!(PackedA, 4),
                _ => pick!(PackedA, 6),
            };
            (fns, dst.as_ptr(), 1, MR)
        };
        plan.push(RowSliver {
            ir,
            mr,
            a,
            ars,
            aks,
            tile,
            fill,
        });
        ir += mr;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The slivers cover the block exactly, none is taller than MR, the
    /// short ones come first, and a 1- or 2-row sliver appears only when
    /// the whole block is that short.
    #[test]
    fn row_slivers_cover_the_block_without_thin_tails() {
        let cut = |mc| {
            let (mut ir, mut heights) = (0, vec![]);
            while ir < mc {
                let mr = sliver_rows(mc, ir);
                assert!((1..=MR).contains(&mr), "mc {mc}: sliver of {mr} rows");
                heights.push(mr);
                ir += mr;
            }
            assert_eq!(ir, mc, "mc {mc}: {heights:?}");
            heights
        };
        for mc in 1..=MC {
            let heights = cut(mc);
            // As many slivers as MR-row ones would need: the packed A
            // buffer holds that many.
            assert_eq!(heights.len(), mc.div_ceil(MR), "mc {mc}: {heights:?}");
            if mc > 2 {
                assert!(heights.iter().all(|&h| h >= 3), "mc {mc}: {heights:?}");
            }
            let full = heights
                .iter()
                .position(|&h| h == MR)
                .unwrap_or(heights.len());
            assert!(
                heights[full..].iter().all(|&h| h == MR),
                "mc {mc}: {heights:?}"
            );
        }
        assert_eq!(cut(64), [4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6]);
        assert_eq!(cut(14), [4, 4, 6]);
        assert_eq!(cut(13), [4, 3, 6]);
        assert_eq!(cut(2), [2]);
    }

    /// Under one MC block the prefetch chain runs through every sliver of
    /// every k block; under several it stops at the end of a k block.
    #[test]
    fn next_packed_sliver_walks_columns_then_k_blocks() {
        let (k, kc_max, nc) = (700, 234, 40);
        assert_eq!(
            next_packed_sliver(0, 0, 234, nc, k, kc_max, true),
            Some((0, 16, 234))
        );
        assert_eq!(
            next_packed_sliver(0, 16, 234, nc, k, kc_max, true),
            Some((0, 32, 234))
        );
        assert_eq!(
            next_packed_sliver(0, 32, 234, nc, k, kc_max, true),
            Some((234, 0, 234))
        );
        assert_eq!(next_packed_sliver(468, 32, 232, nc, k, kc_max, true), None);
        assert_eq!(next_packed_sliver(0, 32, 234, nc, k, kc_max, false), None);
        assert_eq!(
            next_packed_sliver(234, 16, 234, nc, k, kc_max, false),
            Some((234, 32, 234))
        );
    }
}
