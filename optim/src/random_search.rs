//! Random search: the gradient-free baselines (perturb and keep if better,
//! or draw fresh random weights and keep the best).

use crate::common;
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const NAME: &str = "random_search";

/// Configuration of [`RandomSearch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomSearchConfig {
    /// Perturbation scale σ₀ of the first step (finite, > 0).
    pub sigma: f32,
    /// Multiplicative decay of σ per step, in (0, 1]; 1 keeps σ constant.
    pub sigma_decay: f32,
    /// Floor of σ (finite, ≥ 0).
    pub min_sigma: f32,
    /// Seed of the ChaCha8 generator of the perturbations.
    pub seed: u64,
    /// Where candidates come from.
    pub mode: SearchMode,
}

/// How [`RandomSearch`] draws a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// `θ + σ·z`, z ~ N(0, I): a random step from the current weights,
    /// kept if it lowers the loss (a (1+1) evolution strategy).
    #[default]
    Perturb,
    /// `σ·z`: fresh random weights, independent of the current ones, kept
    /// if better: the plain "try N random weight matrices, keep the best".
    Sample,
}

impl Default for RandomSearchConfig {
    /// descent's defaults (PyTorch has no random search): σ = 0.1, no decay,
    /// no floor, seed 0.
    fn default() -> Self {
        RandomSearchConfig {
            sigma: 0.1,
            sigma_decay: 1.0,
            min_sigma: 0.0,
            seed: 0,
            mode: SearchMode::Perturb,
        }
    }
}

impl RandomSearchConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::positive(NAME, "sigma", self.sigma)?;
        if !(self.sigma_decay > 0.0 && self.sigma_decay <= 1.0) {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "sigma_decay",
                value: self.sigma_decay.to_string(),
                reason: "must be in (0, 1]",
            });
        }
        common::non_negative(NAME, "min_sigma", self.min_sigma)
    }
}

/// What one random-search step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchStep {
    /// The loss of the parameters after the step (the best so far).
    pub loss: f32,
    /// The loss of this step's candidate.
    pub candidate_loss: f32,
    /// Whether the candidate replaced the parameters.
    pub accepted: bool,
    /// The σ this step used.
    pub sigma: f32,
}

/// Everything needed to resume a search exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomSearchState {
    /// Steps taken.
    pub step: u64,
    /// Loss of the current parameters (`None` before the first step).
    pub best_loss: Option<f32>,
    /// Seed of the generator.
    pub seed: u64,
    /// Position of the ChaCha8 stream, in 32-bit words.
    pub word_pos: u128,
}

/// Random search: at step t, draw `c = p + σ_t·z` with `z ~ N(0, I)` over
/// every parameter, evaluate the loss of `c`, and replace `p` by `c` if the
/// loss is strictly lower (a NaN loss is never accepted).
/// `σ_t = max(σ_min, σ₀·decayᵗ⁻¹)`.
///
/// This is the (1+1) evolution strategy without step-size adaptation; see
/// Rastrigin, "The convergence of the random search method in the extremal
/// control of a many-parameter system", Automation and Remote Control 24
/// (1963), and for its role as a baseline Mania, Guy, Recht, "Simple random
/// search provides a competitive approach to reinforcement learning" (2018),
/// <https://arxiv.org/abs/1803.07055>. Not part of PyTorch.
///
/// The search remembers the loss of the parameters it left; if the caller
/// changes the parameters between steps, call [`RandomSearch::reset_best`].
#[derive(Debug, Clone)]
pub struct RandomSearch {
    config: RandomSearchConfig,
    rng: ChaCha8Rng,
    step: u64,
    best: Option<f32>,
    candidate: Vec<f32>,
}

impl RandomSearch {
    /// A new search; fails with the first invalid field.
    pub fn new(config: RandomSearchConfig) -> Result<Self> {
        config.validate()?;
        Ok(RandomSearch {
            config,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            step: 0,
            best: None,
            candidate: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RandomSearchConfig {
        &self.config
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The loss of the current parameters, once known.
    pub fn best_loss(&self) -> Option<f32> {
        self.best
    }

    /// Forget the remembered loss (the next step re-evaluates the parameters).
    pub fn reset_best(&mut self) {
        self.best = None;
    }

    /// σ of step `t` (1-based), computed in `f64`.
    pub fn sigma_at(&self, t: u64) -> f32 {
        let c = self.config;
        let e = t.saturating_sub(1).min(i32::MAX as u64) as i32;
        ((c.sigma as f64) * (c.sigma_decay as f64).powi(e)).max(c.min_sigma as f64) as f32
    }

    /// One step: draw a candidate (perturb every parameter, or with
    /// [`SearchMode::Sample`] draw every parameter afresh), keep it if `loss`
    /// improves. `loss` is called once (twice on the first step, to score the
    /// starting point).
    pub fn step<F: FnMut(&[f32]) -> f32>(&mut self, params: &mut [f32], mut loss: F) -> SearchStep {
        let best = match self.best {
            Some(b) => b,
            None => loss(params),
        };
        self.step += 1;
        let sigma = self.sigma_at(self.step);
        self.candidate.clear();
        let sample = self.config.mode == SearchMode::Sample;
        for &p in params.iter() {
            let z: f32 = StandardNormal.sample(&mut self.rng);
            self.candidate
                .push(if sample { sigma * z } else { p + sigma * z });
        }
        let candidate_loss = loss(&self.candidate);
        let accepted = candidate_loss < best;
        let now = if accepted {
            params.copy_from_slice(&self.candidate);
            candidate_loss
        } else {
            best
        };
        self.best = Some(now);
        SearchStep {
            loss: now,
            candidate_loss,
            accepted,
            sigma,
        }
    }

    /// The state to checkpoint.
    pub fn export_state(&self) -> RandomSearchState {
        RandomSearchState {
            step: self.step,
            best_loss: self.best,
            seed: self.config.seed,
            word_pos: self.rng.get_word_pos(),
        }
    }

    /// Restores a checkpointed state (the seed comes from the state), so the
    /// next steps draw exactly what an uninterrupted run would.
    pub fn import_state(&mut self, state: &RandomSearchState) -> Result<()> {
        if let Some(b) = state.best_loss {
            if b.is_nan() {
                return Err(OptimError::InvalidConfig {
                    optimizer: NAME,
                    field: "best_loss",
                    value: b.to_string(),
                    reason: "an imported best loss must not be NaN",
                });
            }
        }
        self.config.seed = state.seed;
        self.rng = ChaCha8Rng::seed_from_u64(state.seed);
        self.rng.set_word_pos(state.word_pos);
        self.step = state.step;
        self.best = state.best_loss;
        Ok(())
    }
}

impl FromHyper for RandomSearchConfig {
    /// σ and its decay from `h`; the mode and σ's default from `base`.
    fn from_hyper(base: Self, h: &Hyper, _lr: f32, _clip_norm: Option<f32>, seed: u64) -> Self {
        RandomSearchConfig {
            sigma: h.sigma.unwrap_or(base.sigma),
            sigma_decay: h.sigma_decay.unwrap_or(base.sigma_decay),
            seed,
            ..base
        }
    }

    fn describe(&self) -> String {
        format!(
            "sigma {}, sigma_decay {}, min_sigma {}, {}",
            self.sigma,
            self.sigma_decay,
            self.min_sigma,
            match self.mode {
                SearchMode::Perturb => "candidates θ + σ·z",
                SearchMode::Sample => "candidates σ·z (fresh weights)",
            }
        )
    }
}
