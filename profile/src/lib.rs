//! Where one training step's time goes, against this machine's own limits
//! (`descent profile`).
//!
//! [`run()`] takes real steps of a [`descent_train::Trainer`] on its data and times every
//! phase of each ([`descent_train::Phase`]: the gather, each layer's forward GEMM with its
//! fused epilogue, softmax-CE, each layer's dW, db and dX, each
//! activation's backward, the optimizer's norm and update) with
//! [`descent_train::Trainer::step_probed`]: the training code itself tells the clock when
//! each phase is done, so nothing is timed twice or twice written. Steps
//! alternate between probed and unprobed; the unprobed ones give the step
//! time the phases must add up to. The test-set evaluation is timed too.
//!
//! Each phase gets its FLOPs and bytes from the shapes ([`step_costs`]),
//! and from them GFLOP/s, GB/s, arithmetic intensity and the share of the
//! roof it reaches: the roofs are measured in the same run, on the same
//! threads ([`roof`]).
//!
//! # What is counted
//! B batch rows; layer l maps I = s_l inputs to O = s_{l+1} outputs; C
//! classes; P parameters; 4 bytes per float. Bytes are each operand read
//! once and each result written once (the least traffic the phase needs;
//! the caches may make a kernel move more). A multiply-add is 2 FLOPs.
//!
//! The footprint, the distinct bytes a phase touches, picks the cache
//! level it streams from: the smallest whose capacity holds it (the
//! gather's is the whole training set of bytes its rows come from; the update's
//! and the activations' backward count arrays updated in place once).
//!
//! | phase | FLOPs | bytes |
//! |---|---|---|
//! | gather | 3·B·s₀ (`(p/255 − mean)/std`) | 5·B·s₀ + 8·B (pixel bytes read, floats written; labels read and written) |
//! | forward l | 2·B·I·O + B·O (the bias; ReLU's max is not counted) | 4·(B·I + O·I + O + B·O) |
//! | sigmoid/tanh l (unfused) | B·O (one per evaluation) | 8·B·O |
//! | softmax-CE | 5·B·C (max, exp, sum, normalise, −onehot and /B) | 4·(2·B·C + B) |
//! | dW l | 2·B·I·O | 4·(B·O + B·I + O·I) |
//! | db l | B·O | 4·(B·O + O) |
//! | dX l (l > 0) | 2·B·I·O | 4·(B·O + O·I + B·I) |
//! | f′ l (ReLU) | B·O (a select) | 12·B·O (y, dH read, dH written) |
//! | f′ l (sigmoid, tanh) | 3·B·O | 12·B·O |
//! | update | 2·P + P·([`update_flops`]) | 4·P + 4·P·(3 + 2·k), k state buffers: the norm's pass over g, then the fused step |
//! | search | 2 × (forward + softmax-CE) + 2·P | 2 × theirs + 36·P |
//! | eval | forward + softmax-CE of every test batch | theirs |
//!
//! # The crate
//! - [`cost`]: the cost model, FLOPs, bytes and footprint of each phase;
//! - [`roof`]: this machine's roofs, the FMA peak per SIMD width and the
//!   STREAM-style copy and triad bandwidth per cache level;
//! - [`gemm`]: every GEMM of a step alone, against matrixmultiply;
//! - [`mod@run`]: the profile itself and its report, [`Profile`];
//! - [`stats`]: the spread of a set of timings.
//!
//! It reaches the trainer through its public API only
//! ([`descent_train::Trainer::step_probed`] and the trainer's fields).

pub mod cost;
pub mod gemm;
pub mod roof;
pub mod run;
pub mod stats;

pub use cost::{eval_cost, fused_step_costs, step_costs, update_flops, Cost, StepShape};
pub use gemm::{compare_gemms, GemmCase, GemmComparison};
pub use roof::{Bandwidth, Peak, Roofs};
pub use run::{
    cpu_model, run, step_shape, EpochReport, Machine, PhaseReport, Profile, ProfileOptions,
    WorkKind,
};
pub use stats::Spread;
