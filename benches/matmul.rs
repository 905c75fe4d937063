//! GEMM throughput: descent's BLIS-style kernel (the native one of its
//! family, named in the output) against two baselines, matrixmultiply and
//! the `gemm` crate (with its AVX-512 kernels, `x86-v4`), and a naive
//! triple loop (small shapes), on the MNIST MLP's shapes at batch 64 and
//! on squares, plus `peak/f32x8` and `peak/f32x16`: the machine's FMA
//! ceiling at each width, measured in the same run. Every "% of peak" is
//! against the widest width the build has in registers.
//!
//! Throughput is `2·m·k·n` elements, so criterion's "elem/s" is FLOP/s.
//! Run: `cargo bench --bench matmul` (add `-- descent` to filter). At the
//! end a table of ratios (descent / matrixmultiply, descent / gemm,
//! descent / peak) from interleaved samples, which a shared, noisy machine disturbs far less
//! than criterion's one-benchmark-after-another figures.
//!
//! After the table, OpenBLAS (through numpy, one thread, timed by
//! `scripts/openblas-gemm.py` in the same run) on the same shapes, when
//! `$PYTHON` (default `python3`) has numpy and threadpoolctl.
//!
//! With `DESCENT_BENCH_MIN_VS_MM=r`, the run fails when a row of the table
//! has descent / matrixmultiply below `r`: CI's tripwire for a kernel that
//! lost its speed (`.ci/run`).
//!
//! Operands start on a 64-byte cache line, as descent's own buffers do
//! ([`AlignedVec`]: tensors, the MLP's weights and activations, the
//! trainer's batches); both libraries read the same buffers. Two more rows
//! of the table give the MLP's two large shapes with every operand 16
//! bytes past a line, where glibc puts a plain `Vec<f32>` of 128 KiB or
//! more: what a caller's unaligned buffers cost.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use descent::tensor::simd::{fma_peak, fma_peak_flop, F32x16, F32x8, Vector, Wide};
use descent::tensor::{
    gemm_naive, matmul, AlignedVec, Compute, Config, Epilogue, Kernel, MatMut, MatRef,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (m, k, n): C[m×n] = A[m×k]·B[k×n]. The MLP 784-128-64-10 at batch 64:
/// forward layer 1 and 2 and 3, dW₁ = dH₁ᵀ·X, and dX₃ = dY·W₃.
const MLP_SHAPES: [(usize, usize, usize); 5] = [
    (64, 784, 128),
    (64, 128, 64),
    (64, 64, 10),
    (128, 64, 784),
    (64, 10, 64),
];
const SQUARES: [usize; 3] = [256, 512, 1024];

/// `len` floats uniform in [−1, 1), starting on a cache line.
fn random(len: usize, seed: u64) -> AlignedVec {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Floats in 16 bytes: the offset of the unaligned rows of the table.
const OFF_LINE: usize = 4;

/// The baseline: matrixmultiply's `C = A·B` with A row-major `m × k` and
/// B either row-major `k × n` or, with `b_transposed`, the transpose of a
/// row-major `n × k` matrix (Wᵀ as the MLP's forward pass reads W).
fn mm_sgemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], b_transposed: bool, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rsb, csb) = if b_transposed { (1, k) } else { (n, 1) };
    // SAFETY: the asserts above: every element the strides reach is inside
    // its slice.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// The second baseline: the `gemm` crate's `C = A·B` (its convention is
/// `dst ← α·dst + β·lhs·rhs`, so β = 1 and dst is not read), same layouts
/// as [`mm_sgemm`], one thread.
fn gemm_crate(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    b_transposed: bool,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rhs_rs, rhs_cs) = if b_transposed { (1, k) } else { (n, 1) };
    // SAFETY: the asserts above: every element the strides reach is inside
    // its slice.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            ::gemm::Parallelism::None,
        )
    }
}

fn bench_shape(c: &mut Criterion, m: usize, k: usize, n: usize, naive: bool) {
    let mut group = c.benchmark_group("matmul");
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    if m * k * n > 100_000_000 {
        group.sample_size(20);
    }
    let id = format!("{m}x{k}x{n}");
    let a = random(m * k, 1);
    let b = random(k * n, 2);
    let mut cbuf = AlignedVec::zeros(m * n);
    group.bench_function(BenchmarkId::new("descent", &id), |bench| {
        bench.iter(|| {
            let av = MatRef::row_major(black_box(&a), m, k).unwrap();
            let bv = MatRef::row_major(black_box(&b), k, n).unwrap();
            let cv = MatMut::row_major(&mut cbuf, m, n).unwrap();
            matmul(&Compute::serial(), 1.0, av, bv, 0.0, cv, Epilogue::None).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("matrixmultiply", &id), |bench| {
        bench.iter(|| mm_sgemm(m, k, n, black_box(&a), black_box(&b), false, &mut cbuf))
    });
    group.bench_function(BenchmarkId::new("gemm", &id), |bench| {
        bench.iter(|| gemm_crate(m, k, n, black_box(&a), black_box(&b), false, &mut cbuf))
    });
    if naive {
        group.bench_function(BenchmarkId::new("naive", &id), |bench| {
            bench.iter(|| {
                let av = MatRef::row_major(black_box(&a), m, k).unwrap();
                let bv = MatRef::row_major(black_box(&b), k, n).unwrap();
                let cv = MatMut::row_major(&mut cbuf, m, n).unwrap();
                gemm_naive(1.0, av, bv, 0.0, cv, Epilogue::None).unwrap();
            })
        });
    }
    group.finish();
}

/// The forward pass of a Linear + ReLU layer as the MLP runs it:
/// `relu(X·Wᵀ + b)`, W stored [out, in] so Wᵀ is a strided view.
fn bench_fused_linear(c: &mut Criterion) {
    let (m, k, n) = (64, 784, 128);
    let mut group = c.benchmark_group("matmul");
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    let x = random(m * k, 3);
    let w = random(n * k, 4);
    let bias = random(n, 5);
    let mut y = AlignedVec::zeros(m * n);
    group.bench_function(
        BenchmarkId::new("descent-linear-relu", format!("{m}x{k}x{n}")),
        |bench| {
            bench.iter(|| {
                let xv = MatRef::row_major(black_box(&x), m, k).unwrap();
                let wt = MatRef::row_major(black_box(&w), n, k).unwrap().t();
                let yv = MatMut::row_major(&mut y, m, n).unwrap();
                matmul(
                    &Compute::serial(),
                    1.0,
                    xv,
                    wt,
                    0.0,
                    yv,
                    Epilogue::bias_relu(&bias),
                )
                .unwrap();
            })
        },
    );
    group.finish();
}

/// Iterations of the peak loop per benchmark call.
const PEAK_ITERS: usize = 4096;

/// One call of the peak loop at the width of `V` as both benches time it:
/// x slightly below 1 keeps the chains finite and non-denormal.
fn peak_once<V: Vector>() -> f32 {
    let acc = fma_peak::<V>(
        black_box(PEAK_ITERS),
        black_box(V::splat(0.999)),
        black_box(V::splat(1e-3)),
    );
    let mut out = [0.0f32; 16];
    // SAFETY: `out` holds 16 ≥ V::LANES floats.
    unsafe { V::store(out.as_mut_ptr(), acc[0]) };
    out[0]
}

fn bench_peak(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.throughput(Throughput::Elements(
        fma_peak_flop::<F32x8>(PEAK_ITERS) as u64
    ));
    group.bench_function("peak/f32x8", |bench| {
        bench.iter(|| black_box(peak_once::<F32x8>()))
    });
    group.throughput(Throughput::Elements(
        fma_peak_flop::<F32x16>(PEAK_ITERS) as u64
    ));
    group.bench_function("peak/f32x16", |bench| {
        bench.iter(|| black_box(peak_once::<F32x16>()))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    println!("descent SIMD build: {}", descent::tensor::simd::describe());
    println!("descent GEMM kernel: {}", Config::native().describe());
    let caches = descent::tensor::gemm::blocking::Caches::detect();
    println!(
        "caches ({}): L1d {} KiB, L2 {} KiB, L3 {} MiB",
        caches.source,
        caches.l1d >> 10,
        caches.l2 >> 10,
        caches.l3 >> 20
    );
    bench_peak(c);
    for &(m, k, n) in &MLP_SHAPES {
        bench_shape(c, m, k, n, true);
    }
    bench_fused_linear(c);
    for &s in &SQUARES {
        bench_shape(c, s, s, s, s <= 256);
    }
    interleaved_ratios();
}

/// Seconds per call of `f`, timed over `reps` calls.
fn time_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

/// The targets as in-run ratios, from our own interleaved samples.
///
/// Criterion measures one benchmark after another for seconds each, so on
/// a shared machine two of its figures can come from different load
/// phases (the `peak` run and a GEMM run several minutes later). Here each
/// round times ~0.5 ms of peak, of descent and of each baseline back to
/// back, so all see the same machine; the medians over the rounds give the
/// ratios the targets are stated in. On a machine whose native kernel is
/// not the f32x8 one, a column gives the f32x8 kernel too (what the wider
/// kernel buys).
fn interleaved_ratios() {
    let floor = guard_floor();
    let native = *Config::native();
    let narrow = (native.kernel != Kernel::F32x8).then(|| {
        Config::new(
            Kernel::F32x8,
            &descent::tensor::gemm::blocking::Caches::detect(),
        )
    });
    println!();
    println!(
        "interleaved medians, GFLOP/s; descent = {}; peak = f32x{}",
        native.kernel.describe(),
        <Wide as Vector>::LANES
    );
    println!("(targets: descent ≥ 1.0× matrixmultiply on every shape, ≥ 0.95× gemm on the MLP shapes and squares, ≥ 85% of peak on 64x784x128, 128x64x784 and the squares ≥ 256)");
    let narrow_col = if narrow.is_some() {
        " descent f32x8 |"
    } else {
        ""
    };
    println!("| shape | peak | descent |{narrow_col} matrixmultiply | gemm | descent / mm | descent / gemm | descent / peak |");
    println!(
        "|---|---|---|{}---|---|---|---|---|",
        if narrow.is_some() { "---|" } else { "" }
    );
    let shapes = MLP_SHAPES
        .iter()
        .copied()
        .chain(SQUARES.iter().map(|&s| (s, s, s)));
    let mut plain = Vec::new();
    for (m, k, n) in shapes {
        let (peak, ours) = interleaved_plain(narrow.as_ref(), m, k, n, 0);
        plain.push(((m, k, n), peak, ours));
    }
    // The MLP's forward layer as it runs: relu(X·Wᵀ + b) with W stored
    // [out, in], so B is a transposed view. The baselines compute X·Wᵀ
    // only (no bias, no ReLU), so the ratios slightly favour them.
    let (m, k, n) = (64, 784, 128);
    let x = random(m * k, 3);
    let w = random(n * k, 4);
    let bias = random(n, 5);
    let mut y = AlignedVec::zeros(m * n);
    let linear = |cfg: &Config, y: &mut AlignedVec| {
        let xv = MatRef::row_major(black_box(&x), m, k).unwrap();
        let wt = MatRef::row_major(black_box(&w), n, k).unwrap().t();
        let yv = MatMut::row_major(y, m, n).unwrap();
        // A serial context forced to `cfg` (a copy of a few words).
        matmul(
            &Compute::serial().with_gemm(*cfg),
            1.0,
            xv,
            wt,
            0.0,
            yv,
            Epilogue::bias_relu(&bias),
        )
        .unwrap();
    };
    let mut y2 = AlignedVec::zeros(m * n);
    let mut y3 = AlignedVec::zeros(m * n);
    let mut y4 = AlignedVec::zeros(m * n);
    let _ = interleaved_row(
        &format!("{m}x{k}x{n} relu(X·Wᵀ + b)"),
        (2 * m * k * n) as f64,
        &mut || linear(&native, &mut y),
        narrow.map(|cfg| Box::new(move || linear(&cfg, &mut y4)) as Box<dyn FnMut()>),
        &mut || mm_sgemm(m, k, n, black_box(&x), black_box(&w), true, &mut y2),
        &mut || gemm_crate(m, k, n, black_box(&x), black_box(&w), true, &mut y3),
    );
    for (m, k, n) in [MLP_SHAPES[0], MLP_SHAPES[3]] {
        let _ = interleaved_plain(narrow.as_ref(), m, k, n, OFF_LINE);
    }
    openblas(&plain);
    guard(floor);
}

/// `DESCENT_BENCH_MIN_VS_MM` as a ratio, if set; exits with status 2,
/// before the table's minute of timing, if it is not a positive number.
fn guard_floor() -> Option<f64> {
    let floor = std::env::var("DESCENT_BENCH_MIN_VS_MM").ok()?;
    match floor.parse() {
        Ok(r) if r > 0.0 => Some(r),
        _ => {
            eprintln!("DESCENT_BENCH_MIN_VS_MM={floor:?}: expected a positive ratio, such as 0.9");
            std::process::exit(2);
        }
    }
}

/// Every row's descent / matrixmultiply, as [`interleaved_row`] printed it.
static VS_MM: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());

/// With `DESCENT_BENCH_MIN_VS_MM=r` set (CI sets it): exits with status 1
/// when a row's descent / matrixmultiply is below `r`, naming the rows.
///
/// A tripwire, not the target (≥ 1.0×): a floor well below the ratios every
/// machine so far has shown (1.05–2.2×), so that a noisy host does not trip
/// it, while a kernel that loses its registers (a change once cost every
/// GEMM 45% and passed every test) does.
fn guard(floor: Option<f64>) {
    let Some(floor) = floor else {
        return;
    };
    let rows = VS_MM.lock().unwrap();
    let low: Vec<_> = rows.iter().filter(|(_, r)| *r < floor).collect();
    println!();
    if low.is_empty() {
        println!(
            "guard: descent / matrixmultiply ≥ {floor} on all {} rows",
            rows.len()
        );
        return;
    }
    for (label, r) in &low {
        eprintln!("guard: {label}: descent / matrixmultiply {r:.2}× < {floor}");
    }
    std::process::exit(1);
}

/// OpenBLAS through numpy, one thread, on the same shapes, timed by
/// `scripts/openblas-gemm.py` right after descent's rows (the same run,
/// not sample by sample: it is another process). `$PYTHON` (default
/// `python3`) must have numpy and threadpoolctl; OPENBLAS_CORETYPE and
/// OPENBLAS_L2_SIZE are removed from its environment so OpenBLAS picks its
/// kernel for this CPU. Without them the table is skipped, saying why.
fn openblas(rows: &[((usize, usize, usize), f64, f64)]) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/openblas-gemm.py");
    let shapes: Vec<String> = rows
        .iter()
        .map(|((m, k, n), _, _)| format!("{m}x{k}x{n}"))
        .collect();
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg("101")
        .args(&shapes)
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output();
    let text = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            println!(
                "\nOpenBLAS baseline skipped: {python} {script} failed (numpy and threadpoolctl needed; set PYTHON): {}",
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            );
            return;
        }
        Err(e) => {
            println!("\nOpenBLAS baseline skipped: cannot run {python}: {e}");
            return;
        }
    };
    let mut lines = text.lines();
    let blas = lines.next().unwrap_or("blas ?");
    println!();
    println!(
        "OpenBLAS through numpy, one thread ({}), timed right after; descent's figures from the table above",
        blas.trim_start_matches("blas ")
    );
    println!("(target: descent ≥ 1.0× OpenBLAS on every shape on the AVX2 kernel)");
    println!("| shape | peak | descent | OpenBLAS | descent / OpenBLAS |");
    println!("|---|---|---|---|---|");
    for (line, ((m, k, n), peak, ours)) in lines.zip(rows) {
        let theirs: f64 = line
            .split_whitespace()
            .nth(3)
            .and_then(|g| g.parse().ok())
            .unwrap_or(f64::NAN);
        println!(
            "| {m}x{k}x{n} | {peak:.1} | {ours:.1} | {theirs:.1} | {:.2}× |",
            ours / theirs
        );
    }
}

/// One row of the table for `C = A·B`, `m × k × n`, every operand starting
/// `off` floats past a cache line; descent runs the configuration `gemm`
/// picks for the shape ([`Config::for_cols`]).
fn interleaved_plain(
    narrow: Option<&Config>,
    m: usize,
    k: usize,
    n: usize,
    off: usize,
) -> (f64, f64) {
    let a = random(m * k + off, 1);
    let b = random(k * n + off, 2);
    let (a, b) = (&a[off..], &b[off..]);
    let mut cs: Vec<AlignedVec> = (0..4).map(|_| AlignedVec::zeros(m * n + off)).collect();
    let [c1, c2, c3, c4] = &mut cs[..] else {
        unreachable!()
    };
    let label = match off {
        0 => format!("{m}x{k}x{n}"),
        _ => format!("{m}x{k}x{n}, operands {} B past a line", 4 * off),
    };
    let ours = |cfg: &Config, c: &mut [f32]| {
        let av = MatRef::row_major(black_box(a), m, k).unwrap();
        let bv = MatRef::row_major(black_box(b), k, n).unwrap();
        let cv = MatMut::row_major(&mut c[off..], m, n).unwrap();
        // A serial context forced to `cfg` (a copy of a few words).
        matmul(
            &Compute::serial().with_gemm(*cfg),
            1.0,
            av,
            bv,
            0.0,
            cv,
            Epilogue::None,
        )
        .unwrap();
    };
    interleaved_row(
        &label,
        (2 * m * k * n) as f64,
        &mut || ours(Config::for_cols(n), c1),
        narrow.map(|cfg| Box::new(|| ours(cfg, c4)) as Box<dyn FnMut()>),
        &mut || mm_sgemm(m, k, n, black_box(a), black_box(b), false, &mut c2[off..]),
        &mut || gemm_crate(m, k, n, black_box(a), black_box(b), false, &mut c3[off..]),
    )
}

/// Times `ours` (and `narrow`, descent's f32x8 kernel, if given), `mm`
/// (matrixmultiply) and `gm` (the gemm crate), each `flop` FLOP a call,
/// interleaved with the widest peak loop, and prints one row of the table.
fn interleaved_row(
    label: &str,
    flop: f64,
    ours: &mut dyn FnMut(),
    mut narrow: Option<Box<dyn FnMut() + '_>>,
    mm: &mut dyn FnMut(),
    gm: &mut dyn FnMut(),
) -> (f64, f64) {
    // The widest width this build has in registers: what "% of peak" means.
    let peak_call = || {
        black_box(peak_once::<Wide>());
    };
    let peak_flop = fma_peak_flop::<Wide>(PEAK_ITERS) as f64;
    // Repetitions that make each sample ~0.5 ms, and rounds that keep a
    // row to ~2 s.
    ours();
    mm();
    gm();
    if let Some(f) = narrow.as_mut() {
        f();
    }
    let one = time_secs(3, &mut *ours).max(1e-9);
    let reps = ((5e-4 / one) as usize).max(1);
    let peak_reps = ((5e-4 / time_secs(3, peak_call).max(1e-9)) as usize).max(1);
    let calls = if narrow.is_some() { 5.0 } else { 4.0 };
    let rounds = ((2.0 / (calls * one * reps as f64)) as usize).clamp(15, 1001);
    let mut t: [Vec<f64>; 5] = Default::default();
    for _ in 0..rounds {
        t[0].push(time_secs(peak_reps, peak_call));
        t[1].push(time_secs(reps, &mut *ours));
        t[2].push(time_secs(reps, &mut *mm));
        t[3].push(time_secs(reps, &mut *gm));
        if let Some(f) = narrow.as_mut() {
            t[4].push(time_secs(reps, &mut **f));
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let gp = peak_flop / med(&mut t[0]) / 1e9;
    let go = flop / med(&mut t[1]) / 1e9;
    let gmm = flop / med(&mut t[2]) / 1e9;
    let ggm = flop / med(&mut t[3]) / 1e9;
    let narrow_col = if t[4].is_empty() {
        String::new()
    } else {
        format!(" {:.1} |", flop / med(&mut t[4]) / 1e9)
    };
    VS_MM.lock().unwrap().push((label.to_string(), go / gmm));
    println!(
        "| {label} | {gp:.1} | {go:.1} |{narrow_col} {gmm:.1} | {ggm:.1} | {:.2}× | {:.2}× | {:.1}% |",
        go / gmm,
        go / ggm,
        100.0 * go / gp
    );
    (gp, go)
}

criterion_group!(matmul_benches, benches);
criterion_main!(matmul_benches);
