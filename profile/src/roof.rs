//! The machine's own limits, measured: the FMA peak at every SIMD width the
//! CPU has in registers, and the streaming bandwidth (copy and triad) at
//! working sets that live in L1, L2, L3 and DRAM. These are the roofs of a
//! roofline: a kernel of arithmetic intensity `I` FLOP/byte whose data
//! streams from level `ℓ` can reach at most `min(peak, I · bandwidth_ℓ)`.
//!
//! A third roof bounds the optimizers whose update takes square roots and
//! divides (Adam's `m / (√v·c + ε)`, RMSprop's, AdaGrad's): one core has one
//! divider, which does both, a vector every several cycles, far below the
//! FMA peak. [`divider_loop`] measures how many it retires a second.
//!
//! The functions timed here are the ones the criterion benches time
//! (`fma_peak` in `matmul`'s `peak/*`, [`copy`] and [`triad`] in
//! `kernels`' `memory/*`), so a profile's roofs and the benches agree.
//!
//! On `threads` threads every thread runs the same loop at once: the FMA
//! peak then counts every core, and L1 and L2 (private to a core) get a
//! working set per thread, L3 and DRAM (shared) one working set split
//! between the threads.

use std::hint::black_box;
use std::time::Instant;

use descent_core::gemm::blocking::Caches;
use descent_core::par::{self, Pool};
use descent_core::simd::{self, fma_peak, fma_peak_flop, F32x16, F32x4, F32x8, Vector, Wide};
use serde::Serialize;

/// Bytes [`copy`] moves per element: 4 read, 4 written (the
/// write-allocate read of the destination line is not counted, as STREAM
/// does not count it).
pub const COPY_BYTES: usize = 8;
/// Bytes [`triad`] moves per element: 8 read, 4 written.
pub const TRIAD_BYTES: usize = 12;

/// `dst[i] = src[i]`, one [`Wide`] vector at a time (the tail scalar).
///
/// # Panics
/// If the lengths differ.
pub fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy: lengths differ");
    let n = dst.len();
    let lanes = <Wide as Vector>::LANES;
    let mut i = 0;
    while i + lanes <= n {
        simd::store::<Wide>(dst, i, simd::load::<Wide>(src, i));
        i += lanes;
    }
    copy_scalar(&mut dst[i..], &src[i..]);
}

/// Scalar twin of [`copy`].
pub fn copy_scalar(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// STREAM's triad, `a[i] = b[i] + s·c[i]`, one [`Wide`] vector at a time
/// (one fused multiply-add per element where the build has FMA).
///
/// # Panics
/// If the lengths differ.
pub fn triad(a: &mut [f32], b: &[f32], c: &[f32], s: f32) {
    assert!(
        a.len() == b.len() && b.len() == c.len(),
        "triad: lengths differ"
    );
    let n = a.len();
    let lanes = <Wide as Vector>::LANES;
    let sv = Wide::splat(s);
    let mut i = 0;
    while i + lanes <= n {
        let v = simd::load::<Wide>(c, i).mul_add(sv, simd::load::<Wide>(b, i));
        simd::store::<Wide>(a, i, v);
        i += lanes;
    }
    triad_scalar(&mut a[i..], &b[i..], &c[i..], s);
}

/// Scalar twin of [`triad`] (`mul_add`, so the bits match the SIMD form
/// where the build has FMA).
pub fn triad_scalar(a: &mut [f32], b: &[f32], c: &[f32], s: f32) {
    for ((a, &b), &c) in a.iter_mut().zip(b).zip(c) {
        *a = c.mul_add(s, b);
    }
}

/// The FMA peak at one SIMD width.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Peak {
    /// `f32x4`, `f32x8` or `f32x16`.
    pub width: &'static str,
    /// f32 lanes per vector.
    pub lanes: usize,
    /// GFLOP/s on all the threads together (a fused multiply-add is 2).
    pub gflops: f64,
}

/// The streaming bandwidth at one level of the memory hierarchy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bandwidth {
    /// `L1`, `L2`, `L3` or `DRAM`.
    pub level: &'static str,
    /// What the level holds, all threads together, in bytes (`usize::MAX`
    /// for DRAM).
    pub capacity: usize,
    /// The working set of one pass, all threads together, in bytes (the
    /// triad's three arrays).
    pub bytes: usize,
    /// [`copy`] bandwidth, GB/s ([`COPY_BYTES`] per element).
    pub copy_gbs: f64,
    /// [`triad`] bandwidth, GB/s ([`TRIAD_BYTES`] per element).
    pub triad_gbs: f64,
}

/// Every roof of this machine on some number of threads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Roofs {
    /// Threads that ran each loop at once.
    pub threads: usize,
    /// The FMA peak per SIMD width, narrowest first.
    pub peaks: Vec<Peak>,
    /// Bandwidth per level, L1 first.
    pub bandwidth: Vec<Bandwidth>,
    /// Square roots and divides per second on every thread together, in
    /// billions of f32 lanes, at the width the optimizers' kernels run on
    /// ([`Wide`]): [`divider_loop`]'s rate.
    pub divider_gops: f64,
}

impl Roofs {
    /// The highest FMA peak (the widest vector's), GFLOP/s.
    pub fn peak(&self) -> f64 {
        self.peaks.iter().map(|p| p.gflops).fold(0.0, f64::max)
    }

    /// The smallest level that holds `bytes` (DRAM if none does): where
    /// data of that size streams from when it is reused from one step to
    /// the next.
    pub fn level_for(&self, bytes: usize) -> &Bandwidth {
        self.bandwidth
            .iter()
            .find(|b| bytes <= b.capacity)
            .or(self.bandwidth.last())
            .expect("roofs measured with at least one level")
    }

    /// The roofline floor of a schedule, seconds, as `(compute, memory)`:
    /// its `flops` at `peak` GFLOP/s, and each stream of `(bytes, working
    /// set)` at the triad bandwidth of the smallest level that holds the
    /// working set ([`Roofs::level_for`]), one after the other.
    pub fn floor(
        &self,
        flops: f64,
        peak: f64,
        streams: impl IntoIterator<Item = (f64, usize)>,
    ) -> (f64, f64) {
        let memory = streams
            .into_iter()
            .map(|(bytes, set)| bytes / (self.level_for(set).triad_gbs * 1e9))
            .sum();
        (flops / (peak * 1e9), memory)
    }

    /// The least time `divides` square roots and divides (f32 lanes) take on
    /// the divider, seconds (0 for none).
    pub fn divider_floor(&self, divides: f64) -> f64 {
        if divides > 0.0 {
            divides / (self.divider_gops * 1e9)
        } else {
            0.0
        }
    }

    /// The roofline at intensity `flop_per_byte` for data from `level`:
    /// `min(peak, intensity · triad bandwidth)`, GFLOP/s.
    pub fn attainable(&self, flop_per_byte: f64, level: &Bandwidth) -> f64 {
        self.peak().min(flop_per_byte * level.triad_gbs)
    }
}

/// The SIMD widths this build has in registers: f32x4 and f32x8 always
/// (with AVX, f32x8 is one register), f32x16 with AVX-512F (without it, it
/// is two f32x8 halves and has f32x8's peak, so it is not a width of its
/// own).
pub fn widths() -> Vec<(&'static str, usize)> {
    let mut w = vec![("f32x4", 4), ("f32x8", 8)];
    if simd::HAS_AVX512 {
        w.push(("f32x16", 16));
    }
    w
}

/// Per level, all threads together: `(name, capacity, working set)` in
/// bytes. L1 and L2 are private, so they hold `threads` times a core's,
/// and the working set is half of that (half leaves room for the stack,
/// the code and the other arrays); L3 is shared, working set half of it
/// (no L3 level when the machine reports none); DRAM holds anything and
/// is measured on eight times L3, at least 64 MiB.
pub fn working_sets(caches: &Caches, threads: usize) -> Vec<(&'static str, usize, usize)> {
    let t = threads.max(1);
    let mut v = vec![
        ("L1", caches.l1d * t, caches.l1d / 2 * t),
        ("L2", caches.l2 * t, caches.l2 / 2 * t),
    ];
    if caches.l3 > 0 {
        v.push(("L3", caches.l3, caches.l3 / 2));
    }
    v.push(("DRAM", usize::MAX, (8 * caches.l3).max(64 << 20)));
    v
}

/// Seconds `f` takes.
fn seconds(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// Median of `samples` timings of `f` (at least 1).
fn median_time(samples: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut t: Vec<f64> = (0..samples.max(1)).map(|_| f()).collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The median seconds of `samples` runs of `part` on every thread of
/// `pool` at once (on the calling thread without one), after one run to
/// wake the workers and the clocks.
fn on_every_thread(pool: Option<&Pool>, samples: usize, part: &(dyn Fn(usize) + Sync)) -> f64 {
    let all = || match pool {
        Some(p) => p.run(p.threads(), part),
        None => part(0),
    };
    all();
    median_time(samples, || seconds(all))
}

fn peak_gflops<V: Vector + Send + Sync>(pool: Option<&Pool>, samples: usize) -> f64 {
    let threads = pool.map_or(1, |p| p.threads());
    // About a millisecond per call at 100 GFLOP/s per thread.
    let iters = 1 << 13;
    let part = |_t: usize| {
        black_box(fma_peak::<V>(
            black_box(iters),
            black_box(V::splat(0.999)),
            black_box(V::splat(1e-3)),
        ));
    };
    let secs = on_every_thread(pool, samples, &part);
    (threads * fma_peak_flop::<V>(iters)) as f64 / secs / 1e9
}

/// The FMA peak of `threads` cores at the widest width this build has in
/// registers, GFLOP/s: the larger of the peak measured on all of them at
/// once (`all_at_once`, from [`Roofs::peak`]) and `threads` times one
/// core's, measured here on the calling thread (median of `samples`). On
/// a shared host another process may hold a core while the pool measures,
/// which would lower the peak and so the floor built on it; the larger of
/// the two keeps a floor from flattering the code measured against it.
pub fn peak_of_cores(all_at_once: f64, threads: usize, samples: usize) -> f64 {
    let one = if simd::HAS_AVX512 {
        peak_gflops::<F32x16>(None, samples)
    } else {
        peak_gflops::<F32x8>(None, samples)
    };
    all_at_once.max(threads as f64 * one)
}

/// Independent chains of each kind in [`divider_loop`]: enough to keep a
/// divider busy whose latency is about twice its issue interval (20 and 10
/// cycles, say), in 8 registers.
pub const DIVIDER_CHAINS: usize = 4;

/// The divider's own loop: `iters` rounds of [`DIVIDER_CHAINS`] chains
/// `s ← √(s + 1)` and as many `d ← 1 / (d + 1)`, on vectors `V`; returns
/// `Σ s + Σ d` so no work is dropped. Each round is `2·DIVIDER_CHAINS`
/// square roots and divides (and adds, which other ports take), on chains
/// that do not wait for each other, so it runs at the divider's rate, not
/// its latency. The chains converge to the golden ratio and its inverse,
/// which are irrational: no operand takes a shortcut a divider may have
/// for exact or special values.
pub fn divider_loop<V: Vector>(iters: usize, s0: V, d0: V) -> V {
    let one = V::splat(1.0);
    // Distinct starts, so no two chains are the same computation.
    let start = |x: V, i: usize| x + V::splat(i as f32 * 0.125);
    let mut s: [V; DIVIDER_CHAINS] = std::array::from_fn(|i| start(s0, i));
    let mut d: [V; DIVIDER_CHAINS] = std::array::from_fn(|i| start(d0, i));
    for _ in 0..iters {
        for (s, d) in s.iter_mut().zip(d.iter_mut()) {
            *s = (*s + one).sqrt();
            *d = one / (*d + one);
        }
    }
    let mut acc = V::splat(0.0);
    for (s, d) in s.iter().zip(d.iter()) {
        acc = acc + *s + *d;
    }
    acc
}

/// Scalar twin of [`divider_loop`], one lane.
pub fn divider_loop_scalar(iters: usize, s0: f32, d0: f32) -> f32 {
    let mut acc = 0.0f32;
    for i in 0..DIVIDER_CHAINS {
        let k = i as f32 * 0.125;
        let (mut s, mut d) = (s0 + k, d0 + k);
        for _ in 0..iters {
            s = (s + 1.0).sqrt();
            d = 1.0 / (d + 1.0);
        }
        acc = acc + s + d;
    }
    acc
}

/// Square roots and divides of one [`divider_loop`] call, f32 lanes.
pub fn divider_ops<V: Vector>(iters: usize) -> usize {
    2 * DIVIDER_CHAINS * iters * V::LANES
}

/// [`divider_loop`]'s rate on every thread of `pool` at once (the
/// calling thread without one), billions of square roots and divides a
/// second, f32 lanes, at [`Wide`].
fn divider_gops(pool: Option<&Pool>, samples: usize) -> f64 {
    let threads = pool.map_or(1, |p| p.threads());
    // About a millisecond per call at 2 G a second per thread.
    let iters = 1 << 14;
    let part = |_t: usize| {
        black_box(divider_loop::<Wide>(
            black_box(iters),
            black_box(Wide::splat(0.5)),
            black_box(Wide::splat(0.25)),
        ));
    };
    let secs = on_every_thread(pool, samples, &part);
    (threads * divider_ops::<Wide>(iters)) as f64 / secs / 1e9
}

/// Copy and triad bandwidth over a working set of `bytes` (the triad's
/// three arrays, all threads together), GB/s.
fn stream_gbs(pool: Option<&Pool>, bytes: usize, samples: usize) -> (f64, f64) {
    let threads = pool.map_or(1, |p| p.threads());
    let n = (bytes / 12).max(64 * threads);
    let mut a = descent_core::AlignedVec::zeros(n);
    let b: descent_core::AlignedVec = (0..n).map(|i| (i % 7) as f32).collect();
    let c: descent_core::AlignedVec = (0..n).map(|i| (i % 5) as f32).collect();
    // Each thread has its own piece of each array (par::split_mut, as the
    // optimizer steps split theirs); a piece is passed over `reps` times
    // per sample, so a sample lasts about half a millisecond even when it
    // fits in L1.
    let reps = (2_000_000 / n).max(1);
    let copy_part = |r: std::ops::Range<usize>, [dst]: [&mut [f32]; 1]| {
        for _ in 0..reps {
            copy(black_box(&mut *dst), black_box(&b[r.clone()]));
        }
    };
    let triad_part = |r: std::ops::Range<usize>, [dst]: [&mut [f32]; 1]| {
        for _ in 0..reps {
            let (b, c) = (black_box(&b[r.clone()]), black_box(&c[r.clone()]));
            triad(black_box(&mut *dst), b, c, 0.5);
        }
    };
    let mut pass = |part: &par::PartFn<'_, f32, 1>| {
        seconds(|| par::split_mut(pool, n, 16, [(&mut a[..], 1)], part))
    };
    pass(&copy_part);
    pass(&triad_part);
    let copy_s = median_time(samples, || pass(&copy_part));
    let triad_s = median_time(samples, || pass(&triad_part));
    let moved = |per: usize| (reps * n * per) as f64 / 1e9;
    (moved(COPY_BYTES) / copy_s, moved(TRIAD_BYTES) / triad_s)
}

/// Measures every roof on `threads` threads (the pool's, or 1 without
/// one), each figure the median of `samples` timings. Takes about
/// `samples × 25 ms` (the DRAM passes dominate).
pub fn measure(pool: Option<&Pool>, caches: &Caches, samples: usize) -> Roofs {
    let threads = pool.map_or(1, |p| p.threads());
    let peaks = widths()
        .into_iter()
        .map(|(width, lanes)| Peak {
            width,
            lanes,
            gflops: match lanes {
                4 => peak_gflops::<F32x4>(pool, samples),
                8 => peak_gflops::<F32x8>(pool, samples),
                _ => peak_gflops::<F32x16>(pool, samples),
            },
        })
        .collect();
    let bandwidth = working_sets(caches, threads)
        .into_iter()
        .map(|(level, capacity, bytes)| {
            let (copy_gbs, triad_gbs) = stream_gbs(pool, bytes, samples);
            Bandwidth {
                level,
                capacity,
                bytes,
                copy_gbs,
                triad_gbs,
            }
        })
        .collect();
    Roofs {
        threads,
        peaks,
        bandwidth,
        divider_gops: divider_gops(pool, samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, k: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| ((i * k) % 97) as f32 * 0.37 - 11.0)
            .collect()
    }

    #[test]
    fn copy_and_triad_match_their_twins_on_odd_unaligned_slices() {
        for n in [0, 1, 7, 15, 16, 17, 33, 100, 1027] {
            for off in 0..3 {
                let b = data(n + off, 3);
                let c = data(n + off, 5);
                let (mut a1, mut a2) = (vec![f32::NAN; n + off], vec![0.0; n + off]);
                copy(&mut a1[off..], &b[off..]);
                copy_scalar(&mut a2[off..], &b[off..]);
                assert_eq!(a1[off..], b[off..]);
                assert_eq!(a1[off..], a2[off..]);
                triad(&mut a1[off..], &b[off..], &c[off..], -0.75);
                triad_scalar(&mut a2[off..], &b[off..], &c[off..], -0.75);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                if simd::HAS_FMA {
                    assert_eq!(bits(&a1[off..]), bits(&a2[off..]), "n {n}");
                }
                for i in off..n + off {
                    let want = b[i] as f64 + -0.75 * c[i] as f64;
                    assert!((a1[i] as f64 - want).abs() <= 1e-5 * want.abs().max(1.0));
                }
            }
        }
        // Edge values go through unchanged.
        let b = [f32::INFINITY, -0.0, f32::MIN_POSITIVE, f32::MAX, 1.0];
        let mut a = [0.0; 5];
        copy(&mut a, &b);
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
        let mut a = [0.0; 5];
        triad(&mut a, &b, &[f32::NAN, 0.0, 0.0, 0.0, 2.0], 1.0);
        assert!(a[0].is_nan() && a[1] == 0.0 && a[4] == 3.0);
    }

    #[test]
    fn working_sets_grow_level_by_level_and_the_roofline_bends_once() {
        let caches = Caches {
            l1d: 48 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
            source: "test",
        };
        let sets = working_sets(&caches, 2);
        assert_eq!(
            sets,
            [
                ("L1", 96 << 10, 48 << 10),
                ("L2", 2 << 20, 1 << 20),
                ("L3", 32 << 20, 16 << 20),
                ("DRAM", usize::MAX, 256 << 20)
            ]
        );
        let no_l3 = Caches { l3: 0, ..caches };
        assert_eq!(
            working_sets(&no_l3, 1).last(),
            Some(&("DRAM", usize::MAX, 64 << 20))
        );
        let level = |l: &'static str, triad_gbs: f64, capacity: usize| Bandwidth {
            level: l,
            capacity,
            bytes: capacity / 2,
            copy_gbs: triad_gbs,
            triad_gbs,
        };
        let roofs = Roofs {
            threads: 1,
            peaks: vec![
                Peak {
                    width: "f32x4",
                    lanes: 4,
                    gflops: 50.0,
                },
                Peak {
                    width: "f32x8",
                    lanes: 8,
                    gflops: 100.0,
                },
            ],
            bandwidth: vec![level("L1", 200.0, 1000), level("DRAM", 20.0, usize::MAX)],
            divider_gops: 2.0,
        };
        assert_eq!(roofs.divider_floor(0.0), 0.0);
        assert_eq!(roofs.divider_floor(4e9), 2.0);
        assert_eq!(roofs.peak(), 100.0);
        assert_eq!(roofs.level_for(1000).level, "L1");
        assert_eq!(roofs.level_for(1001).level, "DRAM");
        assert_eq!(roofs.level_for(usize::MAX).level, "DRAM");
        let l1 = &roofs.bandwidth[0];
        assert_eq!(roofs.attainable(0.25, l1), 50.0); // bandwidth-bound
        assert_eq!(roofs.attainable(10.0, l1), 100.0); // compute-bound
    }

    #[test]
    fn the_divider_loop_matches_its_twin_lane_by_lane() {
        fn check<V: Vector>() {
            for iters in [0, 1, 2, 7, 40] {
                let s: Vec<f32> = (0..V::LANES).map(|l| l as f32 * 0.3 - 0.9).collect();
                let d: Vec<f32> = (0..V::LANES).map(|l| l as f32 * 0.7).collect();
                // SAFETY: s and d hold LANES floats each, got as many.
                let mut got = vec![0.0f32; V::LANES];
                unsafe {
                    let v = divider_loop::<V>(iters, V::load(s.as_ptr()), V::load(d.as_ptr()));
                    V::store(got.as_mut_ptr(), v);
                }
                for l in 0..V::LANES {
                    let want = divider_loop_scalar(iters, s[l], d[l]);
                    assert_eq!(got[l].to_bits(), want.to_bits(), "lane {l}, {iters} rounds");
                }
            }
            assert_eq!(divider_ops::<V>(3), 2 * DIVIDER_CHAINS * 3 * V::LANES);
        }
        check::<F32x4>();
        check::<F32x8>();
        check::<F32x16>();
        // Near the fixed points after enough rounds: φ and 1/φ per chain.
        let phi = (1.0 + 5f32.sqrt()) / 2.0;
        let v = divider_loop_scalar(60, 0.0, 0.0);
        let want = DIVIDER_CHAINS as f32 * (phi + 1.0 / phi);
        assert!((v - want).abs() < 1e-5, "{v} against {want}");
    }

    #[test]
    fn measured_roofs_are_positive_and_ordered_sensibly() {
        let caches = Caches {
            l1d: 32 << 10,
            l2: 256 << 10,
            l3: 0,
            source: "test",
        };
        let pool = Pool::new(2);
        for pool in [None, Some(&pool)] {
            let r = measure(pool, &caches, 1);
            assert_eq!(r.peaks.len(), widths().len());
            assert!(r.peaks.iter().all(|p| p.gflops > 0.1), "{r:?}");
            // The divider retires fewer square roots and divides than the
            // FMA units retire multiply-adds (half the peak's FLOPs).
            assert!(
                r.divider_gops > 0.01 && r.divider_gops < r.peak() / 2.0,
                "{r:?}"
            );
            assert_eq!(r.bandwidth.len(), 3);
            assert!(r
                .bandwidth
                .iter()
                .all(|b| b.copy_gbs > 0.1 && b.triad_gbs > 0.1));
        }
    }
}
