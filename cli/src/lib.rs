//! The library behind the `descent` binary: its arguments, commands and
//! terminal output. The pictures and pages are `descent-report`'s. The training itself (data, the
//! trainer, checkpoints, metrics records) is `descent-train`'s; its modules
//! are re-exported here under their old paths.

pub use descent_train::{checkpoint, data, metrics};

pub mod commands;
pub mod compare;
pub mod console;
pub mod error;
pub mod landscape;
pub mod opts;
pub mod profile;
pub mod signal;
pub mod study;
pub mod sweep;
