//! The library behind the `descent` binary: its arguments, commands,
//! terminal output, reports and plots. The training itself (data, the
//! trainer, checkpoints, metrics records) is `descent-train`'s; its modules
//! are re-exported here under their old paths.

pub use descent_train::{checkpoint, data, metrics};

pub mod chart;
pub mod commands;
pub mod console;
pub mod error;
pub mod landscape;
pub mod opts;
pub mod plot;
pub mod png;
pub mod profile;
pub mod report;
pub mod roofline;
pub mod sweep;
