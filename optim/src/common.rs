//! What every optimizer shares: field validation, the clipping pre-pass and
//! the checks of an imported state.

use crate::error::{OptimError, Result};
use crate::{OptimState, StepInfo};
use descent_core::simd::Wide;
use descent_core::step::{clip_scale, grad_norm, grad_scale};

fn invalid(
    optimizer: &'static str,
    field: &'static str,
    value: f32,
    reason: &'static str,
) -> OptimError {
    OptimError::InvalidConfig {
        optimizer,
        field,
        value: value.to_string(),
        reason,
    }
}

/// A finite value ≥ 0 (learning rates, weight decay, momentum).
pub(crate) fn non_negative(opt: &'static str, field: &'static str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(opt, field, v, "must be finite and >= 0"))
    }
}

/// A finite value > 0 (eps, clip norm, σ).
pub(crate) fn positive(opt: &'static str, field: &'static str, v: f32) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(opt, field, v, "must be finite and > 0"))
    }
}

/// A value in `[0, 1)` (Adam's betas).
pub(crate) fn half_open_unit(opt: &'static str, field: &'static str, v: f32) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(opt, field, v, "must be in [0, 1)"))
    }
}

/// A value in `[0, 1]` (RMSprop's α, dampening, factors).
pub(crate) fn closed_unit(opt: &'static str, field: &'static str, v: f32) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(opt, field, v, "must be in [0, 1]"))
    }
}

/// `clip_norm`, when set, must be finite and > 0.
pub(crate) fn clip(opt: &'static str, clip_norm: Option<f32>) -> Result<()> {
    match clip_norm {
        Some(c) => positive(opt, "clip_norm", c),
        None => Ok(()),
    }
}

/// Checks the lengths of a step and computes the gradient factor the
/// kernels apply: `(maximize ? −1 : 1)·min(1, c/(‖g‖ + 1e-6))` when clipping
/// at `c`. `‖g‖` is `norm` when the caller already has it, else one
/// read-only pass over the gradients.
pub(crate) fn prepare(
    opt: &'static str,
    params: &[f32],
    grads: &[f32],
    state_len: Option<usize>,
    clip_norm: Option<f32>,
    maximize: bool,
    norm: Option<f32>,
) -> Result<(StepInfo, f32)> {
    if grads.len() != params.len() {
        return Err(OptimError::LengthMismatch {
            optimizer: opt,
            what: "grads (vs params)",
            expected: params.len(),
            got: grads.len(),
        });
    }
    if let Some(n) = state_len {
        if n != params.len() {
            return Err(OptimError::LengthMismatch {
                optimizer: opt,
                what: "params (vs the optimizer's state)",
                expected: n,
                got: params.len(),
            });
        }
    }
    let (norm, scale) = match clip_norm {
        Some(c) => {
            let n = norm.unwrap_or_else(|| grad_norm::<Wide>(grads));
            (Some(n), clip_scale(n, c))
        }
        None => (None, 1.0),
    };
    Ok((
        StepInfo {
            grad_norm: norm,
            clip_scale: scale,
        },
        grad_scale(maximize, scale),
    ))
}

/// Validates an imported state against the buffer names a config uses and
/// returns the buffers in the order of `names` (empty when `step == 0`).
///
/// Rules: every name present exactly once and nothing else; all buffers of
/// one length; step 0 ⇔ no buffers (for optimizers that have buffers).
pub(crate) fn take_buffers(
    opt: &'static str,
    state: &OptimState,
    names: &[&'static str],
) -> Result<Vec<Vec<f32>>> {
    for (name, _) in &state.buffers {
        if !names.contains(&name.as_str()) {
            return Err(OptimError::UnexpectedBuffer {
                optimizer: opt,
                name: name.clone(),
                expected: names.to_vec(),
            });
        }
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if (state.step == 0) != state.buffers.is_empty() {
        return Err(OptimError::InconsistentState {
            optimizer: opt,
            step: state.step,
            buffers: state.buffers.len(),
        });
    }
    if state.buffers.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(names.len());
    let mut len = None;
    for &name in names {
        let mut found = state.buffers.iter().filter(|(n, _)| n == name);
        let buf = match found.next() {
            Some((_, b)) => b,
            None => {
                return Err(OptimError::MissingBuffer {
                    optimizer: opt,
                    name: name.to_string(),
                })
            }
        };
        if found.next().is_some() {
            return Err(OptimError::UnexpectedBuffer {
                optimizer: opt,
                name: format!("{name} (twice)"),
                expected: names.to_vec(),
            });
        }
        let expected = *len.get_or_insert(buf.len());
        if buf.len() != expected {
            return Err(OptimError::BufferLength {
                optimizer: opt,
                name: name.to_string(),
                expected,
                got: buf.len(),
            });
        }
        out.push(buf.clone());
    }
    Ok(out)
}

/// Pairs names with buffers for export (nothing before the first step).
pub(crate) fn named(step: u64, bufs: &[(&'static str, &Vec<f32>)]) -> OptimState {
    let started = bufs.first().is_some_and(|(_, b)| !b.is_empty()) || step > 0;
    OptimState {
        step,
        buffers: if started {
            bufs.iter()
                .map(|(n, b)| (n.to_string(), (*b).clone()))
                .collect()
        } else {
            Vec::new()
        },
    }
}
