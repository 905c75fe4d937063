//! Gradient checking — "follow the slope", checked: backprop's dL/dθ
//! against central finite differences for every parameter,
//!
//! `numeric = (L(θ + h·e_k) − L(θ − h·e_k)) / 2h`,  error O(h²),
//!
//! reported per parameter tensor as the worst relative error
//! `|analytic − numeric| / max(|analytic|, |numeric|, floor)`, with
//! `floor = REL_FLOOR · max_k |analytic_k|` over the whole net
//! ([`REL_FLOOR`] = 1e-2). The floor is needed because the finite
//! difference has an absolute noise floor (`ε·|L| / h`: about 3e-5 in f32
//! at h = 3e-3): a gradient 1e4 times smaller than the largest one would
//! otherwise report a large "relative" error that is only rounding. A wrong
//! formula is wrong on a whole tensor, whose largest entries are compared
//! at full relative precision.
//!
//! Two paths:
//! - [`gradcheck`] runs the network itself in f32. Rounding of the loss
//!   (~1e-7 relative) divided by 2h limits it: with h = 3e-3 the tests
//!   see worst errors of 1e-3 … 7e-3. A wrong backward formula gives
//!   errors of order 1.
//! - [`gradcheck_f64`] runs an independent, naive f64 twin of the whole
//!   network ([`reference_loss_and_grad`]: plain index loops, no GEMM),
//!   where h = 1e-5 gives errors near 1e-9. Comparing the f32 network's
//!   gradients with the f64 twin's then checks the fast path to f32
//!   precision.
//!
//! ReLU has a kink at 0: if some pre-activation lies within h of 0, the
//! finite difference straddles it and disagrees with either one-sided
//! derivative. Keep h small against the pre-activations' spread.

use descent_core::Compute;

use crate::activation::Activation;
use crate::error::{check_len, NnError, Result};
use crate::loss::{Loss, Targets};
use crate::mlp::{layer_ranges, Mlp};

/// Denominator floor of the relative error, as a fraction of the largest
/// analytic gradient of the net (see the module docs).
pub const REL_FLOOR: f64 = 1e-2;

/// The worst disagreement found in one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorCheck {
    /// The tensor's state-dict name (`"0.weight"`, …).
    pub name: String,
    /// Worst relative error over the tensor's elements.
    pub max_rel_err: f64,
    /// Index within the tensor of that element.
    pub worst_index: usize,
    /// Backprop's gradient there.
    pub analytic: f64,
    /// The finite difference there.
    pub numeric: f64,
    /// Worst absolute error `|analytic − numeric|` over the tensor.
    pub max_abs_err: f64,
}

/// Folds per-parameter (analytic, numeric) pairs into one [`TensorCheck`]
/// per tensor of `net`'s layout.
fn per_tensor(net: &Mlp, analytic: &[f64], numeric: &[f64]) -> Vec<TensorCheck> {
    let floor = REL_FLOOR * analytic.iter().fold(0.0f64, |m, a| m.max(a.abs()));
    // An all-zero gradient still needs a positive floor.
    let floor = floor.max(f64::MIN_POSITIVE);
    let rel_err = |a: f64, n: f64| (a - n).abs() / a.abs().max(n.abs()).max(floor);
    net.layout()
        .iter()
        .map(|t| {
            let mut worst = TensorCheck {
                name: t.name.clone(),
                max_rel_err: -1.0,
                worst_index: 0,
                analytic: 0.0,
                numeric: 0.0,
                max_abs_err: 0.0,
            };
            for (k, g) in t.range().enumerate() {
                let e = rel_err(analytic[g], numeric[g]);
                worst.max_abs_err = worst.max_abs_err.max((analytic[g] - numeric[g]).abs());
                if e > worst.max_rel_err {
                    worst = TensorCheck {
                        name: t.name.clone(),
                        max_rel_err: e,
                        worst_index: k,
                        analytic: analytic[g],
                        numeric: numeric[g],
                        max_abs_err: worst.max_abs_err,
                    };
                }
            }
            worst
        })
        .collect()
}

/// Checks `net`'s backprop in f32 on the batch `x` (rows = `x.len() / s0`)
/// with `loss` and `targets`, perturbing each parameter by ±`h`. Leaves the
/// parameters as they were and the gradients equal to this batch's
/// gradients (it zeroes them first). Returns one [`TensorCheck`] per tensor.
pub fn gradcheck(
    net: &mut Mlp,
    x: &[f32],
    loss: Loss,
    targets: Targets,
    h: f32,
) -> Result<Vec<TensorCheck>> {
    // A numerical check of a small net: one thread is the honest clock.
    let cx = &Compute::serial();
    let batch = x.len() / net.sizes()[0];
    net.zero_grad();
    net.loss_and_backward_with(cx, x, loss, targets)?;
    let analytic: Vec<f64> = net.grads().iter().map(|&g| g as f64).collect();
    let mut numeric = vec![0.0f64; net.num_params()];
    for (k, num) in numeric.iter_mut().enumerate() {
        let p = net.params()[k];
        let (up, down) = (p + h, p - h);
        net.params_mut()[k] = up;
        net.forward(cx, x, batch)?;
        let lp = net.loss_grad(loss, targets)? as f64;
        net.params_mut()[k] = down;
        net.forward(cx, x, batch)?;
        let lm = net.loss_grad(loss, targets)? as f64;
        net.params_mut()[k] = p;
        // Divide by the step actually taken after rounding p ± h to f32.
        *num = (lp - lm) / (up as f64 - down as f64);
    }
    Ok(per_tensor(net, &analytic, &numeric))
}

/// As [`gradcheck`], but on the naive f64 twin of `net`
/// ([`reference_loss_and_grad`]) with `net`'s parameters widened to f64:
/// checks the derivation itself, free of f32 rounding. `net` is not changed.
pub fn gradcheck_f64(
    net: &Mlp,
    x: &[f32],
    loss: Loss,
    targets: Targets,
    h: f64,
) -> Result<Vec<TensorCheck>> {
    let mut params: Vec<f64> = net.params().iter().map(|&p| p as f64).collect();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let (sizes, act) = (net.sizes(), net.activation());
    let (_, analytic) = reference_loss_and_grad(sizes, act, &params, &x64, loss, targets)?;
    let mut numeric = vec![0.0f64; params.len()];
    for (k, num) in numeric.iter_mut().enumerate() {
        let p = params[k];
        params[k] = p + h;
        let (lp, _) = reference_loss_and_grad(sizes, act, &params, &x64, loss, targets)?;
        params[k] = p - h;
        let (lm, _) = reference_loss_and_grad(sizes, act, &params, &x64, loss, targets)?;
        params[k] = p;
        *num = (lp - lm) / (2.0 * h);
    }
    Ok(per_tensor(net, &analytic, &numeric))
}

/// The whole network in f64 with plain loops, independent of the fast path
/// (no GEMM, no SIMD): loss and dL/dθ (same flat layout as
/// [`Mlp::params`]) for widths `sizes`, hidden activation `act`, flat
/// parameters `params`, input `x` (B, s0) and `targets`.
pub fn reference_loss_and_grad(
    sizes: &[usize],
    act: Activation,
    params: &[f64],
    x: &[f64],
    loss: Loss,
    targets: Targets,
) -> Result<(f64, Vec<f64>)> {
    let layout = crate::mlp::param_layout(sizes)?;
    let n = layout.last().map_or(0, |t| t.offset + t.len());
    check_len("reference params", params.len(), n, || {
        format!("the layout of {sizes:?}")
    })?;
    let s0 = sizes[0];
    let batch = x.len() / s0;
    if batch == 0 {
        return Err(NnError::ZeroBatch {
            what: "reference input x",
        });
    }
    check_len("reference input x", x.len(), batch * s0, || {
        format!("rows of {s0}")
    })?;
    let nl = sizes.len() - 1;
    let f = |z: f64| match act {
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Tanh => z.tanh(),
    };
    let fprime_from_y = |y: f64| match act {
        Activation::Relu => (y > 0.0) as u8 as f64,
        Activation::Sigmoid => y * (1.0 - y),
        Activation::Tanh => 1.0 - y * y,
    };

    // Forward: a[0] = x, a[l+1] = f(a[l]·W_lᵀ + b_l) (no f on the last).
    let mut a: Vec<Vec<f64>> = vec![x.to_vec()];
    for l in 0..nl {
        let (ni, no) = (sizes[l], sizes[l + 1]);
        let (wr, br) = layer_ranges(&layout, l);
        let (w, b) = (&params[wr], &params[br]);
        let mut out = vec![0.0; batch * no];
        for r in 0..batch {
            for o in 0..no {
                let mut z = b[o];
                for i in 0..ni {
                    z += a[l][r * ni + i] * w[o * ni + i];
                }
                out[r * no + o] = if l + 1 < nl { f(z) } else { z };
            }
        }
        a.push(out);
    }

    // Loss and dL/dZ of the logits.
    let c = sizes[nl];
    let z = &a[nl];
    let mut dz = vec![0.0; batch * c];
    let total = match (loss, targets) {
        (Loss::SoftmaxCrossEntropy, Targets::Labels(labels)) => {
            check_len("reference labels", labels.len(), batch, || {
                format!("{batch} rows")
            })?;
            let mut total = 0.0;
            for r in 0..batch {
                let y = labels[r] as usize;
                if y >= c {
                    return Err(descent_core::CoreError::BadLabel {
                        row: r,
                        label: y,
                        classes: c,
                    }
                    .into());
                }
                let row = &z[r * c..(r + 1) * c];
                let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
                total += s.ln() - (row[y] - m);
                for j in 0..c {
                    let p = (row[j] - m).exp() / s;
                    dz[r * c + j] = (p - (j == y) as u8 as f64) / batch as f64;
                }
            }
            total / batch as f64
        }
        (Loss::Mse, t) => {
            let target = |r: usize, j: usize| -> f64 {
                match t {
                    Targets::Labels(l) => (l[r] as usize == j) as u8 as f64,
                    Targets::Values(v) => v[r * c + j] as f64,
                }
            };
            match t {
                Targets::Labels(l) => check_len("reference labels", l.len(), batch, || {
                    format!("{batch} rows")
                })?,
                Targets::Values(v) => check_len("reference targets", v.len(), batch * c, || {
                    format!("{batch} × {c}")
                })?,
            }
            let n = (batch * c) as f64;
            let mut total = 0.0;
            for r in 0..batch {
                for j in 0..c {
                    let d = z[r * c + j] - target(r, j);
                    total += d * d;
                    dz[r * c + j] = 2.0 * d / n;
                }
            }
            total / n
        }
        (Loss::SoftmaxCrossEntropy, Targets::Values(_)) => {
            return Loss::SoftmaxCrossEntropy
                .loss_and_grad(&[], targets, c, &mut [])
                .map(|_| unreachable!("real targets for cross-entropy are rejected"));
        }
    };

    // Backward: dW_l += dYᵀ·a[l], db_l += Σ_rows dY, dA = dY·W_l, dZ = dA ⊙ f′.
    let mut grads = vec![0.0; n];
    let mut dy = dz;
    for l in (0..nl).rev() {
        let (ni, no) = (sizes[l], sizes[l + 1]);
        let (wr, br) = layer_ranges(&layout, l);
        for o in 0..no {
            for i in 0..ni {
                let mut s = 0.0;
                for r in 0..batch {
                    s += dy[r * no + o] * a[l][r * ni + i];
                }
                grads[wr.start + o * ni + i] += s;
            }
            for r in 0..batch {
                grads[br.start + o] += dy[r * no + o];
            }
        }
        if l > 0 {
            let w = &params[wr];
            let mut dx = vec![0.0; batch * ni];
            for r in 0..batch {
                for i in 0..ni {
                    let mut s = 0.0;
                    for o in 0..no {
                        s += dy[r * no + o] * w[o * ni + i];
                    }
                    dx[r * ni + i] = s * fprime_from_y(a[l][r * ni + i]);
                }
            }
            dy = dx;
        }
    }
    Ok((total, grads))
}
