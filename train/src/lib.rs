//! # descent-train
//!
//! What a program that trains needs besides the network and the optimizer,
//! with no command line in it:
//!
//! - [`data`]: MNIST (or any IDX set) from the raw files, gzipped or not,
//!   checked against the real file lengths before anything is allocated,
//!   normalised into line-aligned `f32` buffers;
//! - [`checkpoint`]: safetensors checkpoints with PyTorch `nn.Sequential`
//!   names (`0.weight`, `0.bias`, …), the optimizer state and metadata
//!   beside them, written atomically;
//! - [`metrics`]: per-step and per-epoch records, written as `.jsonl` or
//!   `.csv`.
//!
//! Every failure is a typed error naming the file and what is wrong. The
//! `descent` binary (`descent-cli`) formats these errors for the terminal.

pub mod checkpoint;
pub mod data;
pub mod metrics;
