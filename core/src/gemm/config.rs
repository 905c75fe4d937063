//! What the host decides for a GEMM: the micro-kernel of the family
//! ([`Kernel`], with its [`TileSet`]), the cache blocks, and when A is read
//! in place ([`Config`]); and the `Plan` a whole product makes from them
//! before it is split among threads.

use std::sync::OnceLock;

use super::blocking::{self, balanced_kc, Blocks, Caches};
use super::kernel::{self, ColsA, PackedA, RowsA, TileFn};
use super::pack;
use crate::simd::{F32x16, F32x8, Vector};

/// A micro-kernel of the family: its SIMD width and register tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `wide::f32x8`, a 6 × 16 tile: 12 accumulators, 2 vectors of B and a
    /// broadcast of A in 15 of AVX2's 16 `ymm` registers.
    F32x8,
    /// `wide::f32x16`, a 12 × 32 tile: 24 accumulators, 2 vectors of B and
    /// a broadcast of A in 27 of AVX-512's 32 `zmm` registers. Where it
    /// overlaps C, at least FMA latency × pipes = 4 × 2 = 8 accumulators
    /// must be in flight; 24 leave room for a 4- and 8-row tile too.
    F32x16,
}

impl Kernel {
    /// Every kernel of the family. All are correct on every machine; only
    /// the widths the CPU has in registers are fast.
    pub const ALL: [Kernel; 2] = [Kernel::F32x8, Kernel::F32x16];

    /// The widest kernel this build runs in real registers: `F32x16` when
    /// the build enables AVX-512F (`-C target-cpu=native` on such a CPU),
    /// else `F32x8`.
    pub const fn native() -> Kernel {
        if crate::simd::HAS_AVX512 {
            Kernel::F32x16
        } else {
            Kernel::F32x8
        }
    }

    /// The tile functions, MR and NR of this kernel.
    pub fn tiles(self) -> &'static TileSet {
        match self {
            Kernel::F32x8 => &TILES_F32X8,
            Kernel::F32x16 => &TILES_F32X16,
        }
    }

    /// Rows of the register tile.
    pub fn mr(self) -> usize {
        self.tiles().mr
    }

    /// Columns of the register tile (two vectors).
    pub fn nr(self) -> usize {
        self.tiles().nr
    }

    /// What runs, e.g. `"avx512f, f32x16, 12×32 tile"`: the instruction
    /// set this width compiled to in this build, the vector type, the tile.
    pub fn describe(self) -> String {
        let isa = match self {
            Kernel::F32x16 if crate::simd::HAS_AVX512 => "avx512f",
            Kernel::F32x16 if crate::simd::HAS_FMA => "avx2+fma (emulated: 2 ymm per vector)",
            Kernel::F32x8 if crate::simd::HAS_FMA => "avx2+fma",
            _ => "portable (no fma)",
        };
        let name = match self {
            Kernel::F32x8 => "f32x8",
            Kernel::F32x16 => "f32x16",
        };
        format!("{isa}, {name}, {}×{} tile", self.mr(), self.nr())
    }
}

/// Copies a block of A or B into packed panels: `(rows or kc, kc or cols,
/// src, rs, cs, out)`, see [`pack`].
type PackFn = unsafe fn(usize, usize, *const f32, usize, usize, &mut [f32]);

/// One kernel's register tile and its instances: what the loop nest needs
/// to run it without naming its width.
pub struct TileSet {
    /// Rows of the tile.
    pub mr: usize,
    /// Columns of the tile.
    pub nr: usize,
    /// `tiles[layout][rows][pack_b]`: layout 0 row-major A in place, 1
    /// column-major A in place, 2 packed A; `rows` 0, 1, 2 for tiles of
    /// MR/3, 2·MR/3 and MR rows; `pack_b` whether the tile packs its sliver
    /// of B while it reads it.
    pub(crate) tiles: [[[TileFn; 2]; 3]; 3],
    pub(crate) pack_a: PackFn,
    pub(crate) pack_b: PackFn,
}

/// The instances of one kernel: `tile_set!(vector, MR, MR/3, 2·MR/3)`.
/// Const generics need the row counts as literals.
macro_rules! tile_set {
    ($v:ty, $mr:literal, $r1:literal, $r2:literal) => {{
        use kernel::tile;
        macro_rules! pair {
            ($layout:ty, $rows:literal) => {
                [
                    tile::<$v, $mr, $layout, $rows, false> as TileFn,
                    tile::<$v, $mr, $layout, $rows, true> as TileFn,
                ]
            };
        }
        macro_rules! layout {
            ($layout:ty) => {
                [
                    pair!($layout, $r1),
                    pair!($layout, $r2),
                    pair!($layout, $mr),
                ]
            };
        }
        const NR: usize = 2 * <$v as Vector>::LANES;
        const _: () = assert!($r1 * 3 == $mr && $r2 == 2 * $r1);
        TileSet {
            mr: $mr,
            nr: NR,
            tiles: [layout!(RowsA<$mr>), layout!(ColsA), layout!(PackedA<$mr>)],
            pack_a: pack::pack_a::<$mr>,
            pack_b: pack::pack_b::<NR>,
        }
    }};
}

static TILES_F32X8: TileSet = tile_set!(F32x8, 6, 2, 4);
static TILES_F32X16: TileSet = tile_set!(F32x16, 12, 4, 8);

/// How a GEMM runs: which kernel, with which cache blocks, and when A is
/// read where it lies instead of packed.
///
/// Everything the host decides for a product is here, so a test (or a
/// user asking what another CPU would run) can give it explicitly:
/// [`Config::new`] derives it from a [`Caches`] value, and the fields can
/// be set by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub kernel: Kernel,
    pub blocks: Blocks,
    /// A is read in place when C has at most this many columns and A has a
    /// unit stride (see `read_a_in_place`); 0 packs A always,
    /// `usize::MAX` never packs a unit-stride A.
    pub a_in_place_max_n: usize,
}

impl Config {
    /// The native kernel with blocks from this machine's caches (computed
    /// once), or from the caches and kernel forced by `DESCENT_CACHES` and
    /// `DESCENT_KERNEL` (see [`blocking::Forced`]). What a
    /// [`crate::Compute`] without a forced configuration starts from.
    pub fn native() -> &'static Config {
        static NATIVE: OnceLock<Config> = OnceLock::new();
        NATIVE.get_or_init(|| {
            let kernel = blocking::Forced::from_env()
                .ok()
                .and_then(|f| f.kernel)
                .unwrap_or(Kernel::native());
            Config::new(kernel, &Caches::detect())
        })
    }

    /// The configuration [`super::matmul`] runs a product with `n` columns on,
    /// unless its [`crate::Compute`] forces one: the
    /// native one, except that a C at most half a native tile wide (the
    /// MLP's 10-class output layer) runs on the 6 × 16 kernel, which wastes
    /// fewer lanes on it (half its lanes idle rather than three quarters).
    pub fn for_cols(n: usize) -> &'static Config {
        static NARROW: OnceLock<Config> = OnceLock::new();
        let native = Config::native();
        if native.kernel != Kernel::F32x8 && n <= native.kernel.nr() / 2 {
            NARROW.get_or_init(|| Config::new(Kernel::F32x8, &Caches::detect()))
        } else {
            native
        }
    }

    /// `kernel` with the blocks the model gives for `caches` and the
    /// default packing rule ([`DIRECT_A_MAX_N`]).
    pub fn new(kernel: Kernel, caches: &Caches) -> Config {
        Config {
            kernel,
            blocks: Blocks::from_caches(kernel.mr(), kernel.nr(), caches),
            a_in_place_max_n: DIRECT_A_MAX_N,
        }
    }

    /// One line for headers and benches: the kernel and its blocks, e.g.
    /// `"avx512f, f32x16, 12×32 tile; kc 192 (256 packed A), mc 384, nc 5440"`.
    pub fn describe(&self) -> String {
        let b = &self.blocks;
        let rule = match self.a_in_place_max_n {
            DIRECT_A_MAX_N => String::new(),
            0 => "; A always packed".to_string(),
            usize::MAX => "; A never packed".to_string(),
            t => format!("; A in place up to n = {t}"),
        };
        format!(
            "{}; kc {} ({} packed A), mc {}, nc {}{rule}",
            self.kernel.describe(),
            b.kc,
            b.kc_packed_a,
            b.mc,
            b.nc
        )
    }

    /// The decisions that fix the order of every sum of the product
    /// `a · b` (`m × k` by `k × n`): whether A is read in place, and so
    /// which k blocks the loop nest takes.
    pub(crate) fn plan(&self, k: usize, rsa: usize, csa: usize, n: usize) -> Plan {
        let direct_a = read_a_in_place(self.a_in_place_max_n, n, rsa, csa);
        let kc_max = if direct_a {
            self.blocks.kc
        } else {
            self.blocks.kc_packed_a
        };
        Plan {
            direct_a,
            kc: balanced_kc(k, kc_max),
        }
    }
}

/// What a whole product decides once, before it is split among threads:
/// every choice here changes which partial sums are formed (the k blocks
/// are summed into C one after another), so every part of the product must
/// run with the same plan (see [`super::matmul`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// A is read where it lies (else packed).
    pub(crate) direct_a: bool,
    /// Depth of the k blocks (the last may be shallower).
    pub(crate) kc: usize,
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
///
/// `n` is the whole product's: a thread's slice of it must not change the
/// choice (see [`super::matmul`]).
fn read_a_in_place(max_n: usize, n: usize, rsa: usize, csa: usize) -> bool {
    n <= max_n && (csa == 1 || rsa == 1)
}

/// Widest B for which A is read in place by default (see
/// `read_a_in_place`): 16 slivers of the 6 × 16 tile, 8 of the 12 × 32
/// one (whose 12 row streams weigh more than 6; the measurements are in
/// `docs/gemm-tuning.md`).
pub const DIRECT_A_MAX_N: usize = 256;
