//! Typed errors of the core: every shape mismatch prints both shapes.

use thiserror::Error;

/// Errors returned by the core's checked entry points.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// Two operands whose shapes must agree do not.
    #[error("shape mismatch in {op}: {left_name} is {left:?} but {right_name} is {right:?}")]
    ShapeMismatch {
        op: &'static str,
        left_name: &'static str,
        left: Vec<usize>,
        right_name: &'static str,
        right: Vec<usize>,
    },
    /// A buffer is too short (or too long) for the shape it is said to hold.
    #[error("{what}: shape {shape:?} needs {needed} elements but the buffer has {len}")]
    BadLength {
        what: &'static str,
        shape: Vec<usize>,
        needed: usize,
        len: usize,
    },
    /// A strided view would reach past the end of its buffer.
    #[error("{what}: a {rows}x{cols} view with strides ({rs}, {cs}) reaches element {last} but the buffer has {len}")]
    OutOfBounds {
        what: &'static str,
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
        last: usize,
        len: usize,
    },
    /// A writable view whose strides make two elements share memory.
    #[error("output view {rows}x{cols} with strides ({rs}, {cs}) would write some elements twice")]
    Aliasing {
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    },
    /// A class label is not below the number of classes.
    #[error("label {label} at row {row} is not below the number of classes {classes}")]
    BadLabel {
        row: usize,
        label: usize,
        classes: usize,
    },
    /// An environment variable that forces a choice of the host (the
    /// caches, the GEMM kernel) holds something descent cannot read.
    #[error("{var}={value:?}: {reason}")]
    BadEnv {
        var: &'static str,
        value: String,
        reason: String,
    },
}

/// `Result` with [`CoreError`].
pub type Result<T> = std::result::Result<T, CoreError>;
