//! Filter-normalised random directions (Li et al. 2018, §4).
//!
//! A raw Gaussian direction has rows of norm ≈ √fan_in whatever the
//! weights' scale, so a step of α along it means something different for
//! every layer and every neuron, and the picture depends on the net's
//! arbitrary scale (a ReLU net is invariant to scaling a layer up and the
//! next one down). Rescaling each filter's direction to the filter's own
//! norm removes that: α = 1 moves every neuron by as much as its weights.

use descent_nn::ParamTensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{shape, LandscapeError};

/// A random direction for the weights `theta` (laid out as `layout`),
/// filter-normalised:
///
/// - every row `r` of a weight matrix (shape `[out, in]`): `d_r = z_r ·
///   ‖θ_r‖ / ‖z_r‖` with `z_r ~ N(0, I)`, so `‖d_r‖ = ‖θ_r‖`;
/// - every bias: zero, or with `biases`, the whole vector scaled the same
///   way, `‖d_b‖ = ‖b‖` (a bias is one "filter" per layer);
///
/// The draws come from ChaCha8 seeded with `seed` on stream `stream` (one
/// stream per direction), in the layout's order, so a direction is
/// reproduced from `(seed, stream)` alone. A zero row of θ gets a zero row.
pub fn filter_normalised(
    layout: &[ParamTensor],
    theta: &[f32],
    seed: u64,
    stream: u64,
    biases: bool,
) -> Result<Vec<f32>, LandscapeError> {
    let total: usize = layout.iter().map(ParamTensor::len).sum();
    if theta.len() != total {
        return Err(shape(
            "direction's weights",
            format!("{} values, the layout has {total}", theta.len()),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut d = vec![0.0f32; total];
    for t in layout {
        let r = t.range();
        let (rows, cols) = match t.shape[..] {
            [rows, cols] => (rows, cols),
            _ if biases => (1, t.len()),
            // A zero bias direction still draws nothing: the weights'
            // draws do not depend on the flag.
            _ => continue,
        };
        for row in 0..rows {
            let cells = r.start + row * cols..r.start + (row + 1) * cols;
            let out = &mut d[cells.clone()];
            for v in out.iter_mut() {
                *v = StandardNormal.sample(&mut rng);
            }
            let norm_w = norm(&theta[cells]);
            let norm_z = norm(out);
            let s = if norm_z > 0.0 { norm_w / norm_z } else { 0.0 };
            for v in out.iter_mut() {
                *v = (*v as f64 * s) as f32;
            }
        }
    }
    Ok(d)
}

/// `‖x‖₂`, accumulated in f64.
pub fn norm(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt()
}
