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
    let mut done = 0;
    // Rows of at most NARROW classes (MNIST's 10) eight at a time, a lane
    // a row, as `cross_entropy_sum` does: a row of 10 is otherwise one
    // 8-wide vector and two scalar `exp` calls, plus a horizontal sum.
    if (1..=NARROW).contains(&cols) {
        while done + LANES <= rows {
            let r = done * cols..(done + LANES) * cols;
            let group = &labels[done..done + LANES];
            total += match eight_rows_grad(&z[r.clone()], group, cols, inv_b, &mut dz[r.clone()]) {
                Some(l) => l,
                None => rows_one_at_a_time(&z[r.clone()], group, cols, inv_b, &mut dz[r]),
            };
            done += LANES;
        }
    }
    let r = done * cols..;
    total += rows_one_at_a_time(&z[r.clone()], &labels[done..], cols, inv_b, &mut dz[r]);
    Ok((total / rows as f64) as f32)
}

/// [`softmax_cross_entropy`] on eight rows of at most [`NARROW`] logits, a
/// lane each: writes `dz` and returns the rows' summed loss terms, or
/// returns `None` having written nothing when a row's maximum or loss is
/// not finite (the row-at-a-time rules then apply).
fn eight_rows_grad(
    z: &[f32],
    labels: &[u32],
    cols: usize,
    inv_b: f32,
    dz: &mut [f32],
) -> Option<f64> {
    let mut e = [F32x8::ZERO; NARROW];
    for (j, ej) in e.iter_mut().enumerate().take(cols) {
        *ej = F32x8::from(std::array::from_fn::<f32, LANES, _>(|i| z[i * cols + j]));
    }
    let m = e[1..cols].iter().fold(e[0], |m, &x| m.max(x));
    if !m.to_array().iter().all(|x| x.is_finite()) {
        return None;
    }
    // e_j = exp(z_j − m), s = Σ e_j, lane by lane.
    let mut s = F32x8::ZERO;
    for ej in &mut e[..cols] {
        *ej = (*ej - m).exp();
        s += *ej;
    }
    let zy = F32x8::from(std::array::from_fn::<f32, LANES, _>(|i| {
        z[i * cols + labels[i] as usize]
    }));
    let loss = (s.ln() - (zy - m)).to_array();
    if !loss.iter().all(|l| l.is_finite()) {
        return None;
    }
    // dz_j = e_j / (s·B) − [j = y] / B.
    let k = F32x8::splat(inv_b) / s;
    for (j, &ej) in e.iter().enumerate().take(cols) {
        for (i, d) in (ej * k).to_array().into_iter().enumerate() {
            dz[i * cols + j] = d;
        }
    }
    for (i, &y) in labels.iter().enumerate() {
        dz[i * cols + y as usize] -= inv_b;
    }
    Some(loss.iter().map(|&l| l as f64).sum())
}

/// [`softmax_cross_entropy`] one row at a time (any width): writes `dz`
/// and returns the rows' summed loss terms.
fn rows_one_at_a_time(z: &[f32], labels: &[u32], cols: usize, inv_b: f32, dz: &mut [f32]) -> f64 {
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
    total
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

/// Softmax cross-entropy without its gradient, for evaluation: over a
/// row-major `rows × cols` matrix of logits `z` with labels `y`, returns
///
/// - the summed loss `Σ_i [ log Σ_j exp(z_ij − m_i) − (z_i,y_i − m_i) ]`
///   (each row's term in f32, the sum in f64), and
/// - the hits: rows whose first largest logit is at the label (the
///   predictions of [`super::argmax`]).
///
/// No gradient is written, so evaluating many models (a loss landscape)
/// pays only for the loss. Rows of at most [`NARROW`] classes (MNIST's 10)
/// run eight at a time, a lane per row: the columns are gathered into
/// vectors, so the max, the exps and the log are vector operations with no
/// horizontal sums. A group with a non-finite maximum or loss, the rows
/// left over and wider rows run one at a time, as
/// [`softmax_cross_entropy`] does.
pub fn cross_entropy_sum(z: &[f32], labels: &[u32], cols: usize) -> Result<(f64, usize)> {
    check_cross_entropy(z, labels, cols)?;
    let (mut total, mut hits) = (0.0f64, 0usize);
    let mut done = 0;
    if (1..=NARROW).contains(&cols) {
        while done + LANES <= labels.len() {
            let rows = &z[done * cols..(done + LANES) * cols];
            let group = &labels[done..done + LANES];
            let (l, h) = match eight_rows(rows, group, cols) {
                Some(r) => r,
                None => one_row_at_a_time(rows, group, cols),
            };
            total += l;
            hits += h;
            done += LANES;
        }
    }
    let (l, h) = one_row_at_a_time(&z[done * cols..], &labels[done..], cols);
    Ok((total + l, hits + h))
}

/// [`cross_entropy_sum`]'s shapes and labels (its twin's too).
fn check_cross_entropy(z: &[f32], labels: &[u32], cols: usize) -> Result<()> {
    same_len(
        "cross_entropy_sum (logits vs rows·cols)",
        z.len(),
        labels.len() * cols,
    );
    check_labels(labels, cols)
}

/// The widest rows [`cross_entropy_sum`] runs eight at a time.
pub const NARROW: usize = 16;

/// Eight rows of at most [`NARROW`] logits, a lane each; `None` when a
/// row's maximum or loss is not finite (the scalar rules then apply).
fn eight_rows(z: &[f32], labels: &[u32], cols: usize) -> Option<(f64, usize)> {
    let mut v = [F32x8::ZERO; NARROW];
    for (j, vj) in v.iter_mut().enumerate().take(cols) {
        *vj = F32x8::from(std::array::from_fn::<f32, LANES, _>(|i| z[i * cols + j]));
    }
    let m = v[1..cols].iter().fold(v[0], |m, &x| m.max(x));
    let ms = m.to_array();
    if !ms.iter().all(|x| x.is_finite()) {
        return None;
    }
    let s = v[..cols]
        .iter()
        .fold(F32x8::ZERO, |s, &x| s + (x - m).exp());
    let zy = F32x8::from(std::array::from_fn::<f32, LANES, _>(|i| {
        z[i * cols + labels[i] as usize]
    }));
    let loss = (s.ln() - (zy - m)).to_array();
    // A NaN logit need not reach the max (a lane's max skips it): it shows
    // in the loss, and the row's rules are then the scalar ones.
    if !loss.iter().all(|l| l.is_finite()) {
        return None;
    }
    let mut hits = 0;
    for (i, (&y, &mi)) in labels.iter().zip(&ms).enumerate() {
        hits += usize::from(first_max(&z[i * cols..(i + 1) * cols], mi) == y as usize);
    }
    Some((loss.iter().map(|&l| l as f64).sum(), hits))
}

/// [`cross_entropy_sum`]'s rows one at a time, each as
/// [`softmax_cross_entropy`] computes its loss.
fn one_row_at_a_time(z: &[f32], labels: &[u32], cols: usize) -> (f64, usize) {
    let (mut total, mut hits) = (0.0f64, 0usize);
    let body = cols / LANES * LANES;
    for (zr, &label) in z.chunks_exact(cols.max(1)).zip(labels) {
        let m = super::max(zr);
        let mv = F32x8::splat(m);
        let mut sv = F32x8::ZERO;
        for j in (0..body).step_by(LANES) {
            sv += (load::<F32x8>(zr, j) - mv).exp();
        }
        let mut s = hsum(sv);
        for &v in &zr[body..] {
            s += (v - m).exp();
        }
        total += (s.ln() - (zr[label as usize] - m)) as f64;
        hits += usize::from(first_max(zr, m) == label as usize);
    }
    (total, hits)
}

/// The first index of `m`, the row's maximum ([`super::argmax`]'s rule; a
/// NaN maximum falls back to its scalar scan).
fn first_max(zr: &[f32], m: f32) -> usize {
    if m.is_nan() {
        return super::argmax_scalar(zr);
    }
    zr.iter().position(|&v| v == m).unwrap_or(0)
}

/// Scalar twin of [`cross_entropy_sum`]: the textbook loops, in f64.
pub fn cross_entropy_sum_scalar(z: &[f32], labels: &[u32], cols: usize) -> Result<(f64, usize)> {
    check_cross_entropy(z, labels, cols)?;
    let (mut total, mut hits) = (0.0f64, 0usize);
    for (zr, &label) in z.chunks_exact(cols.max(1)).zip(labels) {
        let m = zr.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
        let s: f64 = zr.iter().map(|&v| (v as f64 - m).exp()).sum();
        total += s.ln() - (zr[label as usize] as f64 - m);
        hits += usize::from(super::argmax_scalar(zr) == label as usize);
    }
    Ok((total, hits))
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
