//! Learning-rate tuning (`descent compare --tune-lr`): each optimizer's
//! learning rate searched on a log
//! grid around its default, every candidate scored by its loss on a
//! validation split held out from the training set (the test set is never
//! read), the comparison then run at each optimizer's best lr.
//!
//! Benchmarks of optimizers (DeepOBS; Schmidt, Schneider & Hennig 2021)
//! show rankings at default settings flip once each optimizer gets the same
//! tuning budget; this is that budget, stated in the report.

use crate::data::Mnist;
use crate::{RunConfig, TrainError, Trainer};
use descent_core::Compute;

/// One optimizer's search: every grid point with its validation loss
/// (`None` if the run diverged) and the lr chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tuned {
    /// The run's label, e.g. `adam`.
    pub label: String,
    /// `(lr, validation loss)` per grid point, lr ascending.
    pub grid: Vec<(f32, Option<f32>)>,
    /// The grid point with the lowest validation loss.
    pub best: f32,
    /// Optimizer steps each grid point trained for.
    #[serde(default)]
    pub steps: u64,
}

/// How much each optimizer's search may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Grid points (learning rates tried).
    pub points: usize,
    /// What each grid point trains for.
    pub per_point: PerPoint,
}

/// The training of one grid point, in the unit the user chose. Epochs and
/// examples give every optimizer the same data (full-batch gd then takes
/// one step an epoch); steps give every optimizer the same number of
/// updates (gd then sees far more examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerPoint {
    /// Whole epochs of the tuning split.
    Epochs(usize),
    /// Training examples seen, rounded up to whole steps.
    Examples(u64),
    /// Optimizer steps.
    Steps(u64),
}

impl PerPoint {
    /// The optimizer steps this is for a run of `batch` examples a step
    /// and `steps_per_epoch` steps an epoch: `epochs · steps_per_epoch`,
    /// `⌈examples / batch⌉` or `steps`.
    pub fn steps(self, batch: usize, steps_per_epoch: usize) -> u64 {
        match self {
            PerPoint::Epochs(e) => (e * steps_per_epoch) as u64,
            PerPoint::Examples(n) => n.div_ceil(batch.max(1) as u64),
            PerPoint::Steps(n) => n,
        }
    }
}

impl std::fmt::Display for PerPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PerPoint::Epochs(e) => write!(f, "{e} epoch(s)"),
            PerPoint::Examples(n) => write!(f, "{n} examples"),
            PerPoint::Steps(n) => write!(f, "{n} steps"),
        }
    }
}

/// `points` learning rates in half-decade steps centred on `default`:
/// `default · 10^((i − (points − 1)/2) / 2)`, printed to 3 significant
/// digits (so the report's values are the values run).
pub fn grid(default: f32, points: usize) -> Vec<f32> {
    let mid = (points as f64 - 1.0) / 2.0;
    (0..points)
        .map(|i| {
            let v = default as f64 * 10f64.powf((i as f64 - mid) / 2.0);
            format!("{v:.2e}").parse().unwrap_or(v as f32)
        })
        .collect()
}

/// Splits off the last `held_out` training examples as the validation set:
/// the tuning runs train on the rest and evaluate on it.
pub fn tuning_data(data: &Mnist, held_out: usize) -> Mnist {
    let (train, val) = data.train.split(held_out);
    Mnist {
        train,
        test: val,
        files: data.files.clone(),
    }
}

/// Searches each gradient optimizer of `plan` over `points` grid points,
/// each trained for `per_point` on `tuning` (whose "test" set is the
/// validation split) and scored by its validation loss at the end; returns
/// the searches, in plan order, after calling `report(label, lr,
/// validation loss)` for each grid point as it is done. The random
/// searches have no lr and are left out.
pub fn tune(
    plan: &[(String, RunConfig)],
    tuning: &Mnist,
    budget: Budget,
    cx: &Compute,
    report: &mut dyn FnMut(&str, f32, Option<f32>),
) -> Result<Vec<Tuned>, TrainError> {
    let Budget { points, per_point } = budget;
    let mut out = Vec::new();
    for (label, cfg) in plan {
        if !cfg.optimizer.uses_gradient() {
            continue;
        }
        let n = tuning.train.len();
        let spe = cfg.steps_per_epoch(&tuning.train).max(1);
        let steps = per_point.steps(cfg.batch_rows(n), spe).max(1);
        let mut scored = Vec::new();
        for lr in grid(cfg.optimizer.default_lr(), points) {
            let mut c = cfg.clone();
            c.hyper.lr = Some(lr);
            // Whole epochs enough for the steps, cut at the last one; the
            // validation loss is measured where the run stops.
            c.epochs = steps.div_ceil(spe as u64) as usize;
            c.max_steps = Some(steps);
            let mut t = Trainer::new(c, tuning, cx.clone())?;
            let loss = match t.run(&mut []) {
                Ok(()) => t
                    .history
                    .epochs
                    .last()
                    .map(|e| e.test_loss)
                    .filter(|l| l.is_finite()),
                Err(TrainError::Diverged { .. }) => None,
                Err(e) => return Err(e),
            };
            report(label, lr, loss);
            scored.push((lr, loss));
        }
        let best = scored
            .iter()
            .filter_map(|&(lr, l)| l.map(|l| (lr, l)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(lr, _)| lr)
            .ok_or_else(|| TrainError::Config {
                field: "lr",
                message: format!("every lr tried for {label} diverged"),
            })?;
        out.push(Tuned {
            label: label.clone(),
            grid: scored,
            best,
            steps,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_centred_on_the_default_in_half_decades() {
        assert_eq!(grid(1e-3, 5), [1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2]);
        assert_eq!(grid(0.01, 1), [0.01]);
        let g = grid(0.1, 4);
        assert_eq!(g.len(), 4);
        assert!(g.windows(2).all(|w| (w[1] / w[0] - 3.162).abs() < 0.01));
    }
}
