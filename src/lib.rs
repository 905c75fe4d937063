//! # descent
//!
//! The facade of the descent workspace: re-exports the crates so each is
//! one import away. The top-level integration tests (`tests/`) and
//! criterion benches (`benches/`) belong to this package.
//!
//! - [`tensor`]: `descent-core`, the tensor type and SIMD kernels.
//! - [`nn`]: `descent-nn`, the MLP with hand-written backprop.
//! - [`optim`]: `descent-optim`, the optimizers and schedules.
//! - [`train`]: `descent-train`, MNIST's IDX files, checkpoints, metrics
//!   records.

pub use descent_core as tensor;
pub use descent_nn as nn;
pub use descent_optim as optim;
pub use descent_train as train;
