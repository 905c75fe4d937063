//! GEMM correctness: the fast `gemm` against the naive triple loop (kept in
//! the crate as `gemm_naive`) and against matrixmultiply, over every small
//! size, the block boundaries, random and large odd sizes, all four
//! transpose combinations, padded (non-contiguous) strides, α and β in
//! {0, 1, 2.3} and every epilogue.
//!
//! Whole-number inputs make every partial sum exact, so with α, β ∈ {0, 1}
//! the results must be equal bit for bit. Otherwise the stated tolerance is
//! the classic dot-product bound `|c − ĉ| ≤ 2·(k + 2)·ε·(|α|·Σ_p |a_ip·b_pj| + |β·c_ij| + |bias_j|)`
//! against an f64 reference.
//!
//! Every test runs each kernel of the family ([`Kernel::ALL`]: the
//! `f32x8` 6 × 16 and the `f32x16` 12 × 32 tile), whatever the machine:
//! without AVX-512, `wide` runs `f32x16` as two `f32x8` halves, so the
//! 12 × 32 kernel's loop nest, packing and stores are checked here too.

mod common;

use common::fast_and_naive;
use descent_core::gemm::blocking::Caches;
use descent_core::gemm::PAR_MIN_FLOP;
use descent_core::{gemm_naive, matmul, Compute, Config, Epilogue, Kernel, MatMut, MatRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Each kernel with the blocks of this machine's caches.
fn configs() -> Vec<Config> {
    Kernel::ALL
        .iter()
        .map(|&k| Config::new(k, &Caches::detect()))
        .collect()
}

/// A matrix stored inside a padded buffer: element (i, j) at
/// `off + i·rs + j·cs`, everything else a sentinel.
struct Stored {
    buf: Vec<f32>,
    off: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

const SENTINEL: f32 = -7777.0;

impl Stored {
    /// `trans`: store column-major; `pad`: extra elements between rows/cols
    /// and a 3-element offset (so nothing is aligned).
    fn new(rows: usize, cols: usize, trans: bool, pad: usize, f: &mut impl FnMut() -> f32) -> Self {
        let off = if pad > 0 { 3 } else { 0 };
        let (rs, cs) = if trans {
            (1, rows + pad)
        } else {
            (cols + pad, 1)
        };
        let len = off + rows.max(1) * rs.max(1) + cols.max(1) * cs.max(1) + pad;
        let mut buf = vec![SENTINEL; len];
        for i in 0..rows {
            for j in 0..cols {
                buf[off + i * rs + j * cs] = f();
            }
        }
        Self {
            buf,
            off,
            rows,
            cols,
            rs,
            cs,
        }
    }
    fn view(&self) -> MatRef<'_> {
        MatRef::new(
            &self.buf[self.off..],
            self.rows,
            self.cols,
            self.rs,
            self.cs,
        )
        .unwrap()
    }
    fn view_mut(&mut self) -> MatMut<'_> {
        MatMut::new(
            &mut self.buf[self.off..],
            self.rows,
            self.cols,
            self.rs,
            self.cs,
        )
        .unwrap()
    }
    fn get(&self, i: usize, j: usize) -> f32 {
        self.buf[self.off + i * self.rs + j * self.cs]
    }
    /// Every element outside the view still holds the sentinel.
    fn outside_untouched(&self) -> bool {
        let mut inside = vec![false; self.buf.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                inside[self.off + i * self.rs + j * self.cs] = true;
            }
        }
        self.buf
            .iter()
            .zip(&inside)
            .all(|(&v, &ins)| ins || v == SENTINEL)
    }
}

#[derive(Clone, Copy, Debug)]
enum Epi {
    None,
    Bias,
    BiasRelu,
    Relu,
}
const EPIS: [Epi; 4] = [Epi::None, Epi::Bias, Epi::BiasRelu, Epi::Relu];

fn epilogue(e: Epi, bias: &[f32]) -> Epilogue<'_> {
    match e {
        Epi::None => Epilogue::None,
        Epi::Bias => Epilogue::bias(bias),
        Epi::BiasRelu => Epilogue::bias_relu(bias),
        Epi::Relu => Epilogue::relu(),
    }
}

struct Case {
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    tc: bool,
    pad: usize,
    alpha: f32,
    beta: f32,
    epi: Epi,
}

/// Runs one case with `fill` producing inputs; returns (fast C, naive C).
fn run(
    cfg: &Config,
    case: &Case,
    fill: &mut impl FnMut() -> f32,
) -> (Stored, Stored, Stored, Stored, Vec<f32>) {
    run_against(cfg, case, fill, false)
}

/// [`run`], with matrixmultiply and then the epilogue in place of the
/// naive twin when `mm`: the same bits wherever every sum is exact (whole
/// numbers, α and β in {0, 1}), and fast enough for the products of large
/// cache blocks.
fn run_against(
    cfg: &Config,
    case: &Case,
    fill: &mut impl FnMut() -> f32,
    mm: bool,
) -> (Stored, Stored, Stored, Stored, Vec<f32>) {
    let a = Stored::new(case.m, case.k, case.ta, case.pad, fill);
    let b = Stored::new(case.k, case.n, case.tb, case.pad, fill);
    let bias: Vec<f32> = (0..case.n).map(|_| fill()).collect();
    // With β = 0, C starts as NaN: it must be overwritten, never read.
    let mut c_fill = || if case.beta == 0.0 { f32::NAN } else { fill() };
    let c0 = Stored::new(case.m, case.n, case.tc, case.pad, &mut c_fill);
    let mut fast = Stored {
        buf: c0.buf.clone(),
        ..c0
    };
    let mut naive = Stored {
        buf: fast.buf.clone(),
        ..fast
    };
    let c_init = Stored {
        buf: fast.buf.clone(),
        ..fast
    };
    let e = epilogue(case.epi, &bias);
    matmul(
        &on(cfg),
        case.alpha,
        a.view(),
        b.view(),
        case.beta,
        fast.view_mut(),
        e,
    )
    .unwrap();
    if mm {
        mm_sgemm(case.alpha, &a, &b, case.beta, &mut naive);
        for i in 0..case.m {
            for j in 0..case.n {
                let at = naive.off + i * naive.rs + j * naive.cs;
                let mut v = naive.buf[at];
                if let Some(bias) = e.bias {
                    v += bias[j];
                }
                naive.buf[at] = if e.relu && v < 0.0 { 0.0 } else { v };
            }
        }
    } else {
        gemm_naive(
            case.alpha,
            a.view(),
            b.view(),
            case.beta,
            naive.view_mut(),
            e,
        )
        .unwrap();
    }
    assert!(fast.outside_untouched(), "gemm wrote outside C's view");
    (fast, naive, a, b, {
        let mut v = bias;
        v.extend(c_init.buf);
        v
    })
}

fn small_int(rng: &mut ChaCha8Rng) -> f32 {
    rng.random_range(-4i32..=4) as f32
}

#[test]
fn small_sizes_exhaustive_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut f = || small_int(&mut rng);
    let (mut count, mut want) = (0, 0);
    for cfg in configs() {
        let (mr, nr) = (cfg.kernel.mr(), cfg.kernel.nr());
        want += (2 * mr + 1) * (2 * nr + 1) * 6 * 8;
        for m in 0..=2 * mr {
            for n in 0..=2 * nr {
                for &k in &[0usize, 1, 2, 5, 8, 17] {
                    for t in 0..8u8 {
                        let case = Case {
                            m,
                            k,
                            n,
                            ta: t & 1 != 0,
                            tb: t & 2 != 0,
                            tc: t & 4 != 0,
                            pad: (t as usize) % 3,
                            alpha: if (m + n) % 2 == 0 { 1.0 } else { 0.0 },
                            beta: if (m + k) % 3 == 0 { 1.0 } else { 0.0 },
                            epi: EPIS[(m + n + k) % 4],
                        };
                        let (fast, naive, ..) = run(&cfg, &case, &mut f);
                        for i in 0..m {
                            for j in 0..n {
                                assert_eq!(
                                    fast.get(i, j).to_bits(),
                                    naive.get(i, j).to_bits(),
                                    "{:?}: m={m} k={k} n={n} t={t} at ({i},{j}): {} vs {}",
                                    cfg.kernel,
                                    fast.get(i, j),
                                    naive.get(i, j)
                                );
                            }
                        }
                        count += 1;
                    }
                }
            }
        }
    }
    assert_eq!(count, want);
}

/// Checks `fast` against an f64 reference with the bound in the file docs.
// The reference is written as the textbook index loop on purpose.
#[allow(clippy::needless_range_loop)]
fn check_tol(case: &Case, fast: &Stored, a: &Stored, b: &Stored, bias_and_c0: &[f32]) {
    let (bias, c0buf) = bias_and_c0.split_at(case.n);
    let c0 = Stored {
        buf: c0buf.to_vec(),
        off: fast.off,
        rows: fast.rows,
        cols: fast.cols,
        rs: fast.rs,
        cs: fast.cs,
    };
    let eps = f32::EPSILON as f64;
    for i in 0..case.m {
        for j in 0..case.n {
            let (mut s, mut sabs) = (0.0f64, 0.0f64);
            for p in 0..case.k {
                let prod = a.get(i, p) as f64 * b.get(p, j) as f64;
                s += prod;
                sabs += prod.abs();
            }
            let alpha = case.alpha as f64;
            let mut want = alpha * s;
            let mut mag = alpha.abs() * sabs;
            if case.beta != 0.0 {
                let bc = case.beta as f64 * c0.get(i, j) as f64;
                want += bc;
                mag += bc.abs();
            }
            if matches!(case.epi, Epi::Bias | Epi::BiasRelu) {
                want += bias[j] as f64;
                mag += (bias[j] as f64).abs();
            }
            if matches!(case.epi, Epi::BiasRelu | Epi::Relu) && want < 0.0 {
                want = 0.0;
            }
            let tol = 2.0 * (case.k as f64 + 2.0) * eps * mag + 1e-30;
            let got = fast.get(i, j) as f64;
            assert!(
                (got - want).abs() <= tol,
                "m={} k={} n={} α={} β={} {:?} at ({i},{j}): got {got}, want {want}, tol {tol}",
                case.m,
                case.k,
                case.n,
                case.alpha,
                case.beta,
                case.epi
            );
        }
    }
}

#[test]
fn alpha_beta_all_values_with_tolerance() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for &alpha in &[0.0f32, 1.0, 2.3] {
        for &beta in &[0.0f32, 1.0, 2.3] {
            for (idx, &(m, k, n)) in [
                (7, 13, 19),
                (13, 300, 33),
                (1, 1, 1),
                (6, 16, 16),
                (25, 3, 50),
            ]
            .iter()
            .enumerate()
            {
                for t in 0..8u8 {
                    let case = Case {
                        m,
                        k,
                        n,
                        ta: t & 1 != 0,
                        tb: t & 2 != 0,
                        tc: t & 4 != 0,
                        pad: 2,
                        alpha,
                        beta,
                        epi: EPIS[(idx + t as usize) % 4],
                    };
                    let mut f = || rng.random_range(-1.0f32..1.0);
                    for cfg in configs() {
                        let (fast, _naive, a, b, extra) = run(&cfg, &case, &mut f);
                        check_tol(&case, &fast, &a, &b, &extra);
                    }
                }
            }
        }
    }
}

/// Every configuration the table-driven tests run under, with a label:
/// each kernel of the family with the blocks of each CPU of
/// [`descent_core::gemm::blocking::KNOWN_CPUS`] and of this machine (the default packing rule), and,
/// under Zen 3's and Zen 5's blocks, A always packed and never packed.
/// None of it depends on the machine the tests run on, except the one
/// entry that is this machine's own.
fn table_configs() -> Vec<(String, Config)> {
    let mut out = common::known_cpu_configs();
    for name in ["zen3", "zen5"] {
        for kernel in Kernel::ALL {
            for rule in [0, usize::MAX] {
                let cfg = Config {
                    a_in_place_max_n: rule,
                    ..Config::new(kernel, &Caches::known(name).unwrap())
                };
                out.push((format!("{name}: {}", cfg.describe()), cfg));
            }
        }
    }
    out
}

/// The packing threshold of `cfg` as a column count to straddle (the
/// default's where the rule is "always" or "never").
fn threshold(cfg: &Config) -> usize {
    match cfg.a_in_place_max_n {
        0 | usize::MAX => descent_core::gemm::DIRECT_A_MAX_N,
        t => t,
    }
}

/// The sizes around every block edge of `cfg` (its tile, its cache blocks
/// and its packing threshold), exact against the naive twin.
fn check_block_boundaries(label: &str, cfg: &Config, rng: &mut ChaCha8Rng) {
    let (mr, nr) = (cfg.kernel.mr(), cfg.kernel.nr());
    let b = cfg.blocks;
    let (kc, kcp, mc, nc, t) = (b.kc, b.kc_packed_a, b.mc, b.nc, threshold(cfg));
    let sizes = [
        (1, 1, 1),
        (mc - 1, kc + 1, 2 * nr + 1),
        (mc, kc, nr),
        (mc + 1, kc - 1, nr - 1),
        (2 * mc + mr + 1, 2 * kc + 1, 3),
        (3, 2, nc + 1),
        (2, kc * 3 + 5, nc - 1),
        // Around the packing threshold: A read in place with kc, or packed
        // with kc_packed_a.
        (mc + 1, kcp + 1, t + 3),
        (mr + 1, kcp, t),
        (mr - 1, kc + 1, t + 1),
        (7, 2 * kcp + 1, t + 1),
    ];
    for &(m, k, n) in &sizes {
        for tr in [0u8, 3, 5] {
            let case = Case {
                m,
                k,
                n,
                ta: tr & 1 != 0,
                tb: tr & 2 != 0,
                tc: tr & 4 != 0,
                pad: 1,
                alpha: 1.0,
                beta: 1.0,
                epi: Epi::BiasRelu,
            };
            let mut f = || small_int(rng);
            // The naive loop up to a few million multiply-adds, then
            // matrixmultiply (the sums are exact either way).
            let (fast, naive, ..) = run_against(cfg, &case, &mut f, m * k * n > 1 << 21);
            assert_eq!(fast.buf, naive.buf, "{label}: {m}x{k}x{n} t={tr}");
        }
    }
}

/// Every kernel under the blocks of every CPU of the table (and of odd
/// caches: a tiny L1 and L2 with a huge L3, no L3 at all, a large L1 and
/// L2), and under each packing rule, is exact on the sizes around its
/// block edges: the code paths another CPU's blocking reaches are tested
/// here, whatever this machine's caches.
#[test]
fn every_known_blocking_is_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (label, cfg) in table_configs() {
        check_block_boundaries(&label, &cfg, &mut rng);
    }
    let unusual = [
        Caches {
            l1d: 8 << 10,
            l2: 32 << 10,
            l3: 64 << 20,
            source: "test",
        },
        Caches {
            l1d: 32 << 10,
            l2: 256 << 10,
            l3: 0,
            source: "test",
        },
        Caches {
            l1d: 96 << 10,
            l2: 2 << 20,
            l3: 8 << 20,
            source: "test",
        },
    ];
    for caches in unusual {
        for kernel in Kernel::ALL {
            let cfg = Config::new(kernel, &caches);
            check_block_boundaries(&cfg.describe(), &cfg, &mut rng);
        }
    }
}

/// Oracle: matrixmultiply's sgemm on the same strided operands.
fn mm_sgemm(alpha: f32, a: &Stored, b: &Stored, beta: f32, c: &mut Stored) {
    unsafe {
        matrixmultiply::sgemm(
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.buf.as_ptr().add(a.off),
            a.rs as isize,
            a.cs as isize,
            b.buf.as_ptr().add(b.off),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.buf.as_mut_ptr().add(c.off),
            c.rs as isize,
            c.cs as isize,
        );
    }
}

#[test]
fn random_sizes_against_matrixmultiply() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut shapes: Vec<(usize, usize, usize)> = (0..40)
        .map(|_| {
            (
                rng.random_range(1..=300),
                rng.random_range(1..=300),
                rng.random_range(1..=300),
            )
        })
        .collect();
    shapes.push((17, 257, 31));
    shapes.push((266, 265, 255));
    // A large C under a shallow k block (C prefetched a tile ahead); as
    // shape 42 it gets a row-major C, the layout that path needs.
    shapes.push((301, 64, 257));
    for (idx, &(m, k, n)) in shapes.iter().enumerate() {
        let t = idx as u8 % 8;
        let (ta, tb, tc) = (t & 1 != 0, t & 2 != 0, t & 4 != 0);
        let mut f = || rng.random_range(-1.0f32..1.0);
        let a = Stored::new(m, k, ta, 1, &mut f);
        let b = Stored::new(k, n, tb, 1, &mut f);
        let c0 = Stored::new(m, n, tc, 1, &mut f);
        let mut theirs = Stored {
            buf: c0.buf.clone(),
            ..c0
        };
        let (alpha, beta) = (2.3, 1.0);
        mm_sgemm(alpha, &a, &b, beta, &mut theirs);
        for cfg in configs() {
            let mut ours = Stored {
                buf: c0.buf.clone(),
                ..c0
            };
            matmul(
                &on(&cfg),
                alpha,
                a.view(),
                b.view(),
                beta,
                ours.view_mut(),
                Epilogue::None,
            )
            .unwrap();
            // Two f32 summations in different orders: each within
            // γ_k·Σ|terms| of the truth, so within twice that of each other.
            for i in 0..m {
                for j in 0..n {
                    let mag: f32 = (0..k)
                        .map(|p| (a.get(i, p) * b.get(p, j)).abs())
                        .sum::<f32>()
                        * alpha
                        + c0.get(i, j).abs();
                    let tol = 2.0 * (k as f32 + 2.0) * f32::EPSILON * mag;
                    let (x, y) = (ours.get(i, j), theirs.get(i, j));
                    assert!(
                        (x - y).abs() <= tol,
                        "{:?}: {m}x{k}x{n} ({i},{j}): {x} vs {y} (tol {tol})",
                        cfg.kernel
                    );
                }
            }
            assert!(ours.outside_untouched());
        }
    }
}

#[test]
fn large_odd_exact_against_naive() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for &(m, k, n) in &[(17, 257, 31), (266, 265, 255)] {
        for t in [0u8, 7] {
            let case = Case {
                m,
                k,
                n,
                ta: t & 1 != 0,
                tb: t & 2 != 0,
                tc: t & 4 != 0,
                pad: 0,
                alpha: 1.0,
                beta: 0.0,
                epi: Epi::Bias,
            };
            for cfg in configs() {
                let mut f = || small_int(&mut rng);
                let (fast, naive, ..) = run(&cfg, &case, &mut f);
                assert_eq!(fast.buf, naive.buf, "{:?}: {m}x{k}x{n}", cfg.kernel);
            }
        }
    }
}

/// Whether two stored results are the same bits (NaN payloads included).
fn same_bits(x: &Stored, y: &Stored) -> bool {
    x.buf.len() == y.buf.len()
        && x.buf
            .iter()
            .zip(&y.buf)
            .all(|(a, b)| a.to_bits() == b.to_bits())
}

/// `matmul` on 2–4 threads against one thread, both forced to `cfg`,, bit for
/// bit, and both within the dot-product bound of an f64 reference, for
/// every shape of `shapes` and both layouts of A (random floats, so a
/// different order of the sums would show).
fn check_threads(
    label: &str,
    cfg: &Config,
    pools: &[Compute],
    shapes: &[(usize, usize, usize)],
    rng: &mut ChaCha8Rng,
) {
    for &(m, k, n) in shapes {
        assert!(
            2 * m * k * n >= PAR_MIN_FLOP,
            "{label}: {m}x{k}x{n} is too small to be split"
        );
        for ta in [false, true] {
            let mut f = || rng.random_range(-1.0f32..1.0);
            let a = Stored::new(m, k, ta, 0, &mut f);
            let b = Stored::new(k, n, !ta, 0, &mut f);
            let bias: Vec<f32> = (0..n).map(|_| f()).collect();
            let epi = Epilogue::bias_relu(&bias);
            let mut c1 = Stored::new(m, n, false, 0, &mut || f32::NAN);
            matmul(&on(cfg), 1.0, a.view(), b.view(), 0.0, c1.view_mut(), epi).unwrap();
            // The f64 reference: |ĉ − c| ≤ 2·(k + 2)·ε·(Σ_p |a_ip·b_pj| + |bias_j|)
            // (ReLU cannot widen a gap).
            for i in 0..m {
                for (j, &bj) in bias.iter().enumerate() {
                    let (mut exact, mut mag) = (f64::from(bj), f64::from(bj.abs()));
                    for p in 0..k {
                        let prod = f64::from(a.get(i, p)) * f64::from(b.get(p, j));
                        exact += prod;
                        mag += prod.abs();
                    }
                    let got = f64::from(c1.get(i, j));
                    let bound = 2.0 * (k + 2) as f64 * f64::from(f32::EPSILON) * mag;
                    assert!(
                        (got - exact.max(0.0)).abs() <= bound,
                        "{label}: {m}x{k}x{n} ta={ta} at ({i}, {j}): {got} vs {exact}"
                    );
                }
            }
            for cx in pools {
                let cx = cx.clone().with_gemm(*cfg);
                let mut ct = Stored::new(m, n, false, 0, &mut || f32::NAN);
                matmul(&cx, 1.0, a.view(), b.view(), 0.0, ct.view_mut(), epi).unwrap();
                assert!(
                    same_bits(&c1, &ct),
                    "{label}: {m}x{k}x{n} ta={ta} with {} threads differs from 1 thread",
                    cx.thread_count()
                );
            }
        }
    }
}

/// The shapes of [`check_threads`] for `cfg`: around its packing
/// threshold (a thread's slice of n on the other side of it than the
/// whole n), its k blocks with A in place and packed, its MC blocks (split
/// along m) and its NC block.
fn thread_shapes(cfg: &Config) -> Vec<(usize, usize, usize)> {
    let (mr, nr) = (cfg.kernel.mr(), cfg.kernel.nr());
    let b = cfg.blocks;
    let (kc, kcp, mc, nc, t) = (b.kc, b.kc_packed_a, b.mc, b.nc, threshold(cfg));
    let mut shapes = vec![
        // The shape of the report: n just over the threshold, k over kc.
        (5, 300, t + 45),
        (5, kc + 1, t + 1),
        (7, kcp + 1, 2 * t + 1),
        (3, 2 * kc + 3, 3 * t - 1),
        (mr + 1, kcp - 1, t + nr + 1),
        (mr - 1, 2 * kcp + 3, t - 1),
        // Split along m.
        (2 * mc + 1, kc + 1, nr - 1),
        (3 * mc + mr + 1, 2 * kc + 3, 3),
        (mc - 1, 2 * kcp + 3, 2 * nr + 1),
        // The MLP's shapes.
        (64, 784, 128),
        (128, 64, 784),
        (300, 17, 5 * nr),
    ];
    // Across an NC block, where B stays a sane size.
    if (kc + 7) * (nc + 1) <= 8 << 20 {
        shapes.push((16, kc + 7, nc + 1));
    }
    // Under small blocks a few products fall below the size that is split:
    // grow m until they are not.
    for (m, k, n) in &mut shapes {
        *m = (*m).max(PAR_MIN_FLOP.div_ceil(2 * *k * *n));
    }
    shapes
}

/// The report's failure: Zen 3's blocking (the 6 × 16 kernel, kc 256 with
/// A in place, 352 packed) on 5x300x301 with two threads. One thread packs
/// A (n = 301 > 256) and takes k in one block of 300; when each thread
/// chose for its own ~150 columns, it read A in place and took k in two
/// blocks of 150, and the sums came out in another order.
#[test]
fn zen3_blocking_5x300x301_is_bit_identical_on_two_threads() {
    let cfg = Config::new(Kernel::F32x8, &Caches::known("zen3").unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    check_threads(
        "zen3",
        &cfg,
        &[Compute::threads(2)],
        &[(5, 300, 301)],
        &mut rng,
    );
}

/// Threads give the same bits as one thread under every configuration of
/// the table, on shapes that straddle each of its thresholds.
#[test]
fn threads_are_bit_identical_under_every_known_blocking() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let pools: Vec<Compute> = (2..=4).map(Compute::threads).collect();
    for (label, cfg) in table_configs() {
        check_threads(&label, &cfg, &pools, &thread_shapes(&cfg), &mut rng);
    }
}

/// `matmul` with the host's own configuration on 2–4 threads equals one
/// thread on the MLP's shapes.
#[test]
fn threads_are_bit_identical() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let pools: Vec<Compute> = (2..=4).map(Compute::threads).collect();
    for &(m, k, n) in &[
        (64, 784, 128),
        (64, 128, 64),
        (64, 64, 10),
        (128, 64, 784),
        (300, 17, 5),
        (5, 300, 301),
    ] {
        let mut f = || rng.random_range(-1.0f32..1.0);
        let a = Stored::new(m, k, false, 0, &mut f);
        let b = Stored::new(k, n, true, 0, &mut f);
        let bias: Vec<f32> = (0..n).map(|_| f()).collect();
        let mut c1 = Stored::new(m, n, false, 0, &mut || f32::NAN);
        matmul(
            &Compute::serial(),
            1.0,
            a.view(),
            b.view(),
            0.0,
            c1.view_mut(),
            Epilogue::bias_relu(&bias),
        )
        .unwrap();
        for cx in &pools {
            let mut ct = Stored::new(m, n, false, 0, &mut || f32::NAN);
            matmul(
                cx,
                1.0,
                a.view(),
                b.view(),
                0.0,
                ct.view_mut(),
                Epilogue::bias_relu(&bias),
            )
            .unwrap();
            assert!(
                same_bits(&c1, &ct),
                "{m}x{k}x{n} with {} threads differs from 1 thread",
                cx.thread_count()
            );
        }
    }
}

#[test]
fn nan_and_inf_propagate_like_the_naive_twin() {
    // A NaN or Inf in A or B must reach C exactly as in the triple loop.
    for &bad in &[
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e38,
        f32::MIN_POSITIVE / 4.0,
    ] {
        let (m, k, n) = (9, 21, 19);
        let mut av: Vec<f32> = (0..m * k).map(|x| ((x % 5) as f32) - 2.0).collect();
        let bv: Vec<f32> = (0..k * n).map(|x| ((x % 7) as f32) - 3.0).collect();
        av[4 * k + 3] = bad;
        for &(beta, epi) in &[(0.0f32, Epi::None), (1.0, Epi::Relu)] {
            let a = MatRef::row_major(&av, m, k).unwrap();
            let b = MatRef::row_major(&bv, k, n).unwrap();
            for cfg in configs() {
                let (c1, c2) =
                    fast_and_naive(&cfg, 1.0, a, b, beta, &vec![1.0; m * n], epilogue(epi, &[]));
                // Non-finite results must match exactly (same NaN-ness, same
                // infinity); finite ones may differ by FMA's single rounding.
                for (x, y) in c1.iter().zip(&c2) {
                    let same = if x.is_finite() && y.is_finite() {
                        (x - y).abs() <= 1e-6 * y.abs().max(1.0)
                    } else {
                        x == y || (x.is_nan() && y.is_nan())
                    };
                    assert!(same, "bad={bad}: {x} vs {y}");
                }
                assert!(c1.iter().any(|v| !v.is_finite()) == c2.iter().any(|v| !v.is_finite()));
            }
        }
    }
}

#[test]
fn shape_errors_name_both_shapes() {
    let a = vec![0.0; 6];
    let b = vec![0.0; 12];
    let mut c = vec![0.0; 8];
    let av = MatRef::row_major(&a, 2, 3).unwrap();
    let bv = MatRef::row_major(&b, 4, 3).unwrap();
    let e = matmul(
        &Compute::serial(),
        1.0,
        av,
        bv,
        0.0,
        MatMut::row_major(&mut c, 2, 4).unwrap(),
        Epilogue::None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[2, 3]") && e.contains("[4, 3]"), "{e}");
    let bv = MatRef::row_major(&b, 3, 4).unwrap();
    let e = matmul(
        &Compute::serial(),
        1.0,
        av,
        bv,
        0.0,
        MatMut::row_major(&mut c, 2, 4).unwrap(),
        Epilogue::bias(&[1.0; 3]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("bias") && e.contains("[3]"), "{e}");
    let mut c9 = vec![0.0; 9];
    let e = matmul(
        &Compute::serial(),
        1.0,
        av,
        bv,
        0.0,
        MatMut::row_major(&mut c9, 3, 3).unwrap(),
        Epilogue::None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[2, 4]") && e.contains("[3, 3]"), "{e}");
    let aliased = MatMut::new(&mut c, 2, 4, 1, 1).unwrap();
    assert!(matmul(
        &Compute::serial(),
        1.0,
        av,
        bv,
        0.0,
        aliased,
        Epilogue::None
    )
    .is_err());
}

/// A stored `rows × cols` matrix with strides `(rs, cs)` in a buffer whose
/// gaps hold NaN (a read of a gap would poison the result).
fn strided(rows: usize, cols: usize, rs: usize, cs: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let len = if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    };
    let mut buf = vec![f32::NAN; len];
    for i in 0..rows {
        for j in 0..cols {
            buf[i * rs + j * cs] = small_int(rng);
        }
    }
    buf
}

/// Every way the kernel reads its operands: A packed, or in place by rows
/// (row-major) or by columns (a transposed view), with every shape of the
/// last row slivers (for 6 rows: a short one of 1…5 rows, 4 + 3 and 4 + 4
/// after a full one, 4 + 4 alone; for 12: 1…11 and 8 + 5…8 + 8) and
/// across MC blocks; B packed by the first row sliver while it
/// computes (row-major) or by a separate pass (transposed or general
/// strides); n on both sides of the in-place limit. Exact against the naive
/// twin on whole numbers, with NaN in every gap of the operands' buffers.
#[test]
fn every_operand_layout_is_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // (rs, cs) as a function of (rows, cols): row-major, column-major, and
    // both strides above one (every other element of a wider buffer).
    type Strides = fn(usize, usize) -> (usize, usize);
    let layouts: [Strides; 3] = [
        |_, c| (c.max(1), 1),
        |r, _| (1, r.max(1)),
        |_, c| (2 * c.max(1) + 1, 2),
    ];
    for cfg in configs() {
        let (b, nr) = (cfg.blocks, cfg.kernel.nr());
        for &m in &[
            1usize,
            2,
            5,
            6,
            7,
            8,
            13,
            14,
            15,
            16,
            17,
            64,
            b.mc + 7,
            b.mc + 8,
        ] {
            for &k in &[1usize, 3, 196, b.kc + 44] {
                for &n in &[10usize, nr, 128, 256, 257, 16 * nr + 1] {
                    for (la, lb) in [(0, 0), (1, 0), (2, 0), (0, 1), (1, 2), (2, 1)] {
                        let (rsa, csa) = layouts[la](m, k);
                        let (rsb, csb) = layouts[lb](k, n);
                        let a = strided(m, k, rsa, csa, &mut rng);
                        let b = strided(k, n, rsb, csb, &mut rng);
                        let bias: Vec<f32> = (0..n).map(|_| small_int(&mut rng)).collect();
                        let av = MatRef::new(&a, m, k, rsa, csa).unwrap();
                        let bv = MatRef::new(&b, k, n, rsb, csb).unwrap();
                        let epi = Epilogue::bias_relu(&bias);
                        let c0 = vec![f32::NAN; m * n];
                        let (fast, naive) = fast_and_naive(&cfg, 1.0, av, bv, 0.0, &c0, epi);
                        assert_eq!(
                            fast, naive,
                            "{:?}: {m}x{k}x{n}, A layout {la}, B layout {lb}",
                            cfg.kernel
                        );
                    }
                }
            }
        }
    }
}

/// A one-thread context forced to `cfg`.
fn on(cfg: &Config) -> Compute {
    Compute::serial().with_gemm(*cfg)
}
