//! Typed errors of the nn crate: each names the argument that is wrong and
//! what was expected of it.

use descent_core::CoreError;
use thiserror::Error;

/// Errors from building, running and checking an [`Mlp`](crate::Mlp).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NnError {
    /// `Mlp::new` needs at least an input and an output width.
    #[error("sizes: an MLP needs at least 2 layer widths (input and output), got {0:?}")]
    TooFewSizes(Vec<usize>),
    /// A layer width of zero.
    #[error("sizes: every layer width must be positive, but sizes[{index}] is 0 in {sizes:?}")]
    ZeroSize { sizes: Vec<usize>, index: usize },
    /// A batch size of zero where one or more rows are needed.
    #[error("{what}: the batch size must be positive")]
    ZeroBatch { what: &'static str },
    /// A slice whose length does not fit the shape it must hold.
    #[error("{what}: expected {expected} values ({shape}) but got {got}")]
    BadLength {
        what: &'static str,
        expected: usize,
        shape: String,
        got: usize,
    },
    /// `backward` (or a loss) was called before a `forward` of that batch.
    #[error("{what}: no forward pass of a batch of {batch} rows is stored (call forward first)")]
    NoForward { what: &'static str, batch: usize },
    /// An error from the tensor core (shape mismatch, bad label, …).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// `Result` with [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;

/// Errors unless `got == expected`, describing the expected shape.
pub(crate) fn check_len(
    what: &'static str,
    got: usize,
    expected: usize,
    shape: impl FnOnce() -> String,
) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(NnError::BadLength {
            what,
            expected,
            shape: shape(),
            got,
        })
    }
}
