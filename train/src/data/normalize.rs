//! Pixel normalization: `u8` pixel `p` → `x = p / 255` in [0, 1] → `(x − mean) / std`.

use std::fmt;
use std::str::FromStr;

use descent_core::simd::{Vector, Wide, HAS_FMA, MAX_LANES};

/// How pixels are normalized after scaling to [0, 1] (`--normalize`).
///
/// Every variant computes `y = (p / 255 − mean) / std` for a pixel `p` in 0..=255:
/// - `Standard`: mean 0.1307, std 0.3081, the mean and standard deviation of the
///   MNIST training pixels (the constants of PyTorch's `examples/mnist`).
/// - `Half`: mean 0.5, std 0.5, so `y = 2x − 1` in [−1, 1] (PyTorch's MNIST tutorials).
/// - `None`: mean 0, std 1, so `y = x` in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalize {
    /// `(x − 0.1307) / 0.3081`.
    #[default]
    Standard,
    /// `(x − 0.5) / 0.5`.
    Half,
    /// `x`.
    None,
}

impl Normalize {
    /// Every variant, in the order the help text lists them.
    pub const ALL: [Normalize; 3] = [Normalize::Standard, Normalize::Half, Normalize::None];

    /// The `(mean, std)` pair this variant subtracts and divides by.
    pub fn mean_std(self) -> (f32, f32) {
        match self {
            Normalize::Standard => (0.1307, 0.3081),
            Normalize::Half => (0.5, 0.5),
            Normalize::None => (0.0, 1.0),
        }
    }

    /// The flag value that selects this variant.
    pub fn name(self) -> &'static str {
        match self {
            Normalize::Standard => "standard",
            Normalize::Half => "half",
            Normalize::None => "none",
        }
    }

    /// `(p / 255 − mean) / std` for one pixel value.
    pub fn apply(self, p: u8) -> f32 {
        let (mean, std) = self.mean_std();
        (f32::from(p) / 255.0 - mean) / std
    }

    /// [`Normalize::apply`] on a row of pixels, `out[i] = (px[i] / 255 − mean) / std`,
    /// to the same bits, without a divide.
    ///
    /// The two divides of `apply` bound a vectorized loop by the divider
    /// (~10 cycles a 16-float divide on Ice Lake: 22 µs for a batch of 64
    /// MNIST rows). Each is replaced here by a product with the rounded
    /// reciprocal, `q = a·r`, and one correction step with the exact residual,
    /// `q + (a − q·b)·r` (two FMAs): Markstein's correction, which returns
    /// the correctly rounded quotient `a / b` whenever `q` is within an ulp
    /// of it. The inputs are a closed set (256 pixel values, three
    /// variants), so the test `apply_row_equals_apply` checks every one of
    /// them against `apply` bit for bit rather than trusting the theorem's
    /// conditions.
    ///
    /// With hardware FMA the row runs [`Wide`] lanes at a time (16 on an
    /// AVX-512 build, where the compiler's own vectorization of the scalar
    /// loop stopped at 8: 9.2 µs for a batch of 64 rows in cache). Without
    /// it, [`Normalize::apply_row_scalar`]: `f32::mul_add` is then still
    /// the exact fused operation (a slower libm call), so the bits are the
    /// same on any build.
    ///
    /// # Panics
    /// If `px.len() != out.len()`.
    pub fn apply_row(self, px: &[u8], out: &mut [f32]) {
        assert_eq!(px.len(), out.len(), "apply_row: one output a pixel");
        if HAS_FMA {
            self.apply_row_lanes::<Wide>(px, out);
        } else {
            self.apply_row_scalar(px, out);
        }
    }

    /// [`Normalize::apply_row`] a pixel at a time (its tail, and the whole
    /// row without FMA).
    ///
    /// # Panics
    /// If `px.len() != out.len()`.
    pub fn apply_row_scalar(self, px: &[u8], out: &mut [f32]) {
        assert_eq!(px.len(), out.len(), "apply_row: one output a pixel");
        let (mean, std) = self.mean_std();
        let (r255, rstd) = (1.0 / 255.0f32, 1.0 / std);
        for (o, &p) in out.iter_mut().zip(px) {
            let p = f32::from(p);
            let q = p * r255;
            let x = (-q).mul_add(255.0, p).mul_add(r255, q);
            let y = x - mean;
            let q = y * rstd;
            *o = (-q).mul_add(std, y).mul_add(rstd, q);
        }
    }

    /// [`Normalize::apply_row`] `V::LANES` pixels at a time, each lane the
    /// scalar formula's operations (`mul_neg_add(a, b) = b − self·a` is
    /// `fma(−self, a, b)`: the same single rounding); the tail scalar.
    fn apply_row_lanes<V: Vector>(self, px: &[u8], out: &mut [f32]) {
        let (mean, std) = self.mean_std();
        let (r255, rstd) = (1.0 / 255.0f32, 1.0 / std);
        let (v255, vr255, vmean, vstd, vrstd) = (
            V::splat(255.0),
            V::splat(r255),
            V::splat(mean),
            V::splat(std),
            V::splat(rstd),
        );
        let body = px.len() / V::LANES * V::LANES;
        for (pc, oc) in px[..body]
            .chunks_exact(V::LANES)
            .zip(out[..body].chunks_exact_mut(V::LANES))
        {
            // The bytes widened to floats through a stack array: the
            // compiler makes it one zero-extend and one convert.
            let mut a = [0.0f32; MAX_LANES];
            for (f, &b) in a.iter_mut().zip(pc) {
                *f = f32::from(b);
            }
            // SAFETY: `a` holds MAX_LANES ≥ LANES floats.
            let p = unsafe { V::load(a.as_ptr()) };
            let q = p * vr255;
            let x = q.mul_neg_add(v255, p).mul_add(vr255, q);
            let y = x - vmean;
            let q = y * vrstd;
            let o = q.mul_neg_add(vstd, y).mul_add(vrstd, q);
            // SAFETY: `oc` holds LANES floats.
            unsafe { V::store(oc.as_mut_ptr(), o) };
        }
        self.apply_row_scalar(&px[body..], &mut out[body..]);
    }

    /// The 256 possible outputs of [`Normalize::apply`], indexed by pixel value.
    ///
    /// Converting 47 million pixels through a table costs one load each and gives
    /// exactly the value `apply` would.
    pub fn table(self) -> [f32; 256] {
        let mut t = [0.0f32; 256];
        for (p, v) in t.iter_mut().enumerate() {
            // p < 256 by construction of the array.
            *v = self.apply(p as u8);
        }
        t
    }
}

impl fmt::Display for Normalize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--normalize` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--normalize: unknown value `{0}` (expected one of: standard, half, none)")]
pub struct ParseNormalizeError(pub String);

impl FromStr for Normalize {
    type Err = ParseNormalizeError;

    /// Parses `standard`, `half` or `none` (ASCII case-insensitive, surrounding
    /// spaces ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Normalize::ALL
            .into_iter()
            .find(|n| n.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseNormalizeError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for n in Normalize::ALL {
            assert_eq!(n.to_string().parse::<Normalize>().unwrap(), n);
        }
        assert_eq!(" Half ".parse::<Normalize>().unwrap(), Normalize::Half);
        let e = "zscore".parse::<Normalize>().unwrap_err();
        assert!(e.to_string().contains("--normalize"));
        assert!(e.to_string().contains("zscore"));
        assert_eq!(Normalize::default(), Normalize::Standard);
    }

    #[test]
    fn apply_row_equals_apply() {
        // Every input there is: 256 pixel values under each variant, at an
        // odd length and an unaligned start.
        let px: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for n in Normalize::ALL {
            let mut out = vec![0.0f32; px.len()];
            n.apply_row(&px[1..], &mut out[1..]);
            let mut scalar = vec![0.0f32; px.len()];
            n.apply_row_scalar(&px[1..], &mut scalar[1..]);
            for (i, &p) in px.iter().enumerate().skip(1) {
                assert_eq!(out[i].to_bits(), n.apply(p).to_bits(), "{n} p={p}");
                assert_eq!(scalar[i].to_bits(), n.apply(p).to_bits(), "{n} p={p}");
            }
            // Every value in every lane of every width: 256 rows of 16,
            // each pixel value once in each position.
            let px: Vec<u8> = (0..256 * 16)
                .map(|k| ((k / 16 + k % 16) % 256) as u8)
                .collect();
            let mut out = vec![0.0f32; px.len()];
            for lanes in [4, 8, 16] {
                match lanes {
                    4 => n.apply_row_lanes::<descent_core::simd::F32x4>(&px, &mut out),
                    8 => n.apply_row_lanes::<descent_core::simd::F32x8>(&px, &mut out),
                    _ => n.apply_row_lanes::<descent_core::simd::F32x16>(&px, &mut out),
                }
                if HAS_FMA {
                    for (o, &p) in out.iter().zip(&px) {
                        assert_eq!(o.to_bits(), n.apply(p).to_bits(), "{n} p={p} {lanes} lanes");
                    }
                }
            }
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(Normalize::None.apply(0), 0.0);
        assert_eq!(Normalize::None.apply(255), 1.0);
        assert_eq!(Normalize::Half.apply(0), -1.0);
        assert_eq!(Normalize::Half.apply(255), 1.0);
        let s0 = Normalize::Standard.apply(0);
        assert!((s0 - (-0.1307 / 0.3081)).abs() < 1e-6, "{s0}");
        let s1 = Normalize::Standard.apply(255);
        assert!((s1 - (0.8693 / 0.3081)).abs() < 1e-5, "{s1}");
        for n in Normalize::ALL {
            let t = n.table();
            for p in 0..=255u8 {
                assert_eq!(t[p as usize].to_bits(), n.apply(p).to_bits());
            }
        }
    }
}
