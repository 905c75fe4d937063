//! The library behind the `descent` binary: its arguments, commands, the
//! trainer it drives, reports and plots. Data, checkpoints and metrics
//! records are `descent-train`'s, re-exported here under their old paths.

pub use descent_train::{checkpoint, data, metrics};

pub mod commands;
pub mod landscape;
pub mod opts;
pub mod plot;
pub mod report;
pub mod sweep;
pub mod train;
