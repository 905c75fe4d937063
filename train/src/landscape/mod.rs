//! The network's own loss landscape: the loss and accuracy of the MLP on
//! real examples, measured on lines and planes through weight space.
//!
//! - [`directions`]: random directions, filter-normalised as in Li et al.
//!   2018, "Visualizing the Loss Landscape of Neural Nets" (§4): each row
//!   of a weight matrix (one output neuron's filter) is scaled to the norm
//!   of the same row of the weights.
//! - [`slice`](mod@slice): the evaluator. Every point of a plane
//!   `θ(c) = o + Σ_k c_k·d_k` is a forward pass, and the first layer's
//!   pre-activation is linear in the coefficients,
//!   `X·θ₀(c)ᵀ = X·o₀ᵀ + Σ_k c_k·X·d_{k,0}ᵀ`, so one GEMM of X by the
//!   stacked weights `[o₀; d_{1,0}; d_{2,0}]` serves the whole grid; only the
//!   narrow layers above it are recomputed per point.
//! - [`pca`]: the plane of an optimizer's path (Li et al. §7): the top two
//!   principal directions of the recorded weights.
//!
//! The same evaluator draws Goodfellow, Vinyals & Saxe 2015's straight
//! lines: `θ(t) = (1 − t)·θ_a + t·θ_b` is the plane with no origin and the
//! two endpoints as directions, coefficients `(1 − t, t)`, so `t = 0` and
//! `t = 1` are the endpoints' own weights, bit for bit.

pub mod directions;
pub mod pca;
pub mod slice;

pub use directions::filter_normalised;
pub use pca::{pca2, Pca};
pub use slice::{measure, Examples, Measured, Slice, SliceCost, SliceOptions, Stream};

use descent_core::CoreError;
use descent_nn::NnError;

/// What can go wrong measuring a landscape.
#[derive(Debug, thiserror::Error)]
pub enum LandscapeError {
    /// A buffer does not have the length the net or the slice needs.
    #[error("{what}: {message}")]
    Shape {
        /// Which buffer.
        what: &'static str,
        /// What was expected.
        message: String,
    },
    /// A GEMM refused its operands.
    #[error("gemm: {0}")]
    Core(#[from] CoreError),
    /// The loss refused its input.
    #[error("model: {0}")]
    Nn(#[from] NnError),
}

pub(crate) fn shape(what: &'static str, message: impl Into<String>) -> LandscapeError {
    LandscapeError::Shape {
        what,
        message: message.into(),
    }
}
