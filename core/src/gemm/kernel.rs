//! The micro-kernel contract and its `f32x8` implementation.
//!
//! `kernel(kc, a_packed, b_packed) -> tile` computes the MR × NR product of
//! one packed A sliver (`kc × MR`, k-major) and one packed B sliver
//! (`kc × NR`, k-major) in registers: 12 `f32x8` accumulators, updated by
//! 12 FMAs per k from 2 vector loads of B and 6 broadcasts of A.
//! [`store_tile`] then applies `α`, `β`, and on the last k block the
//! epilogue (bias, ReLU) while the tile is still in registers, and writes
//! only the valid `mr × nr` corner to C.

use super::blocking::{MR, NR};
use crate::simd::{load_ptr, store_ptr, F32x8};

/// The register tile: `tile[i][h]` holds `C[i, 8h .. 8h + 8]`.
pub type Tile = [[F32x8; NR / 8]; MR];

/// Computes `Σ_p a_packed[p, :]ᵀ · b_packed[p, :]` over `kc` steps.
///
/// # Safety
/// `a` must point at `kc·MR` readable floats and `b` at `kc·NR` readable
/// floats aligned to 32 bytes (the packing buffers are).
/// `ROWS ≤ MR` rows are computed (the first `ROWS` of the sliver; the rest
/// of the tile stays zero): the last row sliver of an m that is not a
/// multiple of MR (m = 64 leaves 4) then costs 4/6 of a full one, not all
/// of it.
#[inline(always)]
pub unsafe fn kernel<const ROWS: usize>(kc: usize, a: *const f32, b: *const f32) -> Tile {
    let mut c: Tile = [[F32x8::ZERO; NR / 8]; MR];
    let mut a = a;
    let mut b = b as *const F32x8;
    // Unrolled by hand so the 12 accumulators stay in registers and the
    // loop overhead is paid once per 4 k steps.
    macro_rules! step {
        ($off:expr) => {{
            let b0 = *b.add(2 * $off);
            let b1 = *b.add(2 * $off + 1);
            for i in 0..ROWS {
                let ai = F32x8::splat(*a.add($off * MR + i));
                c[i][0] = ai.mul_add(b0, c[i][0]);
                c[i][1] = ai.mul_add(b1, c[i][1]);
            }
        }};
    }
    for _ in 0..kc / 4 {
        step!(0);
        step!(1);
        step!(2);
        step!(3);
        a = a.add(4 * MR);
        b = b.add(8);
    }
    for _ in 0..kc % 4 {
        step!(0);
        a = a.add(MR);
        b = b.add(2);
    }
    c
}

/// Asks the cache to fetch the `mr × nr` corner of C at `c` (row-major
/// rows, `csc = 1`) while the micro-kernel runs, so that [`store_tile`]
/// does not stall on C lines that live in L3 or memory (large C, or a
/// C written back between k blocks). Does nothing for other strides or on
/// targets without a prefetch instruction.
///
/// # Safety
/// None in practice (a prefetch never faults); `unsafe` because it takes a
/// raw pointer that must at least be computed within C's allocation.
#[inline(always)]
pub unsafe fn prefetch_c(c: *const f32, rsc: usize, csc: usize, mr: usize, nr: usize) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        #[cfg(target_arch = "x86")]
        use std::arch::x86::{_mm_prefetch, _MM_HINT_T0};
        #[cfg(target_arch = "x86_64")]
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        if csc == 1 && nr > 0 {
            for i in 0..mr {
                let row = c.add(i * rsc);
                // The first and last element of the row: the one or two
                // cache lines its `nr` floats span.
                _mm_prefetch::<_MM_HINT_T0>(row as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(row.add(nr - 1) as *const i8);
            }
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    let _ = (c, rsc, csc, mr, nr);
}

/// What [`store_tile`] does to the tile before writing it.
#[derive(Clone, Copy)]
pub struct TileOps<'a> {
    /// `α` of `C ← α·A·B + β·C`.
    pub alpha: f32,
    /// `β` of this k block: the caller's β on the first block, 1 after.
    pub beta: f32,
    /// Bias for the tile's columns (`nr` values), added on the last k block.
    pub bias: Option<&'a [f32]>,
    /// Clamp negatives to zero after the bias, on the last k block.
    pub relu: bool,
}

/// `relu(x) = x < 0 ? 0 : x`, which keeps NaN as NaN (so a diverging net is
/// seen, not silently zeroed).
#[inline(always)]
pub fn relu_v(x: F32x8) -> F32x8 {
    // Clear the lanes where x < 0 with a bitwise AND-NOT (a `select` here
    // becomes a masked store, `vmaskmovps`, when the caller writes the
    // result back over x, and that is microcoded on AMD Zen).
    x & !x.simd_lt(F32x8::ZERO)
}

/// Scalar twin of [`relu_v`].
#[inline(always)]
pub fn relu_s(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// Writes `ops(tile)` into the `mr × nr` corner of C at `c` (strides `rsc`,
/// `csc`): `C ← α·tile + β·C`, then `+ bias[j]`, then ReLU.
/// When `β = 0`, C is not read, so NaN or garbage there is overwritten.
///
/// # Safety
/// `c + i·rsc + j·csc` must be writable (and readable when β ≠ 0) for
/// `i < mr`, `j < nr`, unaliased; `bias`, if any, has at least `nr` values.
#[inline(always)]
pub unsafe fn store_tile(
    tile: &Tile,
    c: *mut f32,
    rsc: usize,
    csc: usize,
    mr: usize,
    nr: usize,
    ops: TileOps<'_>,
) {
    let alpha = F32x8::splat(ops.alpha);
    let beta = F32x8::splat(ops.beta);
    let bias_v: [F32x8; NR / 8] = match ops.bias {
        Some(bias) if nr == NR => [load_ptr(bias.as_ptr()), load_ptr(bias.as_ptr().add(8))],
        Some(bias) => {
            let mut padded = [0.0f32; NR];
            padded[..nr].copy_from_slice(&bias[..nr]);
            [F32x8::from(&padded[..8]), F32x8::from(&padded[8..])]
        }
        None => [F32x8::ZERO; NR / 8],
    };
    let finish = |acc: F32x8, old: Option<F32x8>, h: usize| {
        let mut v = match old {
            Some(old) => beta.mul_add(old, alpha * acc),
            None => alpha * acc,
        };
        if ops.bias.is_some() {
            v += bias_v[h];
        }
        if ops.relu {
            v = relu_v(v);
        }
        v
    };
    let read_c = ops.beta != 0.0;
    if nr == NR && csc == 1 {
        // Fast path: full-width tile, row-major C: vector loads and stores
        // (also for the short last row block, which a 6-row tile leaves for
        // every m that is not a multiple of 6).
        for (i, row) in tile.iter().enumerate().take(mr) {
            let cr = c.add(i * rsc);
            for (h, &acc) in row.iter().enumerate() {
                let p = cr.add(8 * h);
                let old = if read_c { Some(load_ptr(p)) } else { None };
                store_ptr(p, finish(acc, old, h));
            }
        }
    } else {
        // Edge tiles and general strides: go through a stack copy.
        for (i, row) in tile.iter().enumerate().take(mr) {
            for (h, &acc) in row.iter().enumerate() {
                let j0 = 8 * h;
                if j0 >= nr {
                    break;
                }
                let cnt = (nr - j0).min(8);
                let mut old = [0.0f32; 8];
                if read_c {
                    for (j, o) in old.iter_mut().enumerate().take(cnt) {
                        *o = *c.add(i * rsc + (j0 + j) * csc);
                    }
                }
                let v = finish(acc, read_c.then(|| F32x8::new(old)), h).to_array();
                for (j, &x) in v.iter().enumerate().take(cnt) {
                    *c.add(i * rsc + (j0 + j) * csc) = x;
                }
            }
        }
    }
}
