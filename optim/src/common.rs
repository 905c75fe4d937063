//! The checks every optimizer shares: field validation and the checks of
//! an imported state.

use crate::error::{OptimError, Result};
use crate::OptimState;

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

/// Validates an imported state's carried scalars against a rule's
/// [`crate::Rule::CARRY`] names and returns them in that order: every name
/// exactly once and nothing else when the state has slots (`started`), none
/// before the first step. A missing scalar is reported as a missing buffer
/// of that name, an extra one as an unexpected buffer.
pub(crate) fn take_scalars(
    opt: &'static str,
    state: &OptimState,
    names: &[&'static str],
    started: bool,
) -> Result<Vec<f64>> {
    for (name, _) in &state.scalars {
        if !started || !names.contains(&name.as_str()) {
            return Err(OptimError::UnexpectedBuffer {
                optimizer: opt,
                name: name.clone(),
                expected: if started { names.to_vec() } else { Vec::new() },
            });
        }
    }
    if !started {
        return Ok(Vec::new());
    }
    names
        .iter()
        .map(|&name| {
            let mut found = state.scalars.iter().filter(|(n, _)| n == name);
            match (found.next(), found.next()) {
                (Some(&(_, v)), None) => Ok(v),
                (Some(_), Some(_)) => Err(OptimError::UnexpectedBuffer {
                    optimizer: opt,
                    name: format!("{name} (twice)"),
                    expected: names.to_vec(),
                }),
                (None, _) => Err(OptimError::MissingBuffer {
                    optimizer: opt,
                    name: name.to_string(),
                }),
            }
        })
        .collect()
}

/// The buffers of an imported state whose lengths follow from the bound
/// shapes rather than the parameters (Adafactor's and Muon's): `want` is
/// every name with its length, and a name of length 0 must be absent.
/// Returns them in `want`'s order (empty for the absent ones); the errors
/// name the buffer. A state with buffers must have taken a step.
pub(crate) fn take_sized(
    opt: &'static str,
    state: &OptimState,
    want: &[(&'static str, usize)],
) -> Result<Vec<Vec<f32>>> {
    let names: Vec<&'static str> = want.iter().filter(|w| w.1 > 0).map(|w| w.0).collect();
    let mut taken = vec![Vec::new(); want.len()];
    for (name, buf) in &state.buffers {
        let Some(i) = want.iter().position(|w| w.0 == name && w.1 > 0) else {
            return Err(OptimError::UnexpectedBuffer {
                optimizer: opt,
                name: name.clone(),
                expected: names.clone(),
            });
        };
        if buf.len() != want[i].1 {
            return Err(OptimError::BufferLength {
                optimizer: opt,
                name: name.clone(),
                expected: want[i].1,
                got: buf.len(),
            });
        }
        taken[i] = buf.clone();
    }
    for (w, t) in want.iter().zip(&taken) {
        if w.1 > 0 && t.len() != w.1 {
            return Err(OptimError::MissingBuffer {
                optimizer: opt,
                name: w.0.to_string(),
            });
        }
    }
    if state.step == 0 {
        return Err(OptimError::InconsistentState {
            optimizer: opt,
            step: 0,
            buffers: state.buffers.len(),
        });
    }
    Ok(taken)
}
