//! Packing: copies a block of A or B into the contiguous, zero-padded order
//! the micro-kernel streams through, whatever the source strides.
//!
//! Packed A (an `mc × kc` block) is a sequence of MR-row panels; panel `r`
//! holds `a_packed[r·MR·kc + p·MR + i] = A[r·MR + i, p]`, rows past `mc`
//! zero. Packed B (a `kc × nc` block) is a sequence of NR-column panels;
//! panel `s` holds `b_packed[s·NR·kc + p·NR + j] = B[p, s·NR + j]`, columns
//! past `nc` zero. Zero padding lets the kernel always run a full tile.

use super::blocking::{MR, NR};
use crate::simd::{load_ptr, F32x8};

/// Packs the `mc × kc` block of A at `a` (strides `rsa`, `csa`).
///
/// # Safety
/// `a + i·rsa + p·csa` must be readable for `i < mc`, `p < kc`;
/// `out` must hold `mc.div_ceil(MR)·MR·kc` elements.
pub unsafe fn pack_a(mc: usize, kc: usize, a: *const f32, rsa: usize, csa: usize, out: &mut [f32]) {
    debug_assert!(out.len() >= mc.div_ceil(MR) * MR * kc);
    let mut dst = out.as_mut_ptr();
    for ir in (0..mc).step_by(MR) {
        let mr = MR.min(mc - ir);
        let a_panel = a.add(ir * rsa);
        if mr == MR && csa == 1 {
            // Row-major A: MR contiguous row streams, interleaved by k.
            let rows: [*const f32; MR] = std::array::from_fn(|i| a_panel.add(i * rsa));
            // 8 k values of each row in a register, an 8 × 8 transpose (two
            // rows of zeros), and each column of the result is the MR values
            // of one k: vector reads, and vector writes that overlap by two
            // lanes (each store's two extra lanes are overwritten by the
            // next; the last of a block is written as exactly MR values).
            let mut p = 0;
            while p + 8 <= kc {
                let v: [F32x8; 8] = std::array::from_fn(|i| {
                    if i < MR {
                        load_ptr(rows[i].add(p))
                    } else {
                        F32x8::ZERO
                    }
                });
                let t = F32x8::transpose(v);
                for (q, col) in t.iter().enumerate().take(7) {
                    crate::simd::store_ptr(dst.add((p + q) * MR), *col);
                }
                let last = t[7].to_array();
                std::ptr::copy_nonoverlapping(last.as_ptr(), dst.add((p + 7) * MR), MR);
                p += 8;
            }
            for p in p..kc {
                for (i, row) in rows.iter().enumerate() {
                    *dst.add(p * MR + i) = *row.add(p);
                }
            }
        } else if mr == MR && rsa == 1 {
            // Column-major A (a transposed view): each k is MR contiguous values.
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(a_panel.add(p * csa), dst.add(p * MR), MR);
            }
        } else {
            for p in 0..kc {
                for i in 0..MR {
                    *dst.add(p * MR + i) = if i < mr {
                        *a_panel.add(i * rsa + p * csa)
                    } else {
                        0.0
                    };
                }
            }
        }
        dst = dst.add(MR * kc);
    }
}

/// Packs the `kc × nc` block of B at `b` (strides `rsb`, `csb`).
///
/// # Safety
/// `b + p·rsb + j·csb` must be readable for `p < kc`, `j < nc`;
/// `out` must hold `nc.div_ceil(NR)·NR·kc` elements.
pub unsafe fn pack_b(kc: usize, nc: usize, b: *const f32, rsb: usize, csb: usize, out: &mut [f32]) {
    debug_assert!(out.len() >= nc.div_ceil(NR) * NR * kc);
    let mut dst = out.as_mut_ptr();
    for jr in (0..nc).step_by(NR) {
        let nr = NR.min(nc - jr);
        let b_panel = b.add(jr * csb);
        if nr == NR && csb == 1 {
            // Row-major B: each k row of the panel is two contiguous vectors.
            for p in 0..kc {
                let src = b_panel.add(p * rsb);
                let d = dst.add(p * NR);
                crate::simd::store_ptr(d, load_ptr(src));
                crate::simd::store_ptr(d.add(8), load_ptr(src.add(8)));
            }
        } else if nr == NR && rsb == 1 {
            // Column-major B (e.g. Wᵀ as a view of W): transpose 8 × 8 blocks
            // in registers so both the reads and the writes are vectors.
            let mut p = 0;
            while p + 8 <= kc {
                for half in 0..2 {
                    let cols: [F32x8; 8] =
                        std::array::from_fn(|j| load_ptr(b_panel.add((half * 8 + j) * csb + p)));
                    let rows = F32x8::transpose(cols);
                    for (q, row) in rows.iter().enumerate() {
                        crate::simd::store_ptr(dst.add((p + q) * NR + half * 8), *row);
                    }
                }
                p += 8;
            }
            for p in p..kc {
                for j in 0..NR {
                    *dst.add(p * NR + j) = *b_panel.add(p + j * csb);
                }
            }
        } else {
            for p in 0..kc {
                for j in 0..NR {
                    *dst.add(p * NR + j) = if j < nr {
                        *b_panel.add(p * rsb + j * csb)
                    } else {
                        0.0
                    };
                }
            }
        }
        dst = dst.add(NR * kc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_b_layouts_agree() {
        // The same logical 13 × 37 B, stored row-major and column-major.
        let (k, n) = (13, 37);
        let val = |p: usize, j: usize| (p * 100 + j) as f32;
        let rm: Vec<f32> = (0..k * n).map(|x| val(x / n, x % n)).collect();
        let cm: Vec<f32> = (0..k * n).map(|x| val(x % k, x / k)).collect();
        let len = n.div_ceil(NR) * NR * k;
        let (mut o1, mut o2) = (vec![f32::NAN; len], vec![f32::NAN; len]);
        unsafe {
            pack_b(k, n, rm.as_ptr(), n, 1, &mut o1);
            pack_b(k, n, cm.as_ptr(), 1, k, &mut o2);
        }
        assert_eq!(o1, o2);
        for s in 0..n.div_ceil(NR) {
            for p in 0..k {
                for j in 0..NR {
                    let want = if s * NR + j < n {
                        val(p, s * NR + j)
                    } else {
                        0.0
                    };
                    assert_eq!(o1[s * NR * k + p * NR + j], want);
                }
            }
        }
    }

    #[test]
    fn pack_a_layouts_agree() {
        let (m, k) = (17, 11);
        let val = |i: usize, p: usize| (i * 100 + p) as f32;
        let rm: Vec<f32> = (0..m * k).map(|x| val(x / k, x % k)).collect();
        let cm: Vec<f32> = (0..m * k).map(|x| val(x % m, x / m)).collect();
        let len = m.div_ceil(MR) * MR * k;
        let (mut o1, mut o2) = (vec![f32::NAN; len], vec![f32::NAN; len]);
        unsafe {
            pack_a(m, k, rm.as_ptr(), k, 1, &mut o1);
            pack_a(m, k, cm.as_ptr(), 1, m, &mut o2);
        }
        assert_eq!(o1, o2);
        for r in 0..m.div_ceil(MR) {
            for p in 0..k {
                for i in 0..MR {
                    let want = if r * MR + i < m {
                        val(r * MR + i, p)
                    } else {
                        0.0
                    };
                    assert_eq!(o1[r * MR * k + p * MR + i], want);
                }
            }
        }
    }
}
