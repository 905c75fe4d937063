//! # descent-train
//!
//! Training an MLP on MNIST as a library, with no command line in it:
//!
//! - [`Trainer`]: the training loop. [`Trainer::step`] is one step, read
//!   top to bottom (gather → forward → loss → backward → the optimizer's
//!   step, which owns the gradient norm); [`Trainer::run_epoch`] applies the divergence policy
//!   and hands each step's record to [`Observer`]s (progress bars, a
//!   [`metrics::MetricsWriter`], [`SaveEveryEpoch`] checkpoints);
//! - [`RunConfig`]: what decides a run's numbers, checked before anything
//!   is allocated; saved in checkpoints so [`Trainer::resume`] continues a
//!   run bit for bit;
//! - [`tune`]: each optimizer's lr searched on a log grid, scored on a
//!   validation split held out from the training set;
//! - [`data`]: MNIST (or any IDX set) from the raw files, gzipped or not,
//!   checked against the real file lengths before anything is allocated,
//!   normalised into line-aligned `f32` buffers;
//! - [`checkpoint`]: safetensors checkpoints with PyTorch `nn.Sequential`
//!   names (`0.weight`, `0.bias`, …), the optimizer state and metadata
//!   beside them, written atomically;
//! - [`phase`]: the phases of a step, for a profiler's [`Probe`] (the
//!   profiler itself is the `descent-profile` crate);
//! - [`metrics`]: per-step and per-epoch records, written as `.jsonl` or
//!   `.csv`.
//!
//! Every failure is a typed error naming the file or the config field and
//! what is wrong. The `descent` binary (`descent-cli`) formats these errors
//! for the terminal, with its flags' names.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod landscape;
pub mod metrics;
pub mod phase;
mod resume;
mod trainer;
pub mod tune;

pub use config::{OnDivergence, RunConfig, ScheduleName};
pub use phase::{Phase, Probe};
pub use trainer::{EpochProgress, Observer, SaveEveryEpoch, Step, TrainError, Trainer};
