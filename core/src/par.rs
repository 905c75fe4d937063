//! A pool of worker threads whose hand-off costs well under a microsecond,
//! so that even a batch-64 layer's 1-MFLOP GEMM can be split.
//!
//! [`Pool::run`] splits a job into `parts` numbered pieces. The caller and
//! the workers claim parts from one atomic counter until none is left, so
//! a job never waits for a slow wake-up. Which thread runs a part never
//! changes what the part computes, so results do not depend on the number
//! of threads or on scheduling: that is how every kernel built on the pool
//! stays bit-identical for any thread count.
//!
//! **Hand-off.** Between jobs a worker spins on the job counter for a while
//! ([`SPIN`]) before it parks on a condition variable: the gaps between
//! the GEMMs of one training step are a few microseconds, far shorter than
//! a futex wake-up (≈ 5–50 µs), so while a run is training the workers
//! never sleep, and when it stops they do within a fraction of a
//! millisecond. (OpenMP runtimes make the same trade with a spin-wait
//! before blocking.)
//!
//! **Lifetime.** The workers belong to the [`Pool`]; dropping it stops and
//! joins them, so a run that ends (normally, early, or by an error) leaves
//! no thread behind.
//!
//! **Panics.** A part that panics does not take its thread down: the panic
//! is caught, the other parts finish, and [`Pool::run`] resumes the first
//! panic on the caller's thread.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it parks. Long enough to bridge
/// every gap inside a training step and between steps (tens of µs), short
/// enough that an idle pool stops burning a core almost at once.
pub const SPIN: Duration = Duration::from_micros(200);

/// Bits of the claim word that count parts; the rest count jobs.
const PART_BITS: u32 = 24;
const PART_MASK: u64 = (1 << PART_BITS) - 1;

/// The most parts one job may have.
pub const MAX_PARTS: usize = PART_MASK as usize;

/// A job's closure with its lifetime erased (a thin pointer to the fat
/// reference that [`Pool::run`] keeps alive until the job is over).
type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// `job << PART_BITS | next part`: a worker claims a part with one
    /// compare-exchange, which fails if a new job has started since it
    /// read the job's closure (so it never runs a stale closure).
    claim: AtomicU64,
    /// Parts in the current job.
    parts: AtomicUsize,
    /// The current job's closure, valid while the job runs.
    job: AtomicPtr<Job>,
    /// Parts of the current job that have finished.
    done: AtomicUsize,
    /// The first panic of the current job.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Workers parked (or about to park) on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
}

/// A pool of `threads − 1` worker threads plus the calling thread.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// One job at a time; a second caller meanwhile runs its job alone.
    busy: Mutex<()>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({} threads)", self.threads())
    }
}

impl Pool {
    /// A pool that runs jobs on `threads` threads: the caller and
    /// `threads − 1` workers (none for `threads ≤ 1`).
    ///
    /// # Panics
    /// If the operating system refuses to start a thread.
    pub fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            claim: AtomicU64::new(0),
            parts: AtomicUsize::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panic: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let workers = (1..threads.max(1))
            .map(|i| {
                let s = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("descent-worker-{i}"))
                    .spawn(move || worker(&s))
                    .expect("starting a worker thread")
            })
            .collect();
        Pool {
            shared,
            workers,
            busy: Mutex::new(()),
        }
    }

    /// The threads a job runs on: the workers and the caller.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0), f(1), …, f(parts − 1)` on the caller and the workers;
    /// returns when all have finished. Parts must be independent of each
    /// other. If a part panics, the others still run and the first panic
    /// is resumed here.
    ///
    /// # Panics
    /// If a part panics, or `parts > MAX_PARTS`.
    pub fn run(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        assert!(parts <= MAX_PARTS, "{parts} parts exceed {MAX_PARTS}");
        if parts <= 1 || self.workers.is_empty() {
            (0..parts).for_each(f);
            return;
        }
        // Another thread's job is running: do this one here, alone.
        let _busy = match self.busy.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                (0..parts).for_each(f);
                return;
            }
        };
        let s = &*self.shared;
        // The closure outlives the job: this function does not return (or
        // unwind) before `done == parts`, and no part is claimed after.
        // SAFETY (lifetime erasure): see the comment above.
        let erased = unsafe {
            std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(f)
        };
        let mut job: Job = erased;
        s.job.store(&mut job, Ordering::Relaxed);
        s.parts.store(parts, Ordering::Relaxed);
        s.done.store(0, Ordering::Relaxed);
        // Publish: a new job number with part 0 next. SeqCst orders it
        // before the sleepers check below (see `park`).
        // Part 0 is the caller's from the start, so with as many parts as
        // threads the caller always computes the first piece and the
        // workers the others: the same data stays in the same core's
        // caches from one job to the next.
        let next_job = (s.claim.load(Ordering::Relaxed) >> PART_BITS) + 1;
        s.claim.store(next_job << PART_BITS | 1, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        run_part(s, f, 0);
        drain(s, next_job);
        // Wait for the parts the workers claimed (they are short).
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < parts {
            spins += 1;
            if spins < 1 << 16 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        s.job.store(std::ptr::null_mut(), Ordering::Relaxed);
        let panic = s.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = panic {
            resume_unwind(p);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.shutdown.store(true, Ordering::SeqCst);
        {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            // A worker catches every panic of a part, so join only fails
            // if the thread itself broke; nothing is left to clean up then.
            let _ = w.join();
        }
    }
}

/// Claims and runs parts of job `id` until none is left (or a newer job
/// has started, which means this one is over).
fn drain(s: &Shared, id: u64) {
    loop {
        let word = s.claim.load(Ordering::Acquire);
        if word >> PART_BITS != id {
            return;
        }
        let part = (word & PART_MASK) as usize;
        if part >= s.parts.load(Ordering::Acquire) {
            return;
        }
        // Read the closure before claiming: if the claim succeeds, job `id`
        // was still current, so this is its closure, and it stays alive
        // until this part is counted done.
        let job = s.job.load(Ordering::Acquire);
        if s.claim
            .compare_exchange_weak(word, word + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            continue;
        }
        // SAFETY: `job` points at the fat pointer `run` keeps on its stack
        // for job `id`, which cannot end before this part is counted done.
        run_part(s, unsafe { &**job }, part);
    }
}

/// Runs `f(part)`, keeps its panic if it is the job's first, and counts
/// the part done.
fn run_part(s: &Shared, f: &(dyn Fn(usize) + Sync), part: usize) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(part))) {
        let mut first = s.panic.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(p);
    }
    s.done.fetch_add(1, Ordering::Release);
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        // Spin for a new job, then park.
        let start = Instant::now();
        let mut spins = 0u32;
        let id = loop {
            let id = s.claim.load(Ordering::Acquire) >> PART_BITS;
            if id != seen {
                break Some(id);
            }
            if s.shutdown.load(Ordering::Relaxed) {
                break None;
            }
            spins = spins.wrapping_add(1);
            if spins % 64 == 0 && start.elapsed() > SPIN {
                park(s, seen);
                if s.shutdown.load(Ordering::Relaxed) {
                    break None;
                }
            } else {
                std::hint::spin_loop();
            }
        };
        let Some(id) = id else { return };
        seen = id;
        drain(s, id);
    }
}

/// Sleeps until a job newer than `seen` is published or the pool shuts
/// down. The sleeper count is raised before the job number is checked
/// again and `run` raises the job number before it reads the count (both
/// SeqCst), so either this sees the new job or `run` sees the sleeper and
/// notifies under the lock.
fn park(s: &Shared, seen: u64) {
    let mut g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
    s.sleepers.fetch_add(1, Ordering::SeqCst);
    while s.claim.load(Ordering::SeqCst) >> PART_BITS == seen && !s.shutdown.load(Ordering::SeqCst)
    {
        g = s.wake.wait(g).unwrap_or_else(|e| e.into_inner());
    }
    s.sleepers.fetch_sub(1, Ordering::SeqCst);
}

/// The pieces `0..len` splits into for `parts` parts, each a multiple of
/// `align` long but the last: part `t` is `lo..hi`. Used to split a flat
/// buffer so that every element goes through the same (SIMD or tail) code
/// whatever the number of parts.
pub fn chunk(len: usize, parts: usize, align: usize, t: usize) -> std::ops::Range<usize> {
    let units = len.div_ceil(align.max(1));
    let parts = parts.max(1);
    let lo = (units * t / parts * align).min(len);
    let hi = (units * (t + 1) / parts * align).min(len);
    lo..hi
}

/// What [`split_mut`] runs on each part: its range of units and its piece
/// of every buffer.
pub type PartFn<'f, T, const N: usize> = dyn Fn(std::ops::Range<usize>, [&mut [T]; N]) + Sync + 'f;

/// Runs `f(range, chunks)` over `parts` disjoint pieces of `0..units`
/// (split on multiples of `align` units, as [`chunk`] does), on `pool`'s
/// threads or, without a pool, on the caller's as one piece. Each buffer
/// `bufs[i] = (slice, per)` holds `per` elements per unit, and `chunks[i]`
/// is its part for `range`: `slice[range.start·per .. range.end·per]`.
///
/// This is how a flat buffer (an optimizer's parameters and state, a
/// batch's rows) is updated on every core: with `align` a multiple of the
/// SIMD width, every element goes through the same code whatever the
/// number of parts, so the result is bit-identical.
///
/// # Panics
/// If a buffer's length is not `units · per`, or a part panics.
pub fn split_mut<T: Send, const N: usize>(
    pool: Option<&Pool>,
    units: usize,
    align: usize,
    bufs: [(&mut [T], usize); N],
    f: &PartFn<'_, T, N>,
) {
    for (b, per) in &bufs {
        assert_eq!(
            b.len(),
            units * per,
            "split_mut: a buffer is not units·per long"
        );
    }
    let parts = pool
        .map_or(1, |p| p.threads())
        .min(units.div_ceil(align.max(1)));
    if parts <= 1 {
        f(0..units, bufs.map(|(b, _)| b));
        return;
    }
    let raw: [(SendPtr<T>, usize); N] = bufs.map(|(b, per)| (SendPtr(b.as_mut_ptr()), per));
    let part = |t: usize| {
        let r = chunk(units, parts, align, t);
        let chunks = raw.map(|(p, per)| {
            // SAFETY: the ranges of different parts are disjoint (`chunk`)
            // and inside `0..units`, so these slices are disjoint pieces
            // of buffers borrowed mutably for the whole call.
            unsafe { std::slice::from_raw_parts_mut(p.0.add(r.start * per), r.len() * per) }
        });
        f(r, chunks);
    };
    // `parts` > 1 implies a pool.
    if let Some(pool) = pool {
        pool.run(parts, &part);
    }
}

/// A pointer into a buffer that [`split_mut`] hands out in disjoint parts.
struct SendPtr<T>(*mut T);
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: each part only touches its own disjoint range (see `split_mut`).
unsafe impl<T: Send> Sync for SendPtr<T> {}
unsafe impl<T: Send> Send for SendPtr<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_exactly_once() {
        for threads in [1, 2, 3, 5] {
            let pool = Pool::new(threads);
            assert_eq!(pool.threads(), threads);
            for parts in [0, 1, 2, 3, 17] {
                let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                for _ in 0..300 {
                    pool.run(parts, &|i| {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                    });
                }
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 300));
            }
        }
    }

    #[test]
    fn concurrent_callers_do_not_interfere() {
        let pool = Pool::new(3);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let sum = AtomicUsize::new(0);
                        pool.run(8, &|i| {
                            sum.fetch_add(i, Ordering::Relaxed);
                        });
                        assert_eq!(sum.load(Ordering::Relaxed), 28);
                    }
                });
            }
        });
    }

    /// A panicking part reaches the caller as that panic; the other parts
    /// ran, and the pool keeps working.
    #[test]
    fn a_panic_in_a_part_reaches_the_caller_and_the_pool_survives() {
        let pool = Pool::new(2);
        for bad in [0, 5] {
            let ran = AtomicUsize::new(0);
            let r = catch_unwind(AssertUnwindSafe(|| {
                pool.run(8, &|i| {
                    ran.fetch_add(1, Ordering::Relaxed);
                    if i == bad {
                        panic!("part {i} fails");
                    }
                })
            }));
            let msg = r.unwrap_err();
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert_eq!(msg, format!("part {bad} fails"));
            assert_eq!(ran.load(Ordering::Relaxed), 8);
        }
        let sum = AtomicUsize::new(0);
        pool.run(4, &|i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 6);
    }

    /// Workers park when idle and wake for the next job; dropping the pool
    /// joins them.
    #[test]
    fn parked_workers_wake_and_drop_joins_them() {
        let pool = Pool::new(3);
        for _ in 0..3 {
            // Idle workers park once SPIN has passed (a loaded machine may
            // take a while to run them there at all).
            let start = Instant::now();
            while pool.shared.sleepers.load(Ordering::SeqCst) < 2 {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "workers never parked"
                );
                std::thread::sleep(SPIN);
            }
            let sum = AtomicUsize::new(0);
            pool.run(6, &|i| {
                sum.fetch_add(i + 1, Ordering::Relaxed);
            });
            assert_eq!(sum.load(Ordering::Relaxed), 21);
        }
        let shared = Arc::clone(&pool.shared);
        drop(pool);
        // Only this test's handle is left: every worker has exited.
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn split_mut_hands_out_disjoint_aligned_parts() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads);
            for units in [0, 5, 16, 100, 1003] {
                let mut a = vec![0u32; units * 3];
                let mut b = vec![0u32; units];
                split_mut(
                    Some(&pool),
                    units,
                    16,
                    [(&mut a, 3), (&mut b, 1)],
                    &|r, [a, b]| {
                        assert!(r.start % 16 == 0);
                        for (i, u) in r.clone().enumerate() {
                            a[3 * i..3 * i + 3].fill(u as u32);
                            b[i] += u as u32 + 1;
                        }
                    },
                );
                assert!(a.iter().enumerate().all(|(i, &v)| v == (i / 3) as u32));
                assert!(b.iter().enumerate().all(|(i, &v)| v == i as u32 + 1));
            }
        }
    }

    #[test]
    fn chunks_cover_the_range_on_aligned_boundaries() {
        for len in [0, 1, 15, 16, 17, 1000, 109_386] {
            for parts in 1..6 {
                let mut next = 0;
                for t in 0..parts {
                    let r = chunk(len, parts, 16, t);
                    assert_eq!(r.start, next);
                    assert!(r.start % 16 == 0 || r.is_empty());
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
    }
}
