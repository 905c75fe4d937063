//! The micro-kernel contract and its width-generic implementation.
//!
//! [`kernel`] computes the MR × NR product of one sliver of A (`MR × kc`)
//! and one sliver of B (`kc × NR`) in registers, for any [`Vector`] type
//! `V`: NR = 2 vectors, so each k step loads 2 vectors of B, broadcasts MR
//! values of A and issues 2·MR FMAs into 2·MR accumulators. One source,
//! two instances (see [`super::Kernel`]): `F32x8` with MR = 6 (12 of the 16
//! `ymm` registers of AVX2 hold the tile) and `F32x16` with MR = 12 (24 of
//! the 32 `zmm` registers of AVX-512).
//!
//! A is read packed or where it lies ([`ASliver`]); B packed, or in place
//! while the kernel packs it for the next row slivers. [`store_tile`] then
//! applies `α`, `β`, and on the last k block the epilogue (bias, ReLU)
//! while the tile is still in registers, and writes only the valid
//! `mr × nr` corner to C. [`tile`] is the two together, one small function
//! per variant, which the loop nest calls through a pointer.

use crate::simd::Vector;

/// The largest MR of any instance: `each_row!` names this many rows.
pub const MAX_MR: usize = 12;

/// `each_row!(row, args…)` expands to `row!(0, args…); … row!(11, args…);`:
/// the tile's rows named by literal index, so the optimizer sees 2·MR
/// scalar accumulators rather than an array it may keep in memory. Each
/// `row!` guards itself with `if i < ROWS`, a constant, so the rows past
/// an instance's tile compile to nothing.
macro_rules! each_row {
    ($row:ident $(, $arg:expr)*) => {
        $row!(0 $(, $arg)*);
        $row!(1 $(, $arg)*);
        $row!(2 $(, $arg)*);
        $row!(3 $(, $arg)*);
        $row!(4 $(, $arg)*);
        $row!(5 $(, $arg)*);
        $row!(6 $(, $arg)*);
        $row!(7 $(, $arg)*);
        $row!(8 $(, $arg)*);
        $row!(9 $(, $arg)*);
        $row!(10 $(, $arg)*);
        $row!(11 $(, $arg)*);
    };
}

/// The register tile: `tile[i][h]` holds `C[i, h·L .. (h + 1)·L]`, L the
/// vector's lanes (NR = 2·L).
pub type Tile<V, const MR: usize> = [[V; 2]; MR];

/// Where the micro-kernel reads `A[i, p]` for the rows `i < ROWS` of one
/// sliver, as `p` walks through a k block. Three layouts, each with the
/// addressing that keeps the k loop free of dependent pointer arithmetic:
/// [`PackedA`] (the packing buffer), [`RowsA`] (A row-major, read in place:
/// one pointer per row) and [`ColsA`] (A column-major, e.g. a transposed
/// view, read in place: the `ROWS` values of one k are contiguous).
pub trait ASliver: Copy {
    /// The sliver whose element `(i, p)` is at `a + i·ars + p·aks` (each
    /// layout ignores the stride it knows at compile time).
    fn at(a: *const f32, ars: usize, aks: usize) -> Self;
    /// `A[i, p0 + off]`, where `p0` is where the sliver currently stands.
    ///
    /// # Safety
    /// The element must lie inside A.
    unsafe fn get(&self, i: usize, off: usize) -> f32;
    /// Moves the sliver `steps` values along k.
    ///
    /// # Safety
    /// The new position must lie inside A or one past its k range.
    unsafe fn advance(&mut self, steps: usize);
}

/// Packed A: `a[p·MR + i]` (see [`super::pack`]), strides known at compile time.
#[derive(Clone, Copy)]
pub struct PackedA<const MR: usize>(pub *const f32);

impl<const MR: usize> ASliver for PackedA<MR> {
    #[inline(always)]
    fn at(a: *const f32, _ars: usize, _aks: usize) -> Self {
        Self(a)
    }
    #[inline(always)]
    unsafe fn get(&self, i: usize, off: usize) -> f32 {
        *self.0.add(off * MR + i)
    }
    #[inline(always)]
    unsafe fn advance(&mut self, steps: usize) {
        self.0 = self.0.add(steps * MR);
    }
}

/// Row-major A read in place: row `i` at `rows[i]`, contiguous along k.
#[derive(Clone, Copy)]
pub struct RowsA<const MR: usize>(pub [*const f32; MR]);

impl<const MR: usize> ASliver for RowsA<MR> {
    #[inline(always)]
    fn at(a: *const f32, ars: usize, _aks: usize) -> Self {
        Self(std::array::from_fn(|i| a.wrapping_add(i * ars)))
    }
    #[inline(always)]
    unsafe fn get(&self, i: usize, off: usize) -> f32 {
        *self.0[i].add(off)
    }
    #[inline(always)]
    unsafe fn advance(&mut self, steps: usize) {
        for r in self.0.iter_mut() {
            *r = r.wrapping_add(steps);
        }
    }
}

/// Column-major A read in place: `A[i, p] = a[p·cs + i]`.
#[derive(Clone, Copy)]
pub struct ColsA(pub *const f32, pub usize);

impl ASliver for ColsA {
    #[inline(always)]
    fn at(a: *const f32, _ars: usize, aks: usize) -> Self {
        Self(a, aks)
    }
    #[inline(always)]
    unsafe fn get(&self, i: usize, off: usize) -> f32 {
        *self.0.add(off * self.1 + i)
    }
    #[inline(always)]
    unsafe fn advance(&mut self, steps: usize) {
        self.0 = self.0.wrapping_add(steps * self.1);
    }
}

/// Computes `Σ_p A[0..ROWS, p] ⊗ B[p, 0..NR]` over `kc` steps: the first
/// `ROWS` rows of the MR-row tile (the rest stays zero), with `A` read
/// through `a` and `B[p, 0..NR]` as NR = 2·`V::LANES` contiguous floats at
/// `b + p·bks` (`bks = NR` for packed B, the row stride for a row-major B
/// read in place).
///
/// With `PACK_B`, each B row read is also stored to `b_out + p·NR`: the
/// first row sliver under a column sliver packs B for the others while its
/// FMAs run, instead of in a separate pass through L2 before them. Without
/// it, the kernel prefetches `ahead` (the next sliver of B, or the next
/// tile's corner of C), one line per 4 k steps.
///
/// Computing exactly `ROWS ≤ MR` rows means the short row sliver of an m
/// that is not a multiple of MR costs ROWS/MR of a full one, and reads no
/// row of A past the matrix.
///
/// # Safety
/// `a.get(i, p)` is valid for `i < ROWS`, `p < kc`; `b + p·bks .. + NR` is
/// readable for `p < kc`; with `PACK_B`, `b_out .. + kc·NR` is writable and
/// overlaps neither A nor B.
#[inline(always)]
pub unsafe fn kernel<
    V: Vector,
    const MR: usize,
    const ROWS: usize,
    const PACK_B: bool,
    A: ASliver,
>(
    kc: usize,
    a: A,
    b: *const f32,
    bks: usize,
    b_out: *mut f32,
    ahead: PrefetchRows,
) -> Tile<V, MR> {
    const { assert!(ROWS <= MR && MR <= MAX_MR) };
    let nr = 2 * V::LANES;
    let mut c: Tile<V, MR> = [[V::ZERO; 2]; MR];
    let (mut a, mut b, mut b_out, mut ahead) = (a, b, b_out, ahead);
    // Unrolled by hand, rows with literal indices, so the 2·MR
    // accumulators are scalars to the optimizer and stay in registers
    // (indexing the tile with a loop variable can leave it in memory,
    // stored every step), and the loop overhead is paid once per 4 k steps.
    macro_rules! row {
        ($i:literal, $off:expr, $b0:expr, $b1:expr) => {
            if $i < ROWS {
                let ai = V::splat(a.get($i, $off));
                c[$i][0] = ai.mul_add($b0, c[$i][0]);
                c[$i][1] = ai.mul_add($b1, c[$i][1]);
            }
        };
    }
    macro_rules! step {
        ($off:expr) => {{
            let b0 = V::load(b.add($off * bks));
            let b1 = V::load(b.add($off * bks + V::LANES));
            if PACK_B {
                V::store(b_out.add($off * nr), b0);
                V::store(b_out.add($off * nr + V::LANES), b1);
            }
            each_row!(row, $off, b0, b1);
        }};
    }
    for _ in 0..kc / 4 {
        // Not in the B-packing instance: it has no spare registers, and
        // its stores already compete with the broadcasts.
        if !PACK_B && ahead.rows > 0 {
            ahead.fetch();
        }
        step!(0);
        step!(1);
        step!(2);
        step!(3);
        a.advance(4);
        b = b.add(4 * bks);
        if PACK_B {
            b_out = b_out.add(4 * nr);
        }
    }
    for _ in 0..kc % 4 {
        step!(0);
        a.advance(1);
        b = b.add(bks);
        if PACK_B {
            b_out = b_out.add(nr);
        }
    }
    c
}

/// Asks the cache to fetch the line holding `p` into L1 (`prefetcht0`).
/// Does nothing on targets without a prefetch instruction. Safe for any
/// address: a prefetch is a hint that never faults and reads nothing into
/// the program.
#[inline(always)]
fn prefetch_line(p: *const f32) {
    // SAFETY: SSE is part of every x86-64 and is checked for on x86; the
    // intrinsic is `unsafe` only for its target feature, and the address
    // is never dereferenced.
    #[cfg(all(target_arch = "x86", target_feature = "sse"))]
    unsafe {
        std::arch::x86::_mm_prefetch::<{ std::arch::x86::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(any(
        all(target_arch = "x86", target_feature = "sse"),
        target_arch = "x86_64"
    )))]
    let _ = p;
}

/// Asks the cache to fetch the `mr × nr` corner of C at `c` (row-major
/// rows, `csc = 1`) while the micro-kernel runs, so that [`store_tile`]
/// does not stall on C lines that live in L3 or memory (large C, or a
/// C written back between k blocks). Does nothing for other strides.
/// Safe for any address, as `prefetch_line`.
#[inline(always)]
pub fn prefetch_c(c: *const f32, rsc: usize, csc: usize, mr: usize, nr: usize) {
    if csc == 1 && nr > 0 {
        let mut corner = PrefetchRows::new(c, rsc, nr, mr);
        while corner.rows > 0 {
            corner.fetch();
        }
    }
}

/// Floats in a 64-byte cache line.
const LINE: usize = 64 / std::mem::size_of::<f32>();

/// Rows to prefetch, a cache line per call of `fetch`: `rows` rows
/// of `width` contiguous floats from `src` on, `stride` apart. Used for
/// the corner of C a tile is about to write ([`prefetch_c`]), and for what
/// a plain tile prefetches one line per 4 k steps during its k loop: its
/// share of the next sliver of B, where it lies in B (rows of B for a
/// row-major B, rows of Bᵀ for a transposed one), so that the first MC
/// block packs that sliver from L1 or L2 instead of waiting on L3; or, on
/// a shallow k block with nothing of B to fetch, the corner of C that the
/// next tile writes.
#[derive(Clone, Copy)]
pub struct PrefetchRows {
    src: *const f32,
    stride: usize,
    width: usize,
    rows: usize,
    /// Where in the current row the next line starts.
    at: usize,
}

impl PrefetchRows {
    /// Nothing to prefetch.
    pub const NONE: PrefetchRows = PrefetchRows {
        src: std::ptr::null(),
        stride: 0,
        width: 0,
        rows: 0,
        at: 0,
    };

    /// The region of `rows` rows of `width` floats at `src`, `stride` apart.
    pub fn new(src: *const f32, stride: usize, width: usize, rows: usize) -> Self {
        Self {
            src,
            stride,
            width,
            rows,
            at: 0,
        }
    }

    /// Rows left to fetch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Calls of `fetch` a row takes.
    pub fn calls_per_row(&self) -> usize {
        self.width.div_ceil(LINE)
    }

    /// Rows `first .. first + count` of the region (clipped to it).
    pub fn rows_from(&self, first: usize, count: usize) -> Self {
        if first >= self.rows {
            return Self::NONE;
        }
        Self {
            src: self.src.wrapping_add(first * self.stride),
            rows: count.min(self.rows - first),
            ..*self
        }
    }

    /// Prefetches the next line of the current row; at the row's end also
    /// its last float (the row need not start on a line boundary), then
    /// moves to the next row. Call only while `rows() > 0`.
    #[inline(always)]
    fn fetch(&mut self) {
        prefetch_line(self.src.wrapping_add(self.at));
        self.at += LINE;
        if self.at >= self.width {
            prefetch_line(self.src.wrapping_add(self.width - 1));
            self.src = self.src.wrapping_add(self.stride);
            self.at = 0;
            self.rows -= 1;
        }
    }
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
    /// Descend instead: `C ← C − α·tile`, one `α.mul_neg_add(tile, C)` an
    /// element (SGD's arithmetic, [`crate::step::sgd`]), with the tile's
    /// squares summed into [`Dest::squares`]; β, bias and ReLU unused
    /// ([`crate::gemm::matmul_descend`]).
    pub descend: bool,
    /// With [`TileOps::descend`]: momentum's step instead of SGD's, α
    /// its learning rate ([`crate::gemm::matmul_descend_with`]).
    pub momentum: Option<MomentumTile>,
}

/// Momentum's step in a descending tile store, PyTorch's SGD with
/// momentum after its first step, without weight decay, as
/// [`crate::step::momentum`] computes it an element: `g ← s·g`, `b ← μ·b +
/// (1 − τ)·g` (one FMA), `d = b` or, Nesterov, `μ·b + g` (one FMA), `p ←
/// p − γ·d`. The buffer b has C's layout: C's element at `c0 + o` has its
/// b at `buf + o`.
#[derive(Clone, Copy)]
pub struct MomentumTile {
    /// C's first element (the offsets are taken from it).
    pub c0: *const f32,
    /// b's first element.
    pub buf: *mut f32,
    /// μ.
    pub mu: f32,
    /// `1 − τ` (τ the dampening).
    pub omd: f32,
    /// The gradient factor s (±1: the sign of `maximize`).
    pub gs: f32,
    /// Nesterov's look-ahead.
    pub nesterov: bool,
}

impl MomentumTile {
    /// Where the buffer element of C's element at `p` is.
    ///
    /// # Safety
    /// `p` lies in the C that `c0` starts, and b mirrors its layout.
    #[inline(always)]
    unsafe fn at(&self, p: *const f32) -> *mut f32 {
        // SAFETY: both pointers are in C; b is as long as C's layout.
        unsafe { self.buf.offset(p.offset_from(self.c0)) }
    }

    /// The step direction `d` from the gradient vector `acc` and the
    /// buffer vector `b` (returned with the new `b`).
    #[inline(always)]
    fn direction<V: Vector>(&self, acc: V, b: V) -> (V, V) {
        let g = V::splat(self.gs) * acc;
        let mu = V::splat(self.mu);
        let b = mu.mul_add(b, V::splat(self.omd) * g);
        let d = if self.nesterov { mu.mul_add(b, g) } else { b };
        (d, b)
    }
}

/// `relu(x) = x < 0 ? 0 : x`, NaN kept: the scalar twin of [`Vector::relu`].
#[inline(always)]
pub fn relu_s(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// Writes `ops(tile)` into the `mr × nr` corner of C at `dest.c` (strides
/// `rsc`, `csc`, all fields of `dest`): `C ← α·tile + β·C`, then
/// `+ bias[j]`, then ReLU. When `β = 0`, C is not read, so NaN or garbage
/// there is overwritten.
///
/// # Safety
/// `c + i·rsc + j·csc` must be writable (and readable when β ≠ 0) for
/// `i < mr`, `j < nr`, unaliased; `bias`, if any, has at least `nr` values.
#[inline(always)]
pub unsafe fn store_tile<V: Vector, const MR: usize>(tile: &Tile<V, MR>, dest: &Dest) {
    let Dest {
        c,
        rsc,
        csc,
        mr,
        nr,
        ops,
        ..
    } = *dest;
    if ops.descend {
        store_descend(
            tile,
            c,
            rsc,
            csc,
            mr,
            nr,
            ops.alpha,
            ops.momentum,
            dest.squares,
        );
    } else if nr == 2 * V::LANES && csc == 1 {
        // The common case gets straight-line code for each of the 16
        // combinations of the per-call choices, so no row pays a branch on
        // α, β, bias or ReLU. Leaving out the `α·` multiply when α = 1 pays
        // where the store is a large part of a tile, on a short k
        // (docs/gemm-tuning.md, "Figures behind the constants").
        let key = (
            ops.alpha != 1.0,
            ops.beta != 0.0,
            ops.bias.is_some(),
            ops.relu,
        );
        macro_rules! dispatch {
            ($(($s:literal, $r:literal, $b:literal, $l:literal)),*) => {
                match key {
                    $(($s, $r, $b, $l) => store_full::<V, MR, $s, $r, $b, $l>(tile, c, rsc, mr, ops),)*
                }
            };
        }
        dispatch!(
            (false, false, false, false),
            (false, false, false, true),
            (false, false, true, false),
            (false, false, true, true),
            (false, true, false, false),
            (false, true, false, true),
            (false, true, true, false),
            (false, true, true, true),
            (true, false, false, false),
            (true, false, false, true),
            (true, false, true, false),
            (true, false, true, true),
            (true, true, false, false),
            (true, true, false, true),
            (true, true, true, false),
            (true, true, true, true)
        );
    } else {
        store_edge(tile, c, rsc, csc, mr, nr, ops);
    }
}

/// Where [`tile`] writes: the `mr × nr` corner of C at `c` (strides `rsc`,
/// `csc`), and what it does on the way (see [`store_tile`]).
#[derive(Clone, Copy)]
pub struct Dest<'a> {
    pub c: *mut f32,
    pub rsc: usize,
    pub csc: usize,
    pub mr: usize,
    pub nr: usize,
    pub ops: TileOps<'a>,
    /// Prefetch the corner before the k loop (see [`prefetch_c`]).
    pub prefetch: bool,
    /// This tile's share of the next sliver of B, or the next tile's
    /// corner of C, prefetched during the k loop (plain tiles only).
    pub ahead: PrefetchRows,
    /// With [`TileOps::descend`]: where the tile's squares go, `V::LANES`
    /// floats, lane l the sum of `tile[i][h][l]²` over its rows i and
    /// halves h (four running sums, by the parity of i and by h, added
    /// pairwise at the end); null for none.
    pub squares: *mut f32,
}

/// Where a tile reads its sliver of A: element `(i, p)` at
/// `a + i·rs + p·ks` (for packed A, `rs = 1`, `ks = MR`).
#[derive(Clone, Copy)]
pub struct ASrc {
    pub a: *const f32,
    pub rs: usize,
    pub ks: usize,
}

/// Where a tile reads its sliver of B: packed, row `p` at `packed + p·NR`;
/// or, for the tile that packs it, in place, row `p` at `src + p·ks`,
/// copied into `packed` as it is read.
#[derive(Clone, Copy)]
pub struct BSrc {
    pub src: *const f32,
    pub ks: usize,
    pub packed: *mut f32,
}

/// The signature every [`tile`] instance shares, so the loop nest picks one
/// per sliver and calls it through a pointer: `(kc, a, b, dest)`.
pub type TileFn = unsafe fn(usize, ASrc, BSrc, &Dest);

/// One micro-tile: prefetch its C corner if `dest.prefetch`, run [`kernel`]
/// over `kc` steps (A of layout `A` at `a`; B packed at `b.packed` while
/// prefetching `dest.ahead`, or with `PACK_B` read in place at `b.src` and
/// packed into `b.packed`), then [`store_tile`] into `dest`.
///
/// Not inlined on purpose: each instance is a small function the optimizer
/// can keep entirely in registers, and the loop nest stays small instead of
/// carrying a copy of every variant.
///
/// # Safety
/// As [`kernel`] (with `ROWS` rows of A) and [`store_tile`] (for `dest`).
#[inline(never)]
pub unsafe fn tile<
    V: Vector,
    const MR: usize,
    A: ASliver,
    const ROWS: usize,
    const PACK_B: bool,
>(
    kc: usize,
    a: ASrc,
    b: BSrc,
    dest: &Dest,
) {
    // The caller asks only when C is too large to stay cached and the k
    // loop is long enough to hide the fetch (see `blocking`).
    if dest.prefetch {
        prefetch_c(dest.c, dest.rsc, dest.csc, dest.mr, dest.nr);
    }
    let sliver = A::at(a.a, a.rs, a.ks);
    let t = if PACK_B {
        kernel::<V, MR, ROWS, true, A>(kc, sliver, b.src, b.ks, b.packed, PrefetchRows::NONE)
    } else {
        // Packed B: the constant stride lets every load use a constant offset.
        let nr = 2 * V::LANES;
        kernel::<V, MR, ROWS, false, A>(kc, sliver, b.packed, nr, b.packed, dest.ahead)
    };
    store_tile::<V, MR>(&t, dest);
}

// Both stores below name the tile's rows by literal index, never `tile[i]`
// with a variable i: that would make the optimizer keep the whole tile in
// memory, and the kernel that fills it would then store its accumulators
// on every k step.

/// [`store_tile`] for a full-width tile of a row-major C (also the short
/// row sliver, which an MR-row tile leaves for every m that is not a
/// multiple of MR): vector loads and stores. `SCALE`: α ≠ 1; `READ_C`:
/// β ≠ 0; `BIAS`, `RELU`: the epilogue of the last k block.
///
/// # Safety
/// As [`store_tile`] with `nr = NR`, `csc = 1`.
#[inline(always)]
unsafe fn store_full<
    V: Vector,
    const MR: usize,
    const SCALE: bool,
    const READ_C: bool,
    const BIAS: bool,
    const RELU: bool,
>(
    tile: &Tile<V, MR>,
    c: *mut f32,
    rsc: usize,
    mr: usize,
    ops: TileOps<'_>,
) {
    let l = V::LANES;
    let alpha = V::splat(ops.alpha);
    let beta = V::splat(ops.beta);
    let bias = match ops.bias {
        Some(b) if BIAS => [V::load(b.as_ptr()), V::load(b.as_ptr().add(l))],
        _ => [V::ZERO; 2],
    };
    let finish = |acc: V, p: *const f32, h: usize| {
        let mut v = if SCALE { alpha * acc } else { acc };
        if READ_C {
            v = beta.mul_add(V::load(p), v);
        }
        if BIAS {
            v += bias[h];
        }
        if RELU {
            v = v.relu();
        }
        v
    };
    macro_rules! row {
        ($i:literal) => {
            if $i < MR && $i < mr {
                let p = c.add($i * rsc);
                V::store(p, finish(tile[$i][0], p, 0));
                V::store(p.add(l), finish(tile[$i][1], p.add(l), 1));
            }
        };
    }
    each_row!(row);
}

/// The `cnt ≤ V::LANES` floats at `p`, `csc` apart, as a vector whose
/// other lanes are 0: an edge vector of C, through a stack copy.
///
/// # Safety
/// `p + j·csc` is readable for `j < cnt`.
#[inline(always)]
unsafe fn load_partial<V: Vector>(p: *const f32, csc: usize, cnt: usize) -> V {
    let mut a = [0.0f32; 16];
    debug_assert!(V::LANES <= a.len() && cnt <= V::LANES);
    for (j, x) in a.iter_mut().enumerate().take(cnt) {
        *x = *p.add(j * csc);
    }
    V::load(a.as_ptr())
}

/// Writes the first `cnt ≤ V::LANES` lanes of `v` to `p`, `csc` apart
/// (the twin of [`load_partial`]).
///
/// # Safety
/// `p + j·csc` is writable for `j < cnt`.
#[inline(always)]
unsafe fn store_partial<V: Vector>(p: *mut f32, csc: usize, cnt: usize, v: V) {
    let mut a = [0.0f32; 16];
    debug_assert!(V::LANES <= a.len() && cnt <= V::LANES);
    V::store(a.as_mut_ptr(), v);
    for (j, &x) in a.iter().enumerate().take(cnt) {
        *p.add(j * csc) = x;
    }
}

/// [`store_tile`] with [`TileOps::descend`]: `C ← η.mul_neg_add(tile, C)`
/// (η is the tile's α) and the tile's squares into `squares`. A vector that runs past
/// the tile's `nr` columns (or a C with a column stride) goes through a
/// stack copy with its lanes past the edge zeroed, so they add nothing.
///
/// # Safety
/// As [`store_tile`] (C is read); `squares`, if not null, is writable for
/// `V::LANES` floats.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn store_descend<V: Vector, const MR: usize>(
    tile: &Tile<V, MR>,
    c: *mut f32,
    rsc: usize,
    csc: usize,
    mr: usize,
    nr: usize,
    eta: f32,
    momentum: Option<MomentumTile>,
    squares: *mut f32,
) {
    const MAX_LANES: usize = 16;
    let l = V::LANES;
    debug_assert!(l <= MAX_LANES);
    let eta = V::splat(eta);
    let full = nr == 2 * l && csc == 1;
    // Four sums, by row parity and half, so that the squares are four
    // short FMA chains instead of one of 2·MR (its latency outlasted the
    // stores).
    let mut sq = [V::ZERO; 4];
    macro_rules! row {
        ($i:literal) => {
            if $i < MR && $i < mr {
                let row = c.add($i * rsc);
                let k = 2 * ($i % 2);
                descend_half(
                    row,
                    0,
                    tile[$i][0],
                    &mut sq[k],
                    full,
                    nr,
                    csc,
                    eta,
                    &momentum,
                );
                descend_half(
                    row,
                    1,
                    tile[$i][1],
                    &mut sq[k + 1],
                    full,
                    nr,
                    csc,
                    eta,
                    &momentum,
                );
            }
        };
    }
    each_row!(row);
    if !squares.is_null() {
        V::store(squares, (sq[0] + sq[1]) + (sq[2] + sq[3]));
    }
}

/// One vector of [`store_descend`]: the `h`-th half of a tile row at `row`,
/// `C ← C − η·d` with `d` the gradient `acc` (or momentum's direction from
/// it, the buffer stepped alongside), and `acc²` added to `sq`.
///
/// A function, not a closure, so that it can be `#[inline(always)]`: the
/// tile runs it 2·MR times, and a closure gets only the default inlining.
/// Once the momentum arm made it large, the compiler called it out of line,
/// and the tile's accumulators, live across those calls, spilled inside
/// the k loop of every GEMM, the plain ones too (−45% on 64x784x128).
///
/// # Safety
/// As [`store_descend`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn descend_half<V: Vector>(
    row: *mut f32,
    h: usize,
    acc: V,
    sq: &mut V,
    full: bool,
    nr: usize,
    csc: usize,
    eta: V,
    momentum: &Option<MomentumTile>,
) {
    const MAX_LANES: usize = 16;
    let l = V::LANES;
    let j0 = h * l;
    if full {
        let p = row.add(j0);
        let d = match momentum {
            None => acc,
            Some(m) => {
                let bp = m.at(p);
                let (d, b) = m.direction(acc, V::load(bp));
                V::store(bp, b);
                d
            }
        };
        V::store(p, eta.mul_neg_add(d, V::load(p)));
        *sq = acc.mul_add(acc, *sq);
    } else if j0 < nr {
        let (p, cnt) = (row.add(j0 * csc), (nr - j0).min(l));
        // The lanes past the edge zeroed: they add no square.
        let mut g = [0.0f32; MAX_LANES];
        V::store(g.as_mut_ptr(), acc);
        g[cnt..].fill(0.0);
        let acc = V::load(g.as_ptr());
        let d = match momentum {
            None => acc,
            Some(m) => {
                let bp = m.at(p);
                let (d, b) = m.direction(acc, load_partial(bp, csc, cnt));
                store_partial(bp, csc, cnt, b);
                d
            }
        };
        store_partial(p, csc, cnt, eta.mul_neg_add(d, load_partial(p, csc, cnt)));
        *sq = acc.mul_add(acc, *sq);
    }
}

/// [`store_tile`] for a tile narrower than NR or a C with a column stride:
/// each vector goes through a stack copy.
///
/// # Safety
/// As [`store_tile`].
#[inline(always)]
unsafe fn store_edge<V: Vector, const MR: usize>(
    tile: &Tile<V, MR>,
    c: *mut f32,
    rsc: usize,
    csc: usize,
    mr: usize,
    nr: usize,
    ops: TileOps<'_>,
) {
    // Room for one vector of the widest instance.
    const MAX_LANES: usize = 16;
    let l = V::LANES;
    debug_assert!(l <= MAX_LANES);
    let alpha = V::splat(ops.alpha);
    let beta = V::splat(ops.beta);
    let read_c = ops.beta != 0.0;
    let mut bias = [0.0f32; 2 * MAX_LANES];
    if let Some(b) = ops.bias {
        bias[..nr].copy_from_slice(&b[..nr]);
    }
    let store_row = |row: *mut f32, acc: [V; 2]| {
        for (h, &acc) in acc.iter().enumerate() {
            let j0 = l * h;
            if j0 >= nr {
                break;
            }
            let (p, cnt) = (row.add(j0 * csc), (nr - j0).min(l));
            let mut v = alpha * acc;
            if read_c {
                v = beta.mul_add(load_partial(p, csc, cnt), v);
            }
            if ops.bias.is_some() {
                v += V::load(bias.as_ptr().add(j0));
            }
            if ops.relu {
                v = v.relu();
            }
            store_partial(p, csc, cnt, v);
        }
    };
    macro_rules! row {
        ($i:literal) => {
            if $i < MR && $i < mr {
                store_row(c.add($i * rsc), tile[$i]);
            }
        };
    }
    each_row!(row);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rows_from` cuts the region into parts, and a part is walked one
    /// line per call: `calls_per_row` calls finish a row and move `src`
    /// one stride on, whatever the width.
    #[test]
    fn prefetch_rows_walks_its_rows_line_by_line() {
        let (stride, rows) = (200, 7);
        let buf = vec![0.0f32; stride * rows];
        for width in [1, 15, 16, 17, 33, 196] {
            let region = PrefetchRows::new(buf.as_ptr(), stride, width, rows);
            assert_eq!(region.calls_per_row(), width.div_ceil(16));
            let mut part = region.rows_from(2, 3);
            assert_eq!(part.src, buf.as_ptr().wrapping_add(2 * stride));
            for done in 0..3 {
                for _ in 0..part.calls_per_row() {
                    assert_eq!(part.rows, 3 - done, "width {width}");
                    // SAFETY: a prefetch, inside `buf`.
                    part.fetch();
                }
            }
            assert_eq!(part.rows, 0, "width {width}");
            assert_eq!(part.src, buf.as_ptr().wrapping_add(5 * stride));
            assert_eq!(region.rows_from(6, 3).rows, 1);
            assert_eq!(region.rows_from(7, 3).rows, 0);
        }
    }
}
