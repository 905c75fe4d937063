//! # descent-nn
//!
//! A multilayer perceptron with hand-written backpropagation, written to be
//! read: each layer's forward and backward sit side by side with the shapes
//! and the math they implement, and the fast paths are the core's fused
//! GEMM epilogues and kernels.
//!
//! - [`linear`]: `Y = X·Wᵀ + b` and its backward (dW = dYᵀ·X, db = Σ_rows dY,
//!   dX = dY·W), PyTorch's `nn.Linear` layout and init.
//! - [`activation`]: ReLU, Sigmoid, Tanh (dX = dY ⊙ f′, f′ from the output).
//! - [`loss`]: softmax cross-entropy (one fused backward `(p − onehot)/B`)
//!   and mean squared error.
//! - [`mlp`]: [`Mlp`], the network; one flat parameter buffer and one flat
//!   gradient buffer, named as PyTorch's `nn.Sequential` names them.
//! - [`probe`]: the phases of a training step, for a profiler to time.
//! - [`mod@gradcheck`]: "follow the slope" checked against finite differences.
//!
//! The [`walkthrough`] module (the crate's `README.md`) follows one training
//! step from input to weight update, deriving every backward formula.
//!
//! ```
//! use descent_core::Compute;
//! use descent_nn::{Activation, Mlp};
//! // Where the GEMMs run: the caller's thread (or `Compute::threads(n)`).
//! let cx = Compute::serial();
//! let mut net = Mlp::new(&[4, 8, 3], Activation::Relu, 42)?;
//! let x = [0.5f32, -1.0, 2.0, 0.0, /* row 2 */ 1.0, 1.0, -0.5, 0.25];
//! let labels = [2u32, 0];
//! net.zero_grad();
//! let loss = net.loss_and_backward(&cx, &x, &labels)?;
//! // Plain SGD: θ ← θ − η·∇θ.
//! let (params, grads) = net.params_and_grads();
//! for (p, g) in params.iter_mut().zip(grads) {
//!     *p -= 0.1 * g;
//! }
//! assert!(loss > 0.0);
//! # Ok::<(), descent_nn::NnError>(())
//! ```

pub mod activation;
pub mod error;
pub mod gradcheck;
pub mod linear;
pub mod loss;
pub mod mlp;
pub mod probe;

#[doc = include_str!("../README.md")]
pub mod walkthrough {}

pub use activation::Activation;
pub use error::{NnError, Result};
pub use gradcheck::{gradcheck, gradcheck_f64, TensorCheck};
pub use linear::{Linear, LinearGrads, LinearParams, Rows};
pub use loss::{Loss, Targets};
pub use mlp::{layer_ranges, param_layout, sequential_name, GradSource, Mlp, ParamTensor};
pub use probe::{Phase, Probe};
