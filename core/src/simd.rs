//! The SIMD vocabulary every kernel shares: [`F32x8`] loads and stores on
//! slices, and [`describe`], which says what this build compiled `wide` to.
//!
//! `wide` picks its implementation with `cfg(target_feature)` at build time:
//! with AVX2+FMA an `f32x8` is one `ymm` register and `mul_add` is one
//! `vfmadd`; without them it is two SSE halves and `mul_add` is a multiply
//! and an add (two roundings). The workspace's `.cargo/config.toml` builds
//! with `-C target-cpu=native` so the first case is what runs here.

pub use wide::f32x16 as F32x16;
pub use wide::f32x4 as F32x4;
pub use wide::f32x8 as F32x8;

/// The vector operations a width-generic kernel needs, for [`F32x8`] and
/// [`F32x16`] alike, so one kernel source serves every SIMD width (the GEMM
/// micro-kernel is instantiated once per width; see `gemm::Kernel`).
///
/// What each compiles to is `wide`'s choice at build time: with AVX-512F an
/// `F32x16` is one `zmm` register, without it two `F32x8` halves (so the
/// 16-lane kernels run, and are tested, on every machine).
pub trait Vector:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::AddAssign
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// `f32` lanes in one vector.
    const LANES: usize;
    /// All lanes zero.
    const ZERO: Self;
    /// Every lane `x`.
    fn splat(x: f32) -> Self;
    /// `self·a + b` per lane (one rounding where the build has FMA).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `b − self·a` per lane (one rounding where the build has FMA).
    fn mul_neg_add(self, a: Self, b: Self) -> Self;
    /// `√x` per lane (correctly rounded, as `f32::sqrt`).
    fn sqrt(self) -> Self;
    /// The larger of each pair of lanes (`rhs` where either is NaN, as
    /// x86's `maxps`).
    fn max(self, rhs: Self) -> Self;
    /// The smaller of each pair of lanes (`rhs` where either is NaN, as
    /// x86's `minps`).
    fn min(self, rhs: Self) -> Self;
    /// Per lane, `pos` where `self > 0`, `neg` where `self < 0`, else
    /// `other` (for ±0 and NaN): Rprop's choice of step-size factor by the
    /// sign of `g·g_prev`.
    fn by_sign(self, pos: Self, neg: Self, other: Self) -> Self;
    /// `self` where `y < 0` is false, else `+0` (NaN in `y` keeps `self`):
    /// Rprop's zeroed gradient after a sign change.
    fn zero_where_negative(self, y: Self) -> Self;
    /// `x < 0 ? 0 : x` per lane; NaN stays NaN.
    fn relu(self) -> Self;
    /// `self` where `y > 0`, else `+0` (NaN in `y` counts as not
    /// positive): the ReLU's backward mask, applied with a bitwise AND.
    fn where_positive(self, y: Self) -> Self;
    /// `+1` where `x > 0`, `−1` where `x < 0`, `+0` for ±0, NaN for NaN
    /// (`torch.sign`).
    fn sign(self) -> Self;
    /// `|x|` per lane (the sign bit cleared).
    fn abs(self) -> Self;
    /// The sum of the lanes, in `wide`'s fixed order.
    fn reduce_add(self) -> f32;
    /// Loads `LANES` floats from `p` (no alignment needed).
    ///
    /// # Safety
    /// `p .. p + LANES` must be readable `f32`s.
    unsafe fn load(p: *const f32) -> Self;
    /// Stores `LANES` floats to `p` (no alignment needed).
    ///
    /// # Safety
    /// `p .. p + LANES` must be writable `f32`s that no one else borrows.
    unsafe fn store(p: *mut f32, v: Self);
}

macro_rules! impl_vector {
    ($t:ty, $lanes:literal) => {
        impl Vector for $t {
            const LANES: usize = $lanes;
            const ZERO: Self = <$t>::ZERO;
            #[inline(always)]
            fn splat(x: f32) -> Self {
                <$t>::splat(x)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn mul_neg_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_neg_add(self, a, b)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn max(self, rhs: Self) -> Self {
                <$t>::max(self, rhs)
            }
            #[inline(always)]
            fn min(self, rhs: Self) -> Self {
                <$t>::min(self, rhs)
            }
            #[inline(always)]
            fn by_sign(self, pos: Self, neg: Self, other: Self) -> Self {
                let (gt, lt) = (self.simd_gt(<$t>::ZERO), self.simd_lt(<$t>::ZERO));
                // The two masks never overlap: pick with AND and OR, no
                // blend (see `where_positive`).
                (pos & gt) | (neg & lt) | (other & !(gt | lt))
            }
            #[inline(always)]
            fn zero_where_negative(self, y: Self) -> Self {
                self & !y.simd_lt(<$t>::ZERO)
            }
            #[inline(always)]
            fn where_positive(self, y: Self) -> Self {
                // (Written as `select`, LLVM turns a read-modify-write into
                // a masked store, `vmaskmovps`, which is microcoded and ~5×
                // slower on AMD Zen.)
                self & y.simd_gt(<$t>::ZERO)
            }
            #[inline(always)]
            fn sign(self) -> Self {
                let one = <$t>::splat(1.0);
                let s = (one & self.simd_gt(<$t>::ZERO)) - (one & self.simd_lt(<$t>::ZERO));
                // NaN compares false both ways: keep it NaN, as torch.
                let nan = !self.simd_eq(self);
                (s & !nan) | (self & nan)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn reduce_add(self) -> f32 {
                <$t>::reduce_add(self)
            }
            #[inline(always)]
            fn relu(self) -> Self {
                // Clear the lanes where x < 0 with a bitwise AND-NOT (a
                // `select` here becomes a masked store, `vmaskmovps`, when
                // the caller writes the result back over x, and that is
                // microcoded on AMD Zen).
                self & !self.simd_lt(<$t>::ZERO)
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                <$t>::new(std::ptr::read_unaligned(p as *const [f32; $lanes]))
            }
            #[inline(always)]
            unsafe fn store(p: *mut f32, v: Self) {
                std::ptr::write_unaligned(p as *mut [f32; $lanes], v.to_array());
            }
        }
    };
}
impl_vector!(F32x4, 4);
impl_vector!(F32x8, 8);
impl_vector!(F32x16, 16);

/// The widest vector this build has in registers: [`F32x16`] with
/// AVX-512F, else [`F32x8`]. The memory-bound single-pass kernels (the
/// fused optimizer steps, the elementwise ops) are generic over their
/// [`Vector`] and run on this one, so each load and store moves a whole
/// register; the tests run them at every width. Every element's result is
/// the same whatever the width (the kernels are elementwise, and the tail
/// runs the same code on a zero-padded copy); only reductions
/// ([`crate::ops::sum_squares`]) group their partial sums by width.
#[cfg(target_feature = "avx512f")]
pub type Wide = F32x16;
/// The widest vector this build has in registers (see the AVX-512 case).
#[cfg(not(target_feature = "avx512f"))]
pub type Wide = F32x8;

/// The most lanes any [`Vector`] has (a tail's zero-padded copy is this
/// long).
pub const MAX_LANES: usize = 16;

/// Lanes in one [`Wide`].
pub const WIDE_LANES: usize = <Wide as Vector>::LANES;

/// True when this build compiled [`F32x16`] to single 512-bit `zmm`
/// registers (AVX-512F enabled at build time).
pub const HAS_AVX512: bool = cfg!(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512f"
));

/// Lanes in one [`F32x8`].
pub const LANES: usize = 8;

/// True when this build compiled `f32x8::mul_add` to a single fused
/// multiply-add instruction (AVX + FMA enabled at build time).
pub const HAS_FMA: bool = cfg!(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx",
    target_feature = "fma"
));

/// Independent accumulator chains of [`fma_peak`]: FMA latency × pipes is
/// 8–10 on current x86 cores (4–5 cycles × 2 pipes), and 12 registers leave
/// room for the multiplier and addend even with 16 registers.
pub const PEAK_CHAINS: usize = 12;

/// The FMA ceiling of one core at the width of `V`: `iters` rounds of
/// [`PEAK_CHAINS`] independent `acc ← acc·x + y` chains held in registers,
/// `2·iters·PEAK_CHAINS·V::LANES` FLOPs ([`fma_peak_flop`]). Take x slightly
/// below 1 so the chains stay finite and normal. Returns the accumulators,
/// so the work cannot be optimized away. The benches time it beside the
/// kernels, interleaved, for every width the build has.
#[inline(never)]
pub fn fma_peak<V: Vector>(iters: usize, x: V, y: V) -> [V; PEAK_CHAINS] {
    let mut acc: [V; PEAK_CHAINS] = std::array::from_fn(|i| V::splat(1.0 + i as f32 * 1e-3));
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(x, y);
        }
    }
    acc
}

/// FLOPs of one [`fma_peak`] call of `iters` rounds at the width of `V`.
pub fn fma_peak_flop<V: Vector>(iters: usize) -> usize {
    2 * iters * PEAK_CHAINS * V::LANES
}

/// A short human-readable description of the SIMD level of this build,
/// e.g. `"avx2+fma, f32x8 = one ymm register, mul_add fused"`.
pub fn describe() -> String {
    let mut feats = Vec::new();
    if cfg!(target_feature = "avx512f") {
        feats.push("avx512f");
    }
    if cfg!(target_feature = "avx2") {
        feats.push("avx2");
    } else if cfg!(target_feature = "avx") {
        feats.push("avx");
    } else if cfg!(target_feature = "sse4.1") {
        feats.push("sse4.1");
    } else if cfg!(target_feature = "sse2") {
        feats.push("sse2");
    } else if cfg!(target_feature = "neon") {
        feats.push("neon");
    }
    if cfg!(target_feature = "fma") {
        feats.push("fma");
    }
    let level = if feats.is_empty() {
        "scalar".to_string()
    } else {
        feats.join("+")
    };
    let reg = if cfg!(target_feature = "avx") {
        "one 256-bit ymm register"
    } else {
        "two 128-bit halves"
    };
    let fma = if HAS_FMA {
        "mul_add fused (one rounding)"
    } else {
        "mul_add as mul then add (two roundings)"
    };
    let wide16 = if HAS_AVX512 {
        "f32x16 = one 512-bit zmm register"
    } else {
        "f32x16 = two f32x8 halves"
    };
    format!("{level}, f32x8 = {reg}, {wide16}, {fma}")
}

/// Loads one vector of `V::LANES` floats from `s[i..]` (no alignment
/// needed). Panics if the slice is too short: callers loop
/// `while i + V::LANES <= len`.
#[inline(always)]
pub fn load<V: Vector>(s: &[f32], i: usize) -> V {
    let a = &s[i..i + V::LANES];
    // SAFETY: the slice above holds V::LANES readable floats.
    unsafe { V::load(a.as_ptr()) }
}

/// Stores one vector into `s[i..i + V::LANES]` (no alignment needed).
/// Panics if the slice is too short.
#[inline(always)]
pub fn store<V: Vector>(s: &mut [f32], i: usize, v: V) {
    let a = &mut s[i..i + V::LANES];
    // SAFETY: the slice above holds V::LANES writable floats, borrowed
    // mutably here.
    unsafe { V::store(a.as_mut_ptr(), v) }
}

/// Horizontal sum of 8 lanes, in a fixed order (so results are reproducible).
#[inline(always)]
pub fn hsum(v: F32x8) -> f32 {
    v.reduce_add()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_the_level() {
        let d = describe();
        assert!(d.contains("f32x8"), "{d}");
        if HAS_FMA {
            assert!(d.contains("fma"), "{d}");
        }
    }

    #[test]
    fn load_store_roundtrip_unaligned() {
        let src: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let mut dst = vec![0.0; 19];
        for off in 0..=11 {
            let v: F32x8 = load(&src, off);
            store(&mut dst, off, v);
            assert_eq!(&dst[off..off + 8], &src[off..off + 8]);
        }
    }

    /// `sign`, `abs`, `by_sign`, `zero_where_negative` and `min` agree with
    /// their scalar meaning on edge values, at
    /// every width.
    #[test]
    fn sign_and_abs_on_edge_values() {
        fn at<V: Vector>() {
            let xs = [
                -2.0,
                -0.0,
                0.0,
                3.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NAN,
                1e-40,
                -1e-40,
                f32::MIN_POSITIVE,
                -7.5,
                0.25,
                f32::MAX,
                -f32::MAX,
                1.0,
                -1.0,
            ];
            for chunk in xs.chunks(V::LANES) {
                let mut a = [0.0f32; MAX_LANES];
                a[..chunk.len()].copy_from_slice(chunk);
                let v: V = load(&a, 0);
                let (mut s, mut b) = ([0.0f32; MAX_LANES], [0.0f32; MAX_LANES]);
                store(&mut s, 0, v.sign());
                store(&mut b, 0, v.abs());
                let (mut f, mut z, mut lo) = (
                    [0.0f32; MAX_LANES],
                    [0.0f32; MAX_LANES],
                    [0.0f32; MAX_LANES],
                );
                let (pos, neg, other) = (V::splat(1.2), V::splat(0.5), V::splat(1.0));
                store(&mut f, 0, v.by_sign(pos, neg, other));
                store(&mut z, 0, V::splat(3.0).zero_where_negative(v));
                store(&mut lo, 0, v.min(V::splat(0.5)));
                for (i, &x) in chunk.iter().enumerate() {
                    let want = if x.is_nan() {
                        f32::NAN
                    } else if x > 0.0 {
                        1.0
                    } else if x < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    assert_eq!(s[i].to_bits(), want.to_bits(), "sign({x})");
                    assert_eq!(b[i].to_bits(), x.abs().to_bits(), "abs({x})");
                    let factor = if x > 0.0 {
                        1.2
                    } else if x < 0.0 {
                        0.5
                    } else {
                        1.0
                    };
                    assert_eq!(f[i], factor, "by_sign({x})");
                    assert_eq!(
                        z[i],
                        if x < 0.0 { 0.0 } else { 3.0 },
                        "zero_where_negative({x})"
                    );
                    let m = if x.is_nan() { 0.5 } else { x.min(0.5) };
                    assert_eq!(lo[i], m, "min({x}, 0.5)");
                }
            }
        }
        at::<F32x8>();
        at::<F32x16>();
    }
}
