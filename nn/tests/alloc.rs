//! Steady-state training steps allocate nothing: a counting global
//! allocator wraps the system one, and after the first step of a batch
//! size (which sizes the activation buffers and the GEMM's packing
//! buffers) further steps of that size, or smaller, must not allocate.
//!
//! This file is its own test binary, so the allocator sees only this
//! test's work; the test runs on the main thread and counts only there.

use descent_core::gemm::DescentStep;
use descent_core::Compute;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use descent_nn::{Activation, Loss, Mlp, Targets};

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; the counter is a
// thread-local `Cell` with a const initializer, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    COUNT.with(|c| c.get())
}

#[test]
fn training_steps_allocate_nothing_after_the_first() {
    let sizes = [784, 128, 64, 10];
    let batch = 64;
    let x: Vec<f32> = (0..batch * 784).map(|i| (i % 255) as f32 / 255.0).collect();
    let y: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let onehot_targets: Vec<f32> = (0..batch * 10).map(|i| (i % 7) as f32 / 7.0).collect();
    // Two threads: the GEMMs split over the core's worker pool, which must
    // not allocate per call either (counted on this, the calling thread;
    // workers' packing buffers are sized on their first call).
    for (act, threads) in Activation::ALL.into_iter().flat_map(|a| [(a, 1), (a, 2)]) {
        let mut net = Mlp::new(&sizes, act, 0).unwrap();
        let cx = &Compute::threads(threads);
        let step = |net: &mut Mlp, rows: usize| {
            net.zero_grad();
            let l = net
                .loss_and_backward(cx, &x[..rows * 784], &y[..rows])
                .unwrap();
            let (p, g) = net.params_and_grads();
            for (p, g) in p.iter_mut().zip(g) {
                *p -= 0.01 * g;
            }
            l
        };
        // SGD's step inside the dW GEMMs: the signals, the norm's bound,
        // the weights stepped by their GEMMs (their squares' buffer reused).
        let fused = |net: &mut Mlp, rows: usize| {
            net.forward(cx, &x[..rows * 784], rows).unwrap();
            net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(&y[..rows]))
                .unwrap();
            net.backward_signals_probed(cx, &x[..rows * 784], &mut ())
                .unwrap();
            assert!(net.grad_norm_bound(1.0).is_finite());
            let sq = net.descend_weights_probed(
                cx,
                &x[..rows * 784],
                DescentStep::Sgd { eta: 0.01 },
                &mut (),
            );
            assert!(sq.unwrap().is_some());
        };
        step(&mut net, batch); // sizes every buffer
        fused(&mut net, batch);
        let before = allocations();
        for _ in 0..3 {
            step(&mut net, batch);
            fused(&mut net, batch);
        }
        // A smaller final batch (as at the end of an epoch) reuses them too.
        step(&mut net, 17);
        net.zero_grad();
        net.loss_and_backward_with(cx, &x, Loss::Mse, Targets::Values(&onehot_targets))
            .unwrap();
        net.batch_grads(cx, &x, &y).unwrap();
        let after = allocations();
        assert_eq!(
            after - before,
            0,
            "{} with {threads} threads: {} allocations in steady state",
            act.name(),
            after - before
        );
    }
    // The counter works: a fresh net allocates.
    let before = allocations();
    let mut net = Mlp::new(&sizes, Activation::Relu, 1).unwrap();
    net.loss_and_backward(&Compute::serial(), &x, &y).unwrap();
    assert!(allocations() > before);
}
