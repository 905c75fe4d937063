//! The plane of optimizer paths (Li et al. 2018, §7): the top two
//! principal directions of the weights recorded along the paths.
//!
//! With P recorded points of D parameters (P in the hundreds, D ≈ 10⁵),
//! the principal directions come from the P × P Gram matrix of the
//! centred points, `G = Y·Yᵀ` (one GEMM), rather than the D × D
//! covariance: G's eigenpairs `(λ_k, v_k)` give the directions
//! `u_k = Yᵀ·v_k / √λ_k` with the same variances λ_k. The eigenproblem is
//! nalgebra's symmetric solver, in f64.

use descent_core::{matmul, Compute, Epilogue, MatMut, MatRef};
use nalgebra::DMatrix;

use super::{shape, LandscapeError};

/// The two principal directions of a set of points.
#[derive(Clone, Debug)]
pub struct Pca {
    /// The points' mean, the plane's origin.
    pub mean: Vec<f32>,
    /// `u₁` and `u₂`, orthonormal, first the direction of most variance.
    pub dirs: [Vec<f32>; 2],
    /// The fraction of the points' variance (their summed squared distance
    /// from the mean) along `u₁` and `u₂`.
    pub explained: [f64; 2],
    /// Each point's coordinates on the plane, `((y − mean)·u₁, (y − mean)·u₂)`.
    pub coords: Vec<(f64, f64)>,
}

/// The top two principal directions of `points` (each a row of `dim`
/// values, `points.len() / dim` of them, at least 3 and not all equal).
/// `points` is centred in place: it holds `y − mean` afterwards.
pub fn pca2(cx: &Compute, points: &mut [f32], dim: usize) -> Result<Pca, LandscapeError> {
    if dim == 0 || points.len() % dim != 0 || points.len() / dim < 3 {
        return Err(shape(
            "PCA points",
            format!("{} values are not at least 3 points of {dim}", points.len()),
        ));
    }
    let p = points.len() / dim;
    let mut mean64 = vec![0.0f64; dim];
    for row in points.chunks_exact(dim) {
        for (m, &v) in mean64.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    let mean: Vec<f32> = mean64.iter().map(|&m| (m / p as f64) as f32).collect();
    for row in points.chunks_exact_mut(dim) {
        for (v, &m) in row.iter_mut().zip(&mean) {
            *v -= m;
        }
    }
    let mut gram = vec![0.0f32; p * p];
    {
        let y = MatRef::row_major(points, p, dim)?;
        matmul(
            cx,
            1.0,
            y,
            y.t(),
            0.0,
            MatMut::row_major(&mut gram, p, p)?,
            Epilogue::None,
        )?;
    }
    // Symmetrised in f64: the GEMM's two triangles may round differently.
    let g = DMatrix::from_fn(p, p, |i, j| {
        0.5 * (gram[i * p + j] as f64 + gram[j * p + i] as f64)
    });
    let total: f64 = (0..p).map(|i| g[(i, i)]).sum();
    if total <= 0.0 || !total.is_finite() {
        return Err(shape(
            "PCA points",
            format!("their spread is {total}: the points are all equal or not finite"),
        ));
    }
    let eig = g.symmetric_eigen();
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let mut dirs = [vec![0.0f32; dim], vec![0.0f32; dim]];
    let mut explained = [0.0f64; 2];
    for (k, &e) in order.iter().take(2).enumerate() {
        let lambda = eig.eigenvalues[e].max(0.0);
        explained[k] = lambda / total;
        // u = Yᵀ·v, normalised (by its own norm rather than √λ, which a
        // rounding of λ would bias).
        let mut u = vec![0.0f64; dim];
        for (i, row) in points.chunks_exact(dim).enumerate() {
            let vi = eig.eigenvectors[(i, e)];
            for (uj, &y) in u.iter_mut().zip(row) {
                *uj += vi * y as f64;
            }
        }
        let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            for (d, v) in dirs[k].iter_mut().zip(&u) {
                *d = (v / norm) as f32;
            }
        }
    }
    let coords = points
        .chunks_exact(dim)
        .map(|row| (dot(row, &dirs[0]), dot(row, &dirs[1])))
        .collect();
    Ok(Pca {
        mean,
        dirs,
        explained,
        coords,
    })
}

/// `x·y`, accumulated in f64.
pub fn dot(x: &[f32], y: &[f32]) -> f64 {
    x.iter().zip(y).map(|(&a, &b)| a as f64 * b as f64).sum()
}
