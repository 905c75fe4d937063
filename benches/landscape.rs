//! The network's loss surface (`descent landscape --model`): a grid of
//! forward passes of the MNIST MLP 784-128-64-10 around one model, on
//! 10 000 examples, against this machine's roofline measured in the same
//! run.
//!
//! - `landscape/grid11x11/n10000/threads=T` (criterion): 121 points, the
//!   per-point cost of any grid, on T = 1 and every core.
//! - Then, on each thread count, the case, a 41 × 41 grid on
//!   10 000 examples, timed three times: the median against the roofline
//!   floor of its schedule (its FLOPs at the FMA peak of those threads, the
//!   larger of their peak measured at once and T × one core's,
//!   plus each stream's bytes at the triad bandwidth of the level its
//!   working set fits; target ≤ 1.5×), and against the same points
//!   evaluated without the linear trick (each point's own first-layer
//!   GEMM, eight points stacked per GEMM), which says what the trick saves.
//!
//! The inputs and weights are random: the work of a dense forward pass
//! does not depend on the values.
//!
//! Run: `cargo bench --bench landscape -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use descent::nn::{Activation, Mlp};
use descent::profile::roof;
use descent::tensor::gemm::blocking::Caches;
use descent::tensor::Compute;
use descent::train::landscape::{
    filter_normalised, measure, Examples, Measured, Slice, SliceCost, SliceOptions,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 4] = [784, 128, 64, 10];
const N: usize = 10_000;

struct Case {
    net: Mlp,
    x: Vec<f32>,
    y: Vec<u32>,
    d1: Vec<f32>,
    d2: Vec<f32>,
}

fn case() -> Case {
    let net = Mlp::new(&SIZES, Activation::Relu, 0).unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let x = (0..N * SIZES[0]).map(|_| r.random::<f32>() - 0.5).collect();
    let y = (0..N).map(|i| (i % 10) as u32).collect();
    let d1 = filter_normalised(net.layout(), net.params(), 0, 1, false).unwrap();
    let d2 = filter_normalised(net.layout(), net.params(), 0, 2, false).unwrap();
    Case { net, x, y, d1, d2 }
}

fn grid(g: usize) -> Vec<f32> {
    let h = (g / 2) as f32;
    let xs: Vec<f32> = (0..g).map(|i| (i as f32 - h) / h).collect();
    xs.iter()
        .flat_map(|&b| xs.iter().flat_map(move |&a| [a, b]))
        .collect()
}

fn surface(c: &Case, cx: &Compute, coeffs: &[f32], opts: SliceOptions) -> Vec<Measured> {
    let slice = Slice {
        origin: Some(c.net.params()),
        dirs: vec![&c.d1, &c.d2],
    };
    let ex = Examples {
        x: &c.x,
        labels: &c.y,
    };
    measure(cx, &c.net, &slice, coeffs, ex, opts).unwrap()
}

/// The same points without the linear trick: each point's whole weights,
/// eight stacked per first-layer GEMM.
fn direct(c: &Case, cx: &Compute, coeffs: &[f32], caches: &Caches) -> Vec<Measured> {
    let points: Vec<Vec<f32>> = coeffs
        .chunks(2)
        .map(|ab| {
            let mut w = c.net.params().to_vec();
            for ((v, &d1), &d2) in w.iter_mut().zip(&c.d1).zip(&c.d2) {
                *v += ab[0] * d1 + ab[1] * d2;
            }
            w
        })
        .collect();
    let ex = Examples {
        x: &c.x,
        labels: &c.y,
    };
    let mut out = Vec::new();
    for group in points.chunks(8) {
        let g = group.len();
        let slice = Slice {
            origin: None,
            dirs: group.iter().map(Vec::as_slice).collect(),
        };
        let unit: Vec<f32> = (0..g * g)
            .map(|i| if i / g == i % g { 1.0 } else { 0.0 })
            .collect();
        let opts = SliceOptions::for_net(caches, &SIZES, g, N, cx.thread_count());
        out.extend(measure(cx, &c.net, &slice, &unit, ex, opts).unwrap());
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn benches(c: &mut Criterion) {
    let case = case();
    let caches = Caches::detect();

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1];
    if cores > 1 {
        counts.push(cores);
    }
    let small = grid(11);
    let mut group = c.benchmark_group("landscape");
    group.sample_size(10);
    group.throughput(Throughput::Elements(121));
    for &t in &counts {
        let cx = Compute::threads(t);
        let opts = SliceOptions::for_net(&caches, &SIZES, 3, N, t);
        group.bench_function(format!("grid11x11/n{N}/threads={t}"), |b| {
            b.iter(|| black_box(surface(&case, &cx, black_box(&small), opts)))
        });
    }
    group.finish();

    let big = grid(41);
    println!(
        "landscape: 41×41 grid, {N} examples, 784-128-64-10 ({})",
        caches.describe()
    );
    for &t in &counts {
        let cx = Compute::threads(t);
        let opts = SliceOptions::for_net(&caches, &SIZES, 3, N, t);
        let roofs = roof::measure(cx.pool(), &caches, 9);
        let peak = roof::peak_of_cores(roofs.peak(), t, 9);
        let secs = median(
            (0..3)
                .map(|_| {
                    let s = Instant::now();
                    black_box(surface(&case, &cx, &big, opts));
                    s.elapsed().as_secs_f64()
                })
                .collect(),
        );
        let cost = SliceCost::of(&SIZES, (true, 2), 41 * 41, N, opts, t);
        let streams = cost.streams.iter().map(|s| (s.bytes, s.working_set));
        let (compute, memory) = roofs.floor(cost.flops, peak, streams);
        let floor = compute + memory;
        // Without the trick: one row of the grid (41 points) is enough to
        // price a point.
        let row = &big[..2 * 41];
        let direct_secs = median(
            (0..3)
                .map(|_| {
                    let s = Instant::now();
                    black_box(direct(&case, &cx, row, &caches));
                    s.elapsed().as_secs_f64()
                })
                .collect(),
        ) / 41.0
            * (41.0 * 41.0);
        println!(
            "landscape threads={t}, chunks of {} rows: {secs:.3} s = {:.0} points/s, {:.1} GFLOP/s, {:.0}% of the {:.1} GFLOP/s peak; \
             roofline floor {floor:.3} s ({compute:.3} compute + {memory:.3} memory): {:.2}× the floor (target ≤ 1.5×); \
             without the linear trick {direct_secs:.2} s ({:.1}× the FLOPs, {:.1}× the time)",
            opts.chunk_rows,
            1681.0 / secs,
            cost.flops / secs / 1e9,
            100.0 * cost.flops / secs / 1e9 / peak,
            peak,
            secs / floor,
            cost.direct_flops / cost.flops,
            direct_secs / secs
        );
    }
}

criterion_group!(landscape, benches);
criterion_main!(landscape);
