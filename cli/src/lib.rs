//! The library behind the `descent` binary: MNIST loading ([`data`]) and
//! safetensors checkpoints ([`checkpoint`]).

pub mod checkpoint;
pub mod commands;
pub mod data;
pub mod landscape;
pub mod metrics;
pub mod opts;
pub mod plot;
pub mod report;
pub mod sweep;
pub mod train;
