//! A persistent pool of worker threads for [`crate::gemm_par`].
//!
//! Spawning OS threads on every GEMM costs tens of microseconds, more than a
//! batch-64 layer's whole product; the pool's workers are started once and
//! sleep on a condition variable between calls.
//!
//! [`run`] splits a job into `parts` numbered pieces. The caller takes part
//! 0 and then, like the workers, claims whatever parts are left, so a job
//! never waits for a slow wake-up. Which thread runs a part does not change
//! what the part computes, so results do not depend on the number of
//! workers or on scheduling.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, OnceLock};

/// The job being run: a borrowed closure with its lifetime erased. It is
/// only called for parts claimed while the job is live, and [`run`] does not
/// return before every claimed part has finished.
#[derive(Clone, Copy)]
struct Task(*const (dyn Fn(usize) + Sync));

// SAFETY: the pointee is `Sync` and outlives every use (see `Task`).
unsafe impl Send for Task {}

struct State {
    /// Incremented for every job, so a sleeping worker knows one arrived.
    generation: u64,
    task: Option<Task>,
    parts: usize,
    /// The next unclaimed part.
    next: usize,
    /// Parts claimed by workers and not yet finished.
    running: usize,
    /// A part panicked.
    panicked: bool,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    /// One job at a time; a second caller meanwhile runs its job alone.
    busy: Mutex<()>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(2)
            - 1;
        for i in 0..workers {
            std::thread::Builder::new()
                .name(format!("descent-gemm-{i}"))
                .spawn(worker)
                .expect("spawning a GEMM worker thread");
        }
        Pool {
            state: Mutex::new(State {
                generation: 0,
                task: None,
                parts: 0,
                next: 0,
                running: 0,
                panicked: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            busy: Mutex::new(()),
        }
    })
}

/// Claims and runs parts of the current job until none is left. Called
/// with the state locked; returns with it locked.
fn drain<'a>(
    p: &'a Pool,
    mut st: std::sync::MutexGuard<'a, State>,
    worker: bool,
) -> std::sync::MutexGuard<'a, State> {
    while st.next < st.parts {
        let part = st.next;
        st.next += 1;
        let task = st.task.expect("a job with parts has a task");
        if worker {
            st.running += 1;
        }
        drop(st);
        // SAFETY: the job is live (parts remain), so `run` has not returned
        // and the closure is alive.
        let ok = catch_unwind(AssertUnwindSafe(|| unsafe { (*task.0)(part) })).is_ok();
        st = p.state.lock().unwrap_or_else(|e| e.into_inner());
        if !ok {
            st.panicked = true;
        }
        if worker {
            st.running -= 1;
            if st.running == 0 {
                p.done.notify_all();
            }
        }
    }
    st
}

fn worker() {
    let p = pool();
    let mut seen = 0;
    let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        while st.generation == seen {
            st = p.work.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        seen = st.generation;
        st = drain(p, st, true);
    }
}

/// Runs `f(0), f(1), …, f(parts − 1)`, spread over the calling thread and
/// the pool's workers; returns when all have finished. Parts must be
/// independent of each other. Panics if a part panicked.
pub fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    if parts <= 1 {
        if parts == 1 {
            f(0);
        }
        return;
    }
    let p = pool();
    // Another thread's job is running: do this one here, alone.
    let Ok(_busy) = p.busy.try_lock() else {
        (0..parts).for_each(f);
        return;
    };
    let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY (lifetime erasure): `task` is cleared below before returning,
    // after every claimed part has finished, and parts are only claimed
    // while `next < parts`.
    let erased = unsafe {
        std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(f)
    };
    st.task = Some(Task(erased));
    st.parts = parts;
    st.next = 0;
    st.panicked = false;
    st.generation += 1;
    p.work.notify_all();
    st = drain(p, st, false);
    while st.running > 0 {
        st = p.done.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    st.task = None;
    st.parts = 0;
    st.next = 0;
    let panicked = st.panicked;
    drop(st);
    assert!(!panicked, "a GEMM part panicked on a pool thread");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_part_runs_exactly_once() {
        for parts in [0, 1, 2, 3, 17] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            for _ in 0..200 {
                run(parts, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
            }
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 200));
        }
    }

    #[test]
    fn concurrent_callers_do_not_interfere() {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        let sum = AtomicUsize::new(0);
                        run(8, &|i| {
                            sum.fetch_add(i, Ordering::Relaxed);
                        });
                        assert_eq!(sum.load(Ordering::Relaxed), 28);
                    }
                });
            }
        });
    }
}
