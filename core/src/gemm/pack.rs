//! Packing: copies a block of A or B into the contiguous, zero-padded order
//! the micro-kernel streams through, whatever the source strides.
//!
//! Packed A (an `mc × kc` block) is a sequence of MR-row panels; panel `r`
//! holds `a_packed[r·MR·kc + p·MR + i] = A[r·MR + i, p]`, rows past `mc`
//! zero. Packed B (a `kc × nc` block) is a sequence of NR-column panels;
//! panel `s` holds `b_packed[s·NR·kc + p·NR + j] = B[p, s·NR + j]`, columns
//! past `nc` zero. Zero padding lets the kernel always run a full tile.
//! MR and NR are the tile's (const parameters, one instance per kernel).

use crate::simd::{F32x8, Vector};

/// Packs the `mc × kc` block of A at `a` (strides `rsa`, `csa`) into
/// MR-row panels.
///
/// # Safety
/// `a + i·rsa + p·csa` must be readable for `i < mc`, `p < kc`;
/// `out` must hold `mc.div_ceil(MR)·MR·kc` elements.
pub unsafe fn pack_a<const MR: usize>(
    mc: usize,
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    out: &mut [f32],
) {
    debug_assert!(out.len() >= mc.div_ceil(MR) * MR * kc);
    let mut dst = out.as_mut_ptr();
    for ir in (0..mc).step_by(MR) {
        let mr = MR.min(mc - ir);
        let a_panel = a.add(ir * rsa);
        if mr == MR && csa == 1 {
            // Row-major A: MR contiguous row streams, interleaved by k.
            // Groups of up to 8 rows: 8 k values of each row in a
            // register, an 8 × 8 transpose (rows past the group zero), and
            // column q of the result is the group's values of k = p + q.
            let mut p = 0;
            while p + 8 <= kc {
                for g in (0..MR).step_by(8) {
                    let cnt = (MR - g).min(8);
                    let v: [F32x8; 8] = std::array::from_fn(|i| {
                        if i < cnt {
                            F32x8::load(a_panel.add((g + i) * rsa + p))
                        } else {
                            F32x8::ZERO
                        }
                    });
                    for (q, col) in F32x8::transpose(v).iter().enumerate() {
                        let col = col.to_array();
                        std::ptr::copy_nonoverlapping(col.as_ptr(), dst.add((p + q) * MR + g), cnt);
                    }
                }
                p += 8;
            }
            for p in p..kc {
                for i in 0..MR {
                    *dst.add(p * MR + i) = *a_panel.add(i * rsa + p);
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

/// Packs the `kc × nc` block of B at `b` (strides `rsb`, `csb`) into
/// NR-column panels.
///
/// # Safety
/// `b + p·rsb + j·csb` must be readable for `p < kc`, `j < nc`;
/// `out` must hold `nc.div_ceil(NR)·NR·kc` elements.
pub unsafe fn pack_b<const NR: usize>(
    kc: usize,
    nc: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    out: &mut [f32],
) {
    const { assert!(NR % 8 == 0, "NR is whole 8-lane vectors") };
    debug_assert!(out.len() >= nc.div_ceil(NR) * NR * kc);
    let mut dst = out.as_mut_ptr();
    for jr in (0..nc).step_by(NR) {
        let nr = NR.min(nc - jr);
        let b_panel = b.add(jr * csb);
        if nr == NR && csb == 1 {
            // Row-major B: each k row of the panel is NR contiguous floats.
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(b_panel.add(p * rsb), dst.add(p * NR), NR);
            }
        } else if nr == NR && rsb == 1 {
            // Column-major B (e.g. Wᵀ as a view of W): transpose 8 × 8 blocks
            // in registers so both the reads and the writes are vectors.
            let mut p = 0;
            while p + 8 <= kc {
                for part in 0..NR / 8 {
                    let cols: [F32x8; 8] =
                        std::array::from_fn(|j| F32x8::load(b_panel.add((part * 8 + j) * csb + p)));
                    let rows = F32x8::transpose(cols);
                    for (q, row) in rows.iter().enumerate() {
                        F32x8::store(dst.add((p + q) * NR + part * 8), *row);
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

    /// Both tile shapes' packings.
    const MR: usize = 6;
    const NR: usize = 16;

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
            pack_b::<NR>(k, n, rm.as_ptr(), n, 1, &mut o1);
            pack_b::<NR>(k, n, cm.as_ptr(), 1, k, &mut o2);
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
            pack_a::<MR>(m, k, rm.as_ptr(), k, 1, &mut o1);
            pack_a::<MR>(m, k, cm.as_ptr(), 1, m, &mut o2);
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
