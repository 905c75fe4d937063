//! GEMM throughput: descent's BLIS-style kernel against matrixmultiply (the
//! baseline) and a naive triple loop (small shapes), on the MNIST MLP's
//! shapes at batch 64 and on squares, plus `peak`: the machine's FMA
//! ceiling measured in the same run.
//!
//! Throughput is `2·m·k·n` elements, so criterion's "elem/s" is FLOP/s.
//! Run: `cargo bench --bench matmul` (add `-- descent` to filter).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use descent::tensor::simd::F32x8;
use descent::tensor::{gemm, gemm_naive, Epilogue, MatMut, MatRef};
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

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
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
    let mut cbuf = vec![0.0f32; m * n];
    group.bench_function(BenchmarkId::new("descent", &id), |bench| {
        bench.iter(|| {
            let av = MatRef::row_major(black_box(&a), m, k).unwrap();
            let bv = MatRef::row_major(black_box(&b), k, n).unwrap();
            let cv = MatMut::row_major(&mut cbuf, m, n).unwrap();
            gemm(1.0, av, bv, 0.0, cv, Epilogue::None).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("matrixmultiply", &id), |bench| {
        bench.iter(|| unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                black_box(a.as_ptr()),
                k as isize,
                1,
                black_box(b.as_ptr()),
                n as isize,
                1,
                0.0,
                cbuf.as_mut_ptr(),
                n as isize,
                1,
            )
        })
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
    let mut y = vec![0.0f32; m * n];
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

fn bench_peak(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.throughput(Throughput::Elements((PEAK_ITERS * CHAINS * 8 * 2) as u64));
    group.bench_function("peak", |bench| {
        bench.iter(|| {
            // x slightly below 1 keeps the chains finite and non-denormal.
            let acc = peak_fma(
                black_box(PEAK_ITERS),
                black_box(F32x8::splat(0.999)),
                black_box(F32x8::splat(1e-3)),
            );
            black_box(acc)
        })
    });
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
}

criterion_group!(matmul, benches);
criterion_main!(matmul);
