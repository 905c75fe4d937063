//! Losses on the network's raw outputs (logits) `Z`, shape (B, C):
//! B = batch rows, C = outputs (classes). Each returns the mean loss and
//! writes dL/dZ, the gradient that starts the backward pass.
//!
//! - Softmax cross-entropy with integer labels (`nn.CrossEntropyLoss`):
//!   `L = (1/B) Σ_i −log softmax(z_i)[y_i]`. Softmax and the log-loss share
//!   one backward: `dZ = (softmax(Z) − onehot(y)) / B`. Derivation: with
//!   `p = softmax(z)`, `∂p_k/∂z_j = p_k([k = j] − p_j)`, so
//!   `∂(−log p_y)/∂z_j = −(1/p_y)·p_y([y = j] − p_j) = p_j − [j = y]`.
//!   The fused kernel is the core's [`ops::softmax_cross_entropy`].
//! - Mean squared error (`nn.MSELoss`, reduction "mean" over all B·C
//!   elements): `L = (1/(B·C)) Σ_ij (z_ij − t_ij)²`, `dZ = 2(Z − T)/(B·C)`,
//!   with real targets T or one-hot targets built from labels.

use descent_core::ops;
use descent_core::CoreError;

use crate::error::{check_len, Result};

/// Which loss ends the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Softmax + cross-entropy on logits, integer labels.
    SoftmaxCrossEntropy,
    /// Mean squared error, with real targets or one-hot labels.
    Mse,
}

/// What the outputs are compared with.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// One class index per row, each `< C`.
    Labels(&'a [u32]),
    /// A real target per output, row-major (B, C); MSE only.
    Values(&'a [f32]),
}

impl Loss {
    /// Computes the mean loss over the batch of logits `z` (B, C) against
    /// `targets` and writes dL/dZ into `dz` (B, C). See the module docs for
    /// the formulas. Errors on a label `≥ C`, on lengths that do not fit
    /// (B, C), and on real-valued targets for cross-entropy.
    pub fn loss_and_grad(
        self,
        z: &[f32],
        targets: Targets,
        classes: usize,
        dz: &mut [f32],
    ) -> Result<f32> {
        match (self, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Labels(labels)) => {
                softmax_cross_entropy(z, labels, classes, dz)
            }
            (Loss::SoftmaxCrossEntropy, Targets::Values(v)) => Err(crate::NnError::BadLength {
                what: "softmax cross-entropy targets",
                expected: z.len() / classes.max(1),
                shape: "one integer label per row, not real values".into(),
                got: v.len(),
            }),
            (Loss::Mse, Targets::Labels(labels)) => mse_one_hot(z, labels, classes, dz),
            (Loss::Mse, Targets::Values(t)) => mse(z, t, dz),
        }
    }
}

/// Mean softmax cross-entropy of logits `z` (B, C), B = `labels.len()`,
/// and `dz = (softmax(z) − onehot(labels)) / B`. A thin checked wrapper
/// over the core's fused, single-pass [`ops::softmax_cross_entropy`].
pub fn softmax_cross_entropy(
    z: &[f32],
    labels: &[u32],
    classes: usize,
    dz: &mut [f32],
) -> Result<f32> {
    let b = labels.len();
    check_len("softmax cross-entropy logits", z.len(), b * classes, || {
        format!("{b} labels × {classes} classes")
    })?;
    check_len("softmax cross-entropy gradient", dz.len(), z.len(), || {
        format!("same as the logits, {b} × {classes}")
    })?;
    Ok(ops::softmax_cross_entropy(z, labels, classes, dz)?)
}

/// Mean squared error against real targets: `L = (1/N) Σ (z − t)²` over
/// all N = `z.len()` elements, `dz = 2(z − t)/N`. Returns 0 for N = 0.
pub fn mse(z: &[f32], t: &[f32], dz: &mut [f32]) -> Result<f32> {
    check_len("mse targets", t.len(), z.len(), || {
        "same as the outputs".into()
    })?;
    check_len("mse gradient", dz.len(), z.len(), || {
        "same as the outputs".into()
    })?;
    if z.is_empty() {
        return Ok(0.0);
    }
    let scale = 2.0 / z.len() as f32;
    // f64 sum: the loss is reported, so it should not depend on N's size.
    let mut total = 0.0f64;
    for ((d, &zi), &ti) in dz.iter_mut().zip(z).zip(t) {
        let r = zi - ti;
        total += (r as f64) * (r as f64);
        *d = scale * r;
    }
    Ok((total / z.len() as f64) as f32)
}

/// MSE against one-hot targets: `t_ij = [j = labels_i]`, otherwise as
/// [`mse`]. No target matrix is built.
pub fn mse_one_hot(z: &[f32], labels: &[u32], classes: usize, dz: &mut [f32]) -> Result<f32> {
    let b = labels.len();
    check_len("mse logits", z.len(), b * classes, || {
        format!("{b} labels × {classes} classes")
    })?;
    check_len("mse gradient", dz.len(), z.len(), || {
        format!("same as the outputs, {b} × {classes}")
    })?;
    if let Some(row) = labels.iter().position(|&l| l as usize >= classes) {
        return Err(CoreError::BadLabel {
            row,
            label: labels[row] as usize,
            classes,
        }
        .into());
    }
    if z.is_empty() {
        return Ok(0.0);
    }
    let scale = 2.0 / z.len() as f32;
    let mut total = 0.0f64;
    for (i, &label) in labels.iter().enumerate() {
        for j in 0..classes {
            let k = i * classes + j;
            let r = z[k] - if j == label as usize { 1.0 } else { 0.0 };
            total += (r as f64) * (r as f64);
            dz[k] = scale * r;
        }
    }
    Ok((total / z.len() as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_one_hot_equals_mse_with_built_targets() {
        let z = [0.2, -1.0, 3.0, 0.5, 0.0, 1.5];
        let labels = [2, 0];
        let t = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let (mut d1, mut d2) = ([0.0; 6], [0.0; 6]);
        let l1 = mse_one_hot(&z, &labels, 3, &mut d1).unwrap();
        let l2 = mse(&z, &t, &mut d2).unwrap();
        assert_eq!(l1, l2);
        assert_eq!(d1, d2);
        // (0.04 + 1 + 4 + 0.25 + 0 + 2.25) / 6
        assert!((l1 - 7.54 / 6.0).abs() < 1e-6, "{l1}");
        assert!((d1[2] - 2.0 * 2.0 / 6.0).abs() < 1e-7);
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_c() {
        let z = [0.0f32; 8];
        let mut dz = [0.0f32; 8];
        let l = softmax_cross_entropy(&z, &[1, 3], 4, &mut dz).unwrap();
        assert!((l - 4f32.ln()).abs() < 1e-6);
        // (1/4 − [j = y]) / 2
        assert!((dz[0] - 0.125).abs() < 1e-7 && (dz[1] + 0.375).abs() < 1e-7);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let mut dz = [0.0f32; 6];
        let e = mse_one_hot(&[0.0; 6], &[0, 3], 3, &mut dz).unwrap_err();
        assert!(e.to_string().contains("label 3 at row 1"), "{e}");
        let e = softmax_cross_entropy(&[0.0; 5], &[0, 1], 3, &mut dz[..5]).unwrap_err();
        assert!(
            e.to_string().contains("logits") && e.to_string().contains('6'),
            "{e}"
        );
        let e = mse(&[0.0; 6], &[0.0; 4], &mut dz).unwrap_err();
        assert!(e.to_string().contains("mse targets"), "{e}");
        let e = Loss::SoftmaxCrossEntropy
            .loss_and_grad(&[0.0; 6], Targets::Values(&[0.0; 6]), 3, &mut dz)
            .unwrap_err();
        assert!(e.to_string().contains("integer label"), "{e}");
    }
}
