//! # descent
//!
//! The facade of the descent workspace: re-exports the crates so each is
//! one import away. The top-level integration tests (`tests/`), criterion
//! benches (`benches/`) and examples (`examples/`) belong to this package.
//!
//! - [`tensor`]: `descent-core`, the matrix views and SIMD kernels.
//! - [`nn`]: `descent-nn`, the MLP with hand-written backprop.
//! - [`optim`]: `descent-optim`, the optimizers (by name, with their
//!   defaults) and schedules.
//! - [`train`]: `descent-train`, the training loop, MNIST's IDX files,
//!   checkpoints, metrics records.
//! - [`profile`]: `descent-profile`, where a step's time goes against this
//!   machine's roofs.
//!
//! Training MNIST from a program (`examples/train_mnist.rs` does it for
//! every optimizer):
//!
//! ```no_run
//! use descent::optim::OptimizerKind;
//! use descent::tensor::Compute;
//! use descent::train::data::{Mnist, Normalize};
//! use descent::train::{RunConfig, Trainer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mnist = Mnist::load("data/mnist".as_ref(), Normalize::Standard)?;
//! let cfg = RunConfig { optimizer: OptimizerKind::Adam, epochs: 1, ..RunConfig::default() };
//! let mut trainer = Trainer::new(cfg, &mnist, Compute::threads(2))?; // the same bits on any count
//! trainer.run(&mut [])?; // observers: progress, metrics, checkpoints
//! println!("{:?}", trainer.history.epochs.last());
//! # Ok(())
//! # }
//! ```

pub use descent_core as tensor;
pub use descent_nn as nn;
pub use descent_optim as optim;
pub use descent_profile as profile;
pub use descent_train as train;
