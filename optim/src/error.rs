//! Typed errors of the optimizers: every one names the field, buffer or
//! length that is wrong and the offending value.

use thiserror::Error;

/// Errors returned by configs, steps, schedules and state import.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OptimError {
    /// A config field holds a value outside its valid range.
    #[error("{optimizer}: {field} = {value} is invalid: {reason}")]
    InvalidConfig {
        /// The optimizer or schedule, e.g. `"adam"`.
        optimizer: &'static str,
        /// The field, e.g. `"beta1"`.
        field: &'static str,
        /// The offending value, printed.
        value: String,
        /// What a valid value looks like, e.g. `"must be in [0, 1)"`.
        reason: &'static str,
    },
    /// Two buffers that must have the same length do not.
    #[error("{optimizer}: {what} has {got} elements but {expected} were expected")]
    LengthMismatch {
        /// The optimizer.
        optimizer: &'static str,
        /// Which buffer, e.g. `"grads"` or `"params (vs the state)"`.
        what: &'static str,
        /// The length it should have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// The rule orthogonalises weight matrices and was given none (no
    /// tensor shapes bound, as on the 2-D landscape, or no 2-D tensor).
    #[error(
        "{optimizer}: needs weight matrices (it orthogonalises each one's update), and the \
         parameters have none: train an MLP with it; the 2-D landscape has no matrices"
    )]
    NeedsMatrices {
        /// The optimizer.
        optimizer: &'static str,
    },
    /// A step whose weights were stepped by the caller, asked of an
    /// optimizer that has no such step (`Optimizer::descent`).
    #[error(
        "{optimizer}: cannot complete a step the caller fused into its GEMMs (only SGD without weight decay can)"
    )]
    NoDescent {
        /// The optimizer.
        optimizer: &'static str,
    },
    /// A computation inside the step failed (a GEMM refused its shapes).
    #[error("{optimizer}: {message}")]
    Compute {
        /// The optimizer.
        optimizer: &'static str,
        /// What failed.
        message: String,
    },
    /// An imported state lacks a buffer this optimizer's config needs.
    #[error("{optimizer}: imported state has no buffer {name:?}")]
    MissingBuffer {
        /// The optimizer.
        optimizer: &'static str,
        /// The missing buffer's name.
        name: String,
    },
    /// An imported state has a buffer this optimizer's config does not use.
    #[error(
        "{optimizer}: imported state has an unexpected buffer {name:?} (expected {expected:?})"
    )]
    UnexpectedBuffer {
        /// The optimizer.
        optimizer: &'static str,
        /// The buffer's name.
        name: String,
        /// The names this config uses.
        expected: Vec<&'static str>,
    },
    /// An imported buffer's length differs from the others'.
    #[error(
        "{optimizer}: imported buffer {name:?} has {got} elements but {expected} were expected"
    )]
    BufferLength {
        /// The optimizer.
        optimizer: &'static str,
        /// The buffer's name.
        name: String,
        /// The length of the other buffers.
        expected: usize,
        /// Its length.
        got: usize,
    },
    /// An imported state claims steps were taken but carries no buffers (or
    /// buffers at step 0).
    #[error("{optimizer}: imported state is inconsistent: step {step} with {buffers} buffers")]
    InconsistentState {
        /// The optimizer.
        optimizer: &'static str,
        /// Its step count.
        step: u64,
        /// How many buffers it carries.
        buffers: usize,
    },
    /// Reduce-on-plateau was advanced without the metric it watches.
    #[error("schedule reduce_on_plateau: advance() needs the metric the trainer monitors")]
    MetricRequired,
    /// An optimizer name that [`crate::OptimizerKind`] does not know.
    #[error("unknown optimizer {name:?}: expected one of gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, random-search, random-sample")]
    UnknownOptimizer {
        /// The name given.
        name: String,
    },
    /// A hyper-parameter was given to an optimizer that does not have it.
    #[error("{field}: {optimizer} has no such hyper-parameter")]
    NotApplicable {
        /// The optimizer, e.g. `"sgd"`.
        optimizer: &'static str,
        /// The field given, e.g. `"beta1"`.
        field: &'static str,
    },
}

/// `Result` with [`OptimError`].
pub type Result<T> = std::result::Result<T, OptimError>;
