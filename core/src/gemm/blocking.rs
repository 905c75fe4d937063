//! Register and cache block sizes of the GEMM, in one place.
//!
//! Tuned on AMD Zen 3 (32 KiB L1d, 512 KiB L2 per core, 32 MiB L3) with
//! AVX2+FMA: 16 `ymm` registers, two FMA pipes with 4-cycle latency, so at
//! least 8 independent accumulators are needed to keep both pipes busy.

/// Rows of the micro-tile (loop 1's step): each is one broadcast of A per k.
pub const MR: usize = 6;

/// Columns of the micro-tile (loop 2's step): two `f32x8` vectors of B per k.
/// MR × NR / 8 = 12 accumulator registers + 2 for B + 1 broadcast = 15 of 16.
pub const NR: usize = 16;

/// Cuts the k loop (loop 4): a KC × NR sliver of packed B (16 KiB) and a
/// MR × KC sliver of packed A (6 KiB) stay in L1 across the micro-kernel.
pub const KC: usize = 256;

/// KC when A is packed: a k block of up to 352 (slivers of 8.25 KiB of A
/// and 22 KiB of B, 30.25 KiB of L1's 32), so 1024 runs as 3 blocks of
/// 342 rather than 4 of 256, and C, read and written once per block, one
/// time fewer: 1 point of peak on 1024³ (measured against KC in one
/// process). With A read in place the larger block loses instead
/// (64x784x128 as 3 × 262: −1.5 points): there the six rows of A are six
/// streams through L1 beside the sliver of B.
pub const KC_PACKED_A: usize = 352;

/// Cuts the m loop (loop 3): the MC × KC block of packed A (144 KiB) stays
/// in L2 while loop 2 sweeps it against every NR-column sliver of B.
/// A multiple of MR.
pub const MC: usize = 144;

/// Cuts the n loop (loop 5): the KC × NC block of packed B (4 MiB) lives in
/// L3 and is reused by every MC block of A. A multiple of NR.
pub const NC: usize = 4096;

/// Software prefetches pay only for an operand with at least this many
/// elements (256 KiB, half of L2); a smaller one mostly stays cached
/// between its uses, and there the prefetches only cost issue slots:
/// - [`super::kernel::tile`] prefetches its corner of C only when C is this
///   large (on the MLP shapes, with a 32 KiB C, the prefetches cost 1–3
///   points of peak);
/// - the plain tiles prefetch the next sliver of B only when B is this
///   large (128x64x784, with a 200 KiB B, gained nothing with them, and
///   64x128x64 lost a point).
pub const PREFETCH_MIN_LEN: usize = 64 * 1024;

/// … and C only when the k block is at least this deep, so the tile's k
/// loop is long enough to hide the fetch (on 128x64x784, kc = 64,
/// prefetching the 400 KiB C at the start of each tile cost more than it
/// saved). On a shallower block each plain tile instead prefetches the
/// corner of the tile after it, a line per 4 k steps, when it has no
/// share of B to fetch: 1 point of peak on 128x64x784, 2 on 300x64x1000.
pub const PREFETCH_C_MIN_KC: usize = 128;

// The sizes must nest: checked when the crate compiles.
const _: () = {
    assert!(MC % MR == 0, "MC is a multiple of MR");
    assert!(NC % NR == 0, "NC is a multiple of NR");
    assert!(NR % crate::simd::LANES == 0, "NR is whole vectors");
    assert!(KC * (MR + NR) * 4 <= 32 * 1024, "A and B slivers fit L1");
    assert!(
        KC_PACKED_A * (MR + NR) * 4 <= 31 * 1024,
        "A and B slivers fit L1"
    );
    assert!(
        MR <= crate::simd::LANES,
        "pack_a transposes MR rows in one 8 × 8 block"
    );
};

/// Splits `k` into blocks of at most `kc_max` ([`KC`] or [`KC_PACKED_A`])
/// of nearly equal size, so that a k slightly above a multiple of `kc_max`
/// does not end with a tiny block (784 with KC: 4 × 196 rather than
/// 3 × 256 + 16). Returns the block length, `⌈k / ⌈k / kc_max⌉⌉`.
pub fn balanced_kc(k: usize, kc_max: usize) -> usize {
    if k == 0 {
        return 0;
    }
    let blocks = k.div_ceil(kc_max);
    k.div_ceil(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_kc_covers_k() {
        for kc_max in [KC, KC_PACKED_A] {
            for k in 0..2000 {
                let kc = balanced_kc(k, kc_max);
                assert!(kc <= kc_max);
                if k > 0 {
                    assert!(kc > 0 && kc * k.div_ceil(kc) >= k);
                    assert_eq!(k.div_ceil(kc), k.div_ceil(kc_max));
                }
            }
        }
        assert_eq!(balanced_kc(784, KC), 196);
        assert_eq!(balanced_kc(1024, KC_PACKED_A), 342);
    }
}
