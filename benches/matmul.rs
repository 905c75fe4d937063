//! GEMM throughput: descent's BLIS-style kernel against matrixmultiply (the
//! baseline) and a naive triple loop (small shapes), on the MNIST MLP's
//! shapes at batch 64 and on squares, plus `peak`: the machine's FMA
//! ceiling measured in the same run.
//!
//! Throughput is `2·m·k·n` elements, so criterion's "elem/s" is FLOP/s.
//! Run: `cargo bench --bench matmul` (add `-- descent` to filter). At the
//! end a table of ratios (descent / matrixmultiply, descent / peak) from
//! interleaved samples, which a shared, noisy machine disturbs far less
//! than criterion's one-benchmark-after-another figures.
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
use descent::tensor::simd::F32x8;
use descent::tensor::{gemm, gemm_naive, AlignedVec, Epilogue, MatMut, MatRef};
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
            gemm(1.0, av, bv, 0.0, cv, Epilogue::None).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("matrixmultiply", &id), |bench| {
        bench.iter(|| mm_sgemm(m, k, n, black_box(&a), black_box(&b), false, &mut cbuf))
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
                gemm(1.0, xv, wt, 0.0, yv, Epilogue::bias_relu(&bias)).unwrap();
            })
        },
    );
    group.finish();
}

/// Iterations of the peak loop per benchmark call.
const PEAK_ITERS: usize = 4096;
/// Independent accumulator chains: FMA latency (4–5 cycles) × 2 pipes ≤ 12,
/// and 12 registers leave room for the multiplier and addend.
const CHAINS: usize = 12;

/// `CHAINS` independent `acc ← acc·x + y` FMA chains held in registers:
/// the highest f32 FLOP rate one core reaches with this build's SIMD.
fn peak_fma(iters: usize, x: F32x8, y: F32x8) -> [F32x8; CHAINS] {
    let mut acc: [F32x8; CHAINS] = std::array::from_fn(|i| F32x8::splat(i as f32 * 1e-3));
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(x, y);
        }
    }
    acc
}

/// One call of the peak loop as both benches time it: x slightly below 1
/// keeps the chains finite and non-denormal.
fn peak_once() -> [F32x8; CHAINS] {
    peak_fma(
        black_box(PEAK_ITERS),
        black_box(F32x8::splat(0.999)),
        black_box(F32x8::splat(1e-3)),
    )
}

fn bench_peak(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.throughput(Throughput::Elements((PEAK_ITERS * CHAINS * 8 * 2) as u64));
    group.bench_function("peak", |bench| bench.iter(|| black_box(peak_once())));
    group.finish();
}

fn benches(c: &mut Criterion) {
    println!("descent SIMD build: {}", descent::tensor::simd::describe());
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
/// round times ~0.5 ms of peak, of descent and of matrixmultiply back to
/// back, so all three see the same machine; the medians over the rounds
/// give the ratios the targets are stated in.
fn interleaved_ratios() {
    println!();
    println!("interleaved medians (GFLOP/s; targets: descent ≥ 1.0× matrixmultiply on every shape, ≥ 90% of peak on 64x784x128, 128x64x784 and the squares)");
    println!("| shape | peak | descent | matrixmultiply | descent / mm | descent / peak |");
    println!("|---|---|---|---|---|---|");
    let shapes = MLP_SHAPES
        .iter()
        .copied()
        .chain(SQUARES.iter().map(|&s| (s, s, s)));
    for (m, k, n) in shapes {
        interleaved_plain(m, k, n, 0);
    }
    // The MLP's forward layer as it runs: relu(X·Wᵀ + b) with W stored
    // [out, in], so B is a transposed view. matrixmultiply computes X·Wᵀ
    // only (no bias, no ReLU), so the ratio slightly favours it.
    let (m, k, n) = (64, 784, 128);
    let x = random(m * k, 3);
    let w = random(n * k, 4);
    let bias = random(n, 5);
    let mut y1 = AlignedVec::zeros(m * n);
    let mut y2 = AlignedVec::zeros(m * n);
    interleaved_row(
        &format!("{m}x{k}x{n} relu(X·Wᵀ + b)"),
        (2 * m * k * n) as f64,
        &mut || {
            let xv = MatRef::row_major(black_box(&x), m, k).unwrap();
            let wt = MatRef::row_major(black_box(&w), n, k).unwrap().t();
            let yv = MatMut::row_major(&mut y1, m, n).unwrap();
            gemm(1.0, xv, wt, 0.0, yv, Epilogue::bias_relu(&bias)).unwrap();
        },
        &mut || mm_sgemm(m, k, n, black_box(&x), black_box(&w), true, &mut y2),
    );
    for (m, k, n) in [MLP_SHAPES[0], MLP_SHAPES[3]] {
        interleaved_plain(m, k, n, OFF_LINE);
    }
}

/// One row of the table for `C = A·B`, `m × k × n`, every operand starting
/// `off` floats past a cache line.
fn interleaved_plain(m: usize, k: usize, n: usize, off: usize) {
    let a = random(m * k + off, 1);
    let b = random(k * n + off, 2);
    let (a, b) = (&a[off..], &b[off..]);
    let mut c1 = AlignedVec::zeros(m * n + off);
    let mut c2 = AlignedVec::zeros(m * n + off);
    let label = match off {
        0 => format!("{m}x{k}x{n}"),
        _ => format!("{m}x{k}x{n}, operands {} B past a line", 4 * off),
    };
    interleaved_row(
        &label,
        (2 * m * k * n) as f64,
        &mut || {
            let av = MatRef::row_major(black_box(a), m, k).unwrap();
            let bv = MatRef::row_major(black_box(b), k, n).unwrap();
            let cv = MatMut::row_major(&mut c1[off..], m, n).unwrap();
            gemm(1.0, av, bv, 0.0, cv, Epilogue::None).unwrap();
        },
        &mut || mm_sgemm(m, k, n, black_box(a), black_box(b), false, &mut c2[off..]),
    );
}

/// Times `ours` and `theirs` (each `flop` FLOP a call) interleaved with the
/// peak loop and prints one row of the table.
fn interleaved_row(label: &str, flop: f64, ours: &mut dyn FnMut(), theirs: &mut dyn FnMut()) {
    let peak_call = || {
        black_box(peak_once());
    };
    let peak_flop = (PEAK_ITERS * CHAINS * 8 * 2) as f64;
    // Repetitions that make each sample ~0.5 ms, and rounds that keep a
    // row to ~1.5 s.
    ours();
    theirs();
    let one = time_secs(3, &mut *ours).max(1e-9);
    let reps = ((5e-4 / one) as usize).max(1);
    let peak_reps = ((5e-4 / time_secs(3, peak_call).max(1e-9)) as usize).max(1);
    let rounds = ((1.5 / (3.0 * one * reps as f64)) as usize).clamp(15, 1001);
    let (mut tp, mut to, mut tt) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        tp.push(time_secs(peak_reps, peak_call));
        to.push(time_secs(reps, &mut *ours));
        tt.push(time_secs(reps, &mut *theirs));
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (gp, go, gt) = (
        peak_flop / med(&mut tp) / 1e9,
        flop / med(&mut to) / 1e9,
        flop / med(&mut tt) / 1e9,
    );
    println!(
        "| {label} | {gp:.1} | {go:.1} | {gt:.1} | {:.2}× | {:.1}% |",
        go / gt,
        100.0 * go / gp
    );
}

criterion_group!(matmul, benches);
criterion_main!(matmul);
