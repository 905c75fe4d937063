//! Elementwise and reduction kernels: an `f32x8` body plus a scalar tail,
//! each beside a plain scalar twin (`*_scalar`) that the tests compare it to.
//!
//! Length mismatches between slices are programming errors and panic with
//! both lengths; user-facing shapes are checked by the callers (`nn`).

mod elementwise;
mod reduce;
mod small;
mod softmax;

pub use elementwise::*;
pub use reduce::*;
pub use small::*;
pub use softmax::*;

/// Panics with both lengths when two slices that must match do not.
#[inline(always)]
#[track_caller]
pub(crate) fn same_len(op: &str, a: usize, b: usize) {
    assert!(a == b, "{op}: slice lengths differ ({a} vs {b})");
}
