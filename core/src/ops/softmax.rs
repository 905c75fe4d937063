use super::same_len;
use crate::error::{CoreError, Result};
use crate::simd::{hsum, load, store, F32x8, LANES};

/// Fused, numerically stable softmax + cross-entropy over a row-major
/// `rows × cols` matrix of logits `z` with integer labels `y`:
///
/// `loss = (1/B) Σ_i [ log Σ_j exp(z_ij − m_i) − (z_i,y_i − m_i) ]`, with
/// `m_i = max_j z_ij` and `B = rows`; and, in the same pass over each row,
/// the gradient `dz_ij = (softmax(z_i)_j − [j = y_i]) / B`.
///
/// Returns the mean loss. A label `≥ cols` is an error naming the row.
/// Subtracting the row max keeps every `exp` in (0, 1], so logits of ±1e4
/// give finite results.
pub fn softmax_cross_entropy(
    z: &[f32],
    labels: &[u32],
    cols: usize,
    dz: &mut [f32],
) -> Result<f32> {
    let rows = labels.len();
    same_len(
        "softmax_cross_entropy (logits vs rows·cols)",
        z.len(),
        rows * cols,
    );
    same_len("softmax_cross_entropy (grad vs logits)", dz.len(), z.len());
    check_labels(labels, cols)?;
    if rows == 0 {
        return Ok(0.0);
    }
    let inv_b = 1.0 / rows as f32;
    let mut total = 0.0f64;
    for (i, &label) in labels.iter().enumerate() {
        let zr = &z[i * cols..(i + 1) * cols];
        let dr = &mut dz[i * cols..(i + 1) * cols];
        let m = super::max(zr);
        // e_j = exp(z_j − m), stored in dr; s = Σ e_j.
        let mv = F32x8::splat(m);
        let body = cols / LANES * LANES;
        let mut sv = F32x8::ZERO;
        for j in (0..body).step_by(LANES) {
            let e = (load::<F32x8>(zr, j) - mv).exp();
            store(dr, j, e);
            sv += e;
        }
        let mut s = hsum(sv);
        for j in body..cols {
            let e = (zr[j] - m).exp();
            dr[j] = e;
            s += e;
        }
        total += (s.ln() - (zr[label as usize] - m)) as f64;
        // dz_j = e_j / (s·B) − [j = y] / B.
        let k = F32x8::splat(inv_b / s);
        for j in (0..body).step_by(LANES) {
            store(dr, j, load::<F32x8>(dr, j) * k);
        }
        let ks = inv_b / s;
        for v in &mut dr[body..] {
            *v *= ks;
        }
        dr[label as usize] -= inv_b;
    }
    Ok((total / rows as f64) as f32)
}

/// Scalar twin of [`softmax_cross_entropy`]: the textbook three loops per
/// row, accumulated in f64.
pub fn softmax_cross_entropy_scalar(
    z: &[f32],
    labels: &[u32],
    cols: usize,
    dz: &mut [f32],
) -> Result<f32> {
    let rows = labels.len();
    same_len(
        "softmax_cross_entropy (logits vs rows·cols)",
        z.len(),
        rows * cols,
    );
    same_len("softmax_cross_entropy (grad vs logits)", dz.len(), z.len());
    check_labels(labels, cols)?;
    if rows == 0 {
        return Ok(0.0);
    }
    let mut total = 0.0f64;
    for (i, &label) in labels.iter().enumerate() {
        let zr = &z[i * cols..(i + 1) * cols];
        let m = zr.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
        let s: f64 = zr.iter().map(|&v| (v as f64 - m).exp()).sum();
        total += s.ln() - (zr[label as usize] as f64 - m);
        for j in 0..cols {
            let p = (zr[j] as f64 - m).exp() / s;
            let onehot = if j == label as usize { 1.0 } else { 0.0 };
            dz[i * cols + j] = ((p - onehot) / rows as f64) as f32;
        }
    }
    Ok((total / rows as f64) as f32)
}

fn check_labels(labels: &[u32], cols: usize) -> Result<()> {
    match labels.iter().position(|&l| l as usize >= cols) {
        Some(row) => Err(CoreError::BadLabel {
            row,
            label: labels[row] as usize,
            classes: cols,
        }),
        None => Ok(()),
    }
}
