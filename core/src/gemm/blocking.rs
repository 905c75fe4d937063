//! Cache block sizes of the GEMM, from this CPU's caches through one
//! stated model, and the caches themselves.
//!
//! The register tile (MR × NR) is the micro-kernel's, fixed at compile
//! time per SIMD width (see [`super::Kernel`]); the three cache blocks are
//! run-time values that follow from the tile and the caches:
//!
//! | block | loop it cuts | what it keeps in which cache |
//! |---|---|---|
//! | `kc` | loop 4 (k) | a `kc × NR` sliver of packed B and an `MR × kc` sliver of A in L1 |
//! | `mc` | loop 3 (m) | the `mc × kc` block of packed A in L2 |
//! | `nc` | loop 5 (n) | the `kc × nc` block of packed B in (this core's share of) L3 |
//!
//! The model is BLIS's (Low, Igual, Smith, Quintana-Ortí, "Analytical
//! modeling is enough for high-performance BLIS", ACM TOMS 43(2), 2016):
//! each operand gets the share of a cache level that its reuse needs, and
//! the rest is left for the operands that stream through it. Low et al.
//! count ways; descent states the shares as fractions of the capacity,
//! with the fractions measured on the CPU the constants were first tuned
//! on (AMD Zen 3: 32 KiB L1d, 512 KiB L2, 32 MiB L3), so that the model
//! gives back exactly those constants there ([`Blocks::fallback`]):
//!
//! - **L1**: the slivers of A and B of one micro-tile together take
//!   `kc·(MR + NR)·4` bytes. With A packed (one contiguous stream) they may
//!   fill [`L1_SHARE_PACKED_A`] = 31/32 of L1; with A read in place its MR
//!   rows are MR streams, each with partly used lines at both ends, beside
//!   the next B sliver's source rows, so only [`L1_SHARE_IN_PLACE_A`] =
//!   11/16. `kc` is rounded down to a multiple of 16 (the kernel's k loop
//!   is unrolled by 4 and the A packing transposes 8 × 8 blocks); the
//!   measurements behind both are in `docs/gemm-tuning.md`.
//! - **L2**: the packed `mc × kc` block of A takes [`L2_SHARE`] = 9/32 of
//!   L2, leaving the rest for the B sliver, the C tiles and the next
//!   block's stream. `mc` is rounded down to a multiple of MR.
//! - **L3**: the `kc × nc` block of B takes [`L3_SHARE`] = 1/8 of L3, one
//!   core's share of a CCX of eight. `nc` is rounded down to a multiple
//!   of NR.
//!
//! The caches are read once, from Linux's sysfs (`/sys/devices/system/cpu/
//! cpu0/cache/index*/`); elsewhere, or when that fails, [`Caches::FALLBACK`]
//! (Zen 3's) is used, which gives the original constants.
//!
//! **Another CPU's choices, here.** Because the blocks follow from the
//! host, a machine's tests would otherwise reach only its own blocking.
//! [`KNOWN_CPUS`] lists real cache hierarchies; the tests run every kernel
//! under the blocks each of them gives, and the environment variables
//! `DESCENT_CACHES` (a name of the table or sizes such as
//! `l1d=32K,l2=512K,l3=32M`) and `DESCENT_KERNEL` (`f32x8` or `f32x16`)
//! make a whole process run with another CPU's configuration
//! ([`Forced`]). `descent info --caches NAME|SIZES` prints what the model
//! derives for any of them.

use std::sync::OnceLock;

use super::Kernel;
use crate::error::CoreError;

/// Share of L1 the A and B slivers may take when A is packed.
pub const L1_SHARE_PACKED_A: (usize, usize) = (31, 32);
/// Share of L1 the A and B slivers may take when A is read in place.
pub const L1_SHARE_IN_PLACE_A: (usize, usize) = (11, 16);
/// Share of L2 the packed block of A may take.
pub const L2_SHARE: (usize, usize) = (9, 32);
/// Share of L3 the packed block of B may take.
pub const L3_SHARE: (usize, usize) = (1, 8);

/// The data caches one core sees, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caches {
    /// Level-1 data cache of one core.
    pub l1d: usize,
    /// Level-2 cache of one core.
    pub l2: usize,
    /// Level-3 cache (shared by the cores of a complex).
    pub l3: usize,
    /// Where the sizes come from: `"sysfs"` or `"fallback (Zen 3)"`.
    pub source: &'static str,
}

impl Caches {
    /// AMD Zen 3's caches, where the GEMM was first tuned: used when the
    /// caches cannot be read.
    pub const FALLBACK: Caches = Caches {
        l1d: 32 << 10,
        l2: 512 << 10,
        l3: 32 << 20,
        source: "fallback (Zen 3)",
    };

    /// This machine's caches, read once (see the module docs), unless
    /// `DESCENT_CACHES` names others ([`Forced::from_env`]; a value it
    /// cannot read is ignored here, and the CLI refuses it up front).
    pub fn detect() -> Caches {
        static CACHES: OnceLock<Caches> = OnceLock::new();
        *CACHES.get_or_init(|| {
            if let Ok(Forced {
                caches: Some(c), ..
            }) = Forced::from_env()
            {
                return c;
            }
            Caches::from_sysfs(std::path::Path::new("/sys/devices/system/cpu/cpu0/cache"))
                .unwrap_or(Caches::FALLBACK)
        })
    }

    /// The caches of [`KNOWN_CPUS`] entry `name` (`"zen3"`, …), ignoring
    /// case, `-` and `_`.
    pub fn known(name: &str) -> Option<Caches> {
        let key = |s: &str| {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        };
        KNOWN_CPUS
            .iter()
            .find(|c| key(c.name) == key(name))
            .map(|c| c.caches)
    }

    /// Reads a cache description: a name of [`KNOWN_CPUS`], or sizes
    /// `l1d=SIZE,l2=SIZE[,l3=SIZE]` with SIZE as sysfs writes it (`48K`,
    /// `2M`, bytes); a missing or zero L3 means none. Errors say what is
    /// wrong with the text.
    pub fn parse(text: &str) -> Result<Caches, String> {
        if let Some(c) = Caches::known(text) {
            return Ok(c);
        }
        let names: Vec<&str> = KNOWN_CPUS.iter().map(|c| c.name).collect();
        let (mut l1d, mut l2, mut l3) = (None, None, 0);
        for field in text.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let Some((key, value)) = field.split_once('=') else {
                return Err(format!(
                    "`{field}` is neither a known CPU ({}) nor KEY=SIZE (l1d=48K,l2=2M,l3=32M)",
                    names.join(", ")
                ));
            };
            let bytes = parse_size(value.trim()).ok_or_else(|| {
                format!("`{value}` in `{field}` is not a size such as 48K, 2M or 49152")
            })?;
            match key.trim().to_ascii_lowercase().as_str() {
                "l1d" | "l1" => l1d = Some(bytes),
                "l2" => l2 = Some(bytes),
                "l3" => l3 = bytes,
                k => return Err(format!("unknown cache level `{k}` (use l1d, l2, l3)")),
            }
        }
        let l1d = l1d.ok_or("l1d=SIZE is missing")?;
        let l2 = l2.ok_or("l2=SIZE is missing")?;
        if l1d < 4 << 10 {
            return Err(format!(
                "an L1d of {l1d} bytes is below the 4 KiB descent supports"
            ));
        }
        if l2 < 16 << 10 {
            return Err(format!(
                "an L2 of {l2} bytes is below the 16 KiB descent supports"
            ));
        }
        Ok(Caches {
            l1d,
            l2,
            l3,
            source: "given sizes",
        })
    }

    /// `"L1d 48 KiB, L2 2048 KiB, L3 32 MiB"` (`L3 none` without one).
    pub fn describe(&self) -> String {
        let l3 = if self.l3 == 0 {
            "none".to_string()
        } else if self.l3 % (1 << 20) == 0 {
            format!("{} MiB", self.l3 >> 20)
        } else {
            format!("{} KiB", self.l3 >> 10)
        };
        format!(
            "L1d {} KiB, L2 {} KiB, L3 {l3}",
            self.l1d >> 10,
            self.l2 >> 10
        )
    }

    /// Reads the sizes from a sysfs cache directory (`index*/level`,
    /// `index*/type`, `index*/size` such as `48K`). Returns `None` unless
    /// an L1 data cache and an L2 are found; a missing L3 counts as none
    /// (`l3 = 0`, and `nc` then follows from the L2 instead).
    pub fn from_sysfs(dir: &std::path::Path) -> Option<Caches> {
        let (mut l1d, mut l2, mut l3) = (None, None, None);
        for entry in std::fs::read_dir(dir).ok()? {
            let path = entry.ok()?.path();
            let read = |f: &str| std::fs::read_to_string(path.join(f)).ok();
            let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
            else {
                continue;
            };
            let Some(bytes) = parse_size(size.trim()) else {
                continue;
            };
            match (level.trim(), kind.trim()) {
                ("1", "Data" | "Unified") => l1d = Some(bytes),
                ("2", "Data" | "Unified") => l2 = Some(bytes),
                ("3", "Data" | "Unified") => l3 = Some(bytes),
                _ => {}
            }
        }
        Some(Caches {
            l1d: l1d.filter(|&b| b >= 4 << 10)?,
            l2: l2.filter(|&b| b >= 16 << 10)?,
            l3: l3.unwrap_or(0),
            source: "sysfs",
        })
    }
}

/// A CPU's cache hierarchy, as one core sees it, for [`KNOWN_CPUS`].
#[derive(Clone, Copy, Debug)]
pub struct KnownCpu {
    /// The name `DESCENT_CACHES` and `descent info --caches` take.
    pub name: &'static str,
    /// What it is.
    pub about: &'static str,
    pub caches: Caches,
}

const fn cpu(
    name: &'static str,
    about: &'static str,
    l1d_k: usize,
    l2_k: usize,
    l3_k: usize,
) -> KnownCpu {
    KnownCpu {
        name,
        about,
        caches: Caches {
            l1d: l1d_k << 10,
            l2: l2_k << 10,
            l3: l3_k << 10,
            source: about,
        },
    }
}

/// Real cache hierarchies (L1d and L2 per core; L3 as sysfs reports it for
/// one core: the slice of a complex, or the whole die's on Intel), and two
/// made-up extremes. The GEMM's tests run every kernel under the blocks
/// each of these gives, whatever machine they run on.
pub const KNOWN_CPUS: [KnownCpu; 8] = [
    cpu("zen1", "AMD Zen 1 (EPYC 7001)", 32, 512, 8 << 10),
    cpu("zen3", "AMD Zen 3 (EPYC 7003)", 32, 512, 32 << 10),
    cpu("zen5", "AMD Zen 5 (EPYC 9005)", 48, 1 << 10, 32 << 10),
    cpu(
        "skylake-sp",
        "Intel Skylake-SP (Xeon Scalable 1st gen, 28 cores)",
        32,
        1 << 10,
        39424,
    ),
    cpu(
        "icelake-sp",
        "Intel Ice Lake-SP (Xeon 3rd gen, 40 cores)",
        48,
        1280,
        60 << 10,
    ),
    cpu(
        "sapphire-rapids",
        "Intel Sapphire Rapids (Xeon 4th gen, 56 cores)",
        48,
        2 << 10,
        105 << 10,
    ),
    cpu("tiny", "made up: tiny caches", 16, 128, 0),
    cpu("huge", "made up: huge caches", 128, 16 << 10, 512 << 10),
];

/// Host choices forced from the environment, so that one process runs
/// with another CPU's configuration (to see or test what that CPU would
/// do): `DESCENT_CACHES` ([`Caches::parse`]) and `DESCENT_KERNEL` (`f32x8`
/// or `f32x16`; the wider one runs emulated without AVX-512).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Forced {
    pub caches: Option<Caches>,
    pub kernel: Option<Kernel>,
}

impl Forced {
    /// Reads both variables; unset or empty means not forced. An error
    /// names the variable, its value and what is wrong.
    pub fn from_env() -> Result<Forced, CoreError> {
        let read = |var: &str| std::env::var(var).ok();
        Forced::from_values(
            read("DESCENT_CACHES").as_deref(),
            read("DESCENT_KERNEL").as_deref(),
        )
    }

    /// [`Forced::from_env`] on the values of `DESCENT_CACHES` and
    /// `DESCENT_KERNEL` (`None` or blank: not forced).
    pub fn from_values(caches: Option<&str>, kernel: Option<&str>) -> Result<Forced, CoreError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let bad = |var: &'static str, value: &str, reason: String| CoreError::BadEnv {
            var,
            value: value.to_string(),
            reason,
        };
        let caches = match given(caches) {
            None => None,
            Some(v) => Some(Caches::parse(v).map_err(|r| bad("DESCENT_CACHES", v, r))?),
        };
        let kernel = match given(kernel) {
            None => None,
            Some("f32x8") => Some(Kernel::F32x8),
            Some("f32x16") => Some(Kernel::F32x16),
            Some(v) => {
                let why = "the kernels are f32x8 and f32x16".to_string();
                return Err(bad("DESCENT_KERNEL", v, why));
            }
        };
        Ok(Forced { caches, kernel })
    }
}

/// `"48K"` → 49152, `"1024K"`, `"32M"`, `"1G"`, or plain bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let n: usize = num.parse().ok()?;
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KB" | "KiB" => 10,
        "M" | "MB" | "MiB" => 20,
        "G" | "GB" | "GiB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// The cache blocks of one GEMM configuration (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// Deepest k block when A is read in place (loop 4).
    pub kc: usize,
    /// Deepest k block when A is packed (loop 4).
    pub kc_packed_a: usize,
    /// Rows of A per block (loop 3), a multiple of MR.
    pub mc: usize,
    /// Columns of B per block (loop 5), a multiple of NR.
    pub nc: usize,
    /// Software prefetches pay only for an operand with at least this many
    /// floats (half of L2); a smaller one mostly stays cached between its
    /// uses, and there the prefetches only cost issue slots:
    /// - a tile prefetches its corner of C only when C is this large;
    /// - the plain tiles prefetch the next sliver of B only when B is this
    ///   large.
    pub prefetch_min_len: usize,
}

/// A tile prefetches its C corner before its k loop only when the k block
/// is at least this deep, so the loop is long enough to hide the fetch. On
/// a shallower block each plain tile instead prefetches the corner of the
/// tile after it, a line per 4 k steps, when it has no share of B to
/// fetch.
pub const PREFETCH_C_MIN_KC: usize = 128;

/// `value · share.0 / share.1`.
fn share(value: usize, share: (usize, usize)) -> usize {
    value / share.1 * share.0 + value % share.1 * share.0 / share.1
}

/// `x` rounded down to a multiple of `unit`, and at least `unit`.
fn down_to(x: usize, unit: usize) -> usize {
    (x / unit * unit).max(unit)
}

impl Blocks {
    /// The blocks of the MR × NR tile on Zen 3's caches, for the 6 × 16
    /// kernel its original constants: kc 256 (352 with A packed), mc 144,
    /// nc 4096.
    pub fn fallback(mr: usize, nr: usize) -> Blocks {
        Blocks::from_caches(mr, nr, &Caches::FALLBACK)
    }

    /// The blocks for an `mr × nr` register tile on `caches` (the model of
    /// the module docs).
    pub fn from_caches(mr: usize, nr: usize, caches: &Caches) -> Blocks {
        let per_k = 4 * (mr + nr);
        let kc = down_to(share(caches.l1d, L1_SHARE_IN_PLACE_A) / per_k, 16);
        let kc_packed_a = down_to(share(caches.l1d, L1_SHARE_PACKED_A) / per_k, 16);
        let mc = down_to(share(caches.l2, L2_SHARE) / (4 * kc), mr);
        // Without an L3 the B block lives in L2 beside A's.
        let l3 = if caches.l3 > 0 {
            share(caches.l3, L3_SHARE)
        } else {
            caches.l2 / 2
        };
        let nc = down_to(l3 / (4 * kc), nr);
        Blocks {
            kc,
            kc_packed_a,
            mc,
            nc,
            prefetch_min_len: caches.l2 / 2 / 4,
        }
    }
}

/// Splits `k` into blocks of at most `kc_max` of nearly equal size, so
/// that a k slightly above a multiple of `kc_max` does not end with a tiny
/// block (784 with 256: 4 × 196 rather than 3 × 256 + 16). Returns the
/// block length, `⌈k / ⌈k / kc_max⌉⌉`.
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
        for kc_max in [256, 352, 192] {
            for k in 0..2000 {
                let kc = balanced_kc(k, kc_max);
                assert!(kc <= kc_max);
                if k > 0 {
                    assert!(kc > 0 && kc * k.div_ceil(kc) >= k);
                    assert_eq!(k.div_ceil(kc), k.div_ceil(kc_max));
                }
            }
        }
        assert_eq!(balanced_kc(784, 256), 196);
        assert_eq!(balanced_kc(1024, 352), 342);
    }

    /// On Zen 3's caches the model gives the 6 × 16 kernel the constants
    /// it was tuned with.
    #[test]
    fn zen3_caches_give_the_tuned_constants() {
        let b = Blocks::fallback(6, 16);
        assert_eq!((b.kc, b.kc_packed_a, b.mc, b.nc), (256, 352, 144, 4096));
        assert_eq!(b.prefetch_min_len, 64 * 1024);
    }

    /// Zen 5 (48 KiB L1d, 1 MiB L2, 32 MiB L3) and the 12 × 32 kernel: the
    /// slivers fit L1, the A block L2, the B block an eighth of L3.
    #[test]
    fn blocks_fit_their_caches() {
        let zen5 = Caches {
            l1d: 48 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
            source: "test",
        };
        let odd = [
            zen5,
            Caches::FALLBACK,
            // Tiny L2, huge L3; no L3; a large L1.
            Caches {
                l1d: 16 << 10,
                l2: 64 << 10,
                l3: 1 << 30,
                source: "test",
            },
            Caches {
                l1d: 32 << 10,
                l2: 256 << 10,
                l3: 0,
                source: "test",
            },
            Caches {
                l1d: 128 << 10,
                l2: 16 << 20,
                l3: 64 << 20,
                source: "test",
            },
        ];
        for caches in odd {
            for (mr, nr) in [(6, 16), (12, 32)] {
                let b = Blocks::from_caches(mr, nr, &caches);
                assert!(b.kc % 16 == 0 && b.kc_packed_a % 16 == 0, "{b:?}");
                assert!(b.kc_packed_a >= b.kc, "{b:?}");
                assert!(b.kc_packed_a * (mr + nr) * 4 <= caches.l1d.max(16 * (mr + nr) * 4));
                assert!(b.mc % mr == 0 && b.mc >= mr, "{b:?}");
                assert!(b.nc % nr == 0 && b.nc >= nr, "{b:?}");
            }
        }
        let b = Blocks::from_caches(12, 32, &zen5);
        assert_eq!((b.kc, b.kc_packed_a, b.mc, b.nc), (192, 256, 384, 5440));
    }

    /// What the model derives for every CPU of the table (the figures of
    /// the 6 × 16 and 12 × 32 kernels, kc / kc with A packed / mc / nc),
    /// worked out by hand from the shares of the module docs. A change of
    /// the model shows here as a diff.
    #[test]
    fn known_cpus_derive_these_blocks() {
        let expect: [(&str, [usize; 4], [usize; 4]); 8] = [
            ("zen1", [256, 352, 144, 1024], [128, 176, 288, 2048]),
            ("zen3", [256, 352, 144, 4096], [128, 176, 288, 8192]),
            ("zen5", [384, 528, 192, 2720], [192, 256, 384, 5440]),
            ("skylake-sp", [256, 352, 288, 4928], [128, 176, 576, 9856]),
            ("icelake-sp", [384, 528, 240, 5120], [192, 256, 480, 10240]),
            (
                "sapphire-rapids",
                [384, 528, 384, 8960],
                [192, 256, 768, 17920],
            ),
            ("tiny", [128, 176, 72, 128], [64, 80, 144, 256]),
            ("huge", [1024, 1440, 1152, 16384], [512, 720, 2304, 32768]),
        ];
        assert_eq!(KNOWN_CPUS.len(), expect.len());
        for (cpu, (name, narrow, wide)) in KNOWN_CPUS.iter().zip(expect) {
            assert_eq!(cpu.name, name);
            for ((mr, nr), want) in [((6, 16), narrow), ((12, 32), wide)] {
                let b = Blocks::from_caches(mr, nr, &cpu.caches);
                assert_eq!([b.kc, b.kc_packed_a, b.mc, b.nc], want, "{name} {mr}x{nr}");
            }
        }
    }

    #[test]
    fn cache_descriptions_parse_or_say_what_is_wrong() {
        assert_eq!(Caches::parse("zen3").unwrap().l2, 512 << 10);
        assert_eq!(Caches::parse("Sapphire_Rapids").unwrap().l2, 2 << 20);
        let c = Caches::parse("l1d=48K, l2=2M,l3=32M").unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (48 << 10, 2 << 20, 32 << 20));
        assert_eq!(Caches::parse("l1d=32K,l2=256K").unwrap().l3, 0);
        let err = |t: &str| Caches::parse(t).unwrap_err();
        assert!(
            err("zen9").contains("neither a known CPU (zen1, zen3"),
            "{}",
            err("zen9")
        );
        assert!(err("l1d=48Q,l2=1M").contains("`48Q`"));
        assert!(err("l1d=48K").contains("l2=SIZE is missing"));
        assert!(err("l1d=1K,l2=1M").contains("below the 4 KiB"));
        assert!(err("l4=1M,l1d=32K,l2=1M").contains("unknown cache level `l4`"));
        assert_eq!(
            Caches::parse("zen5").unwrap().describe(),
            "L1d 48 KiB, L2 1024 KiB, L3 32 MiB"
        );
    }

    #[test]
    fn forced_values_name_the_variable() {
        assert_eq!(
            Forced::from_values(None, Some(" ")).unwrap(),
            Forced::default()
        );
        let f = Forced::from_values(Some("zen3"), Some("f32x8")).unwrap();
        assert_eq!(f.caches, Caches::known("zen3"));
        assert_eq!(f.kernel, Some(Kernel::F32x8));
        let e = Forced::from_values(None, Some("f32x4"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("DESCENT_KERNEL=\"f32x4\": "), "{e}");
        let e = Forced::from_values(Some("l2=1M"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("DESCENT_CACHES") && e.contains("l1d=SIZE is missing"),
            "{e}"
        );
    }

    #[test]
    fn sysfs_sizes_parse() {
        assert_eq!(parse_size("48K"), Some(48 << 10));
        assert_eq!(parse_size("1024K"), Some(1 << 20));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size(""), None);
    }

    /// A fake sysfs tree: data and unified caches are read, the
    /// instruction cache ignored; without an L1d the caches are unknown.
    #[test]
    fn sysfs_tree_is_read() {
        let root = std::env::temp_dir().join(format!("descent-caches-{}", std::process::id()));
        let write = |idx: &str, level: &str, kind: &str, size: &str| {
            let d = root.join(idx);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("level"), format!("{level}\n")).unwrap();
            std::fs::write(d.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(d.join("size"), format!("{size}\n")).unwrap();
        };
        write("index1", "1", "Instruction", "32K");
        write("index2", "2", "Unified", "1024K");
        write("index3", "3", "Unified", "32768K");
        assert_eq!(Caches::from_sysfs(&root), None);
        write("index0", "1", "Data", "48K");
        let c = Caches::from_sysfs(&root).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (48 << 10, 1 << 20, 32 << 20));
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(Caches::from_sysfs(&root), None);
    }
}
