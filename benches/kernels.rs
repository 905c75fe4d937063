//! Elementwise and reduction kernels against their scalar twins, on one
//! length that stays in L1/L2 (16 Ki floats, a hidden layer's activations at
//! batch 128) and the MLP's gradient length (109 386), plus the fused
//! softmax + cross-entropy on the MLP's logits (64 × 10 and 1000 × 10).
//!
//! Throughput is the bytes each kernel reads and writes, so criterion's
//! rate is comparable with the `memory/*` figures here and in the optim
//! bench.
//!
//! `kernels/memory/{copy,triad}/{L1,L2,L3,DRAM}` are the bandwidth roofs
//! `descent profile` measures (`descent::profile::roof`'s `copy` and `triad`
//! on its per-level working sets), on one thread.
//!
//! Run: `cargo bench --bench kernels`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use descent::profile::roof;
use descent::tensor::simd::Wide;
use descent::tensor::{ops, AlignedVec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LENGTHS: [usize; 2] = [16_384, 109_386];

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels");
    for &n in &LENGTHS {
        let x = random(n, 1);
        let mut y = random(n, 2);
        let mut out = vec![0.0f32; n];
        // axpy reads x and y and writes y: 12 bytes per element.
        g.throughput(Throughput::Bytes(12 * n as u64));
        g.bench_function(BenchmarkId::new("axpy/simd", n), |b| {
            b.iter(|| ops::axpy::<Wide>(black_box(1e-3), black_box(&x), &mut y))
        });
        g.bench_function(BenchmarkId::new("axpy/scalar", n), |b| {
            b.iter(|| ops::axpy_scalar(black_box(1e-3), black_box(&x), &mut y))
        });
        g.bench_function(BenchmarkId::new("add/simd", n), |b| {
            b.iter(|| ops::add::<Wide>(black_box(&x), black_box(&y), &mut out))
        });
        g.bench_function(BenchmarkId::new("add/scalar", n), |b| {
            b.iter(|| ops::add_scalar(black_box(&x), black_box(&y), &mut out))
        });
        g.throughput(Throughput::Bytes(12 * n as u64));
        g.bench_function(BenchmarkId::new("relu_backward/simd", n), |b| {
            b.iter(|| ops::relu_backward::<Wide>(black_box(&x), &mut y))
        });
        g.bench_function(BenchmarkId::new("relu_backward/scalar", n), |b| {
            b.iter(|| ops::relu_backward_scalar(black_box(&x), &mut y))
        });
        // Reductions read 4 bytes per element.
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_function(BenchmarkId::new("sum_squares/simd", n), |b| {
            b.iter(|| ops::sum_squares::<Wide>(black_box(&x)))
        });
        g.bench_function(BenchmarkId::new("sum_squares/scalar", n), |b| {
            b.iter(|| ops::sum_squares_scalar(black_box(&x)))
        });
        g.bench_function(BenchmarkId::new("max/simd", n), |b| {
            b.iter(|| ops::max(black_box(&x)))
        });
        g.bench_function(BenchmarkId::new("max/scalar", n), |b| {
            b.iter(|| ops::max_scalar(black_box(&x)))
        });
    }
    g.finish();
}

fn column_sums(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels");
    // The bias gradient of the first layer: Σ over 64 rows of 128 columns.
    let (rows, cols) = (64, 128);
    let x = random(rows * cols, 3);
    let mut out = vec![0.0f32; cols];
    g.throughput(Throughput::Bytes(4 * (rows * cols) as u64));
    let id = format!("{rows}x{cols}");
    g.bench_function(BenchmarkId::new("col_sums/simd", &id), |b| {
        b.iter(|| ops::col_sums_acc(black_box(&x), rows, cols, &mut out))
    });
    g.bench_function(BenchmarkId::new("col_sums/scalar", &id), |b| {
        b.iter(|| ops::col_sums_acc_scalar(black_box(&x), rows, cols, &mut out))
    });
    g.finish();
}

fn softmax_ce(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels");
    for rows in [64usize, 1000] {
        let cols = 10;
        let z: Vec<f32> = random(rows * cols, 4).iter().map(|v| 8.0 * v).collect();
        let labels: Vec<u32> = (0..rows as u32).map(|i| i % 10).collect();
        let mut dz = vec![0.0f32; rows * cols];
        // Reads the logits and writes their gradient.
        g.throughput(Throughput::Bytes(8 * (rows * cols) as u64));
        let id = format!("{rows}x{cols}");
        g.bench_function(BenchmarkId::new("softmax_ce/simd", &id), |b| {
            b.iter(|| ops::softmax_cross_entropy(black_box(&z), &labels, cols, &mut dz).unwrap())
        });
        g.bench_function(BenchmarkId::new("softmax_ce/scalar", &id), |b| {
            b.iter(|| {
                ops::softmax_cross_entropy_scalar(black_box(&z), &labels, cols, &mut dz).unwrap()
            })
        });
    }
    g.finish();
}

fn memory(c: &mut Criterion) {
    let caches = descent::tensor::gemm::blocking::Caches::detect();
    let mut g = c.benchmark_group("kernels/memory");
    for (level, _, bytes) in roof::working_sets(&caches, 1) {
        let n = bytes / 12;
        if n > 1 << 22 {
            g.sample_size(10);
        }
        // On cache lines, as the profile's arrays are: a plain Vec starts
        // 16 bytes past one, and then every 64-byte load straddles two
        // lines, which halves the L1 figure on an AVX-512 machine.
        let aligned = |v: Vec<f32>| -> AlignedVec { v.into_iter().collect() };
        let (b, cc) = (aligned(random(n, 3)), aligned(random(n, 4)));
        let mut a = AlignedVec::zeros(n);
        g.throughput(Throughput::Bytes((roof::COPY_BYTES * n) as u64));
        g.bench_function(BenchmarkId::new("copy", level), |bench| {
            bench.iter(|| roof::copy(black_box(&mut a), black_box(&b)))
        });
        g.throughput(Throughput::Bytes((roof::TRIAD_BYTES * n) as u64));
        g.bench_function(BenchmarkId::new("triad", level), |bench| {
            bench.iter(|| roof::triad(black_box(&mut a), black_box(&b), black_box(&cc), 0.5))
        });
    }
    g.finish();
}

criterion_group!(kernels, elementwise, column_sums, softmax_ce, memory);
criterion_main!(kernels);
