//! The compute context: where work runs and how the GEMM is configured.
//!
//! A [`Compute`] is owned by whoever runs a computation (a trainer, a
//! bench, an example, a test) and passed down by reference to everything
//! that may split its work: the GEMM ([`crate::gemm::matmul`]), the
//! network's layers, a data set's gather, an optimizer's step. It plays the
//! part of candle's `Device` or faer's `Par`: one value that says "on these
//! threads, with this kernel".
//!
//! The naming rule that follows: a function that may use threads takes
//! `cx: &Compute` as its first argument and has no suffix. A kernel on a
//! slice (`ops::axpy`, `step::adam`) takes no context and runs on the
//! calling thread.
//!
//! Results never depend on the context's thread count: every split is of
//! whole, fixed pieces, each computed by the same operations in the same
//! order as on one thread. They do depend on the GEMM configuration (the
//! kernel and its k blocks order the sums), which is why a context can
//! force one ([`Compute::with_gemm`]) for tests and comparisons.

use std::sync::Arc;

use crate::gemm::config::Config;
use crate::par::Pool;

/// Threads and the GEMM's configuration. Cloning shares the pool; the
/// workers stop when the last clone is dropped.
#[derive(Clone, Debug, Default)]
pub struct Compute {
    pool: Option<Arc<Pool>>,
    gemm: Option<Config>,
}

impl Compute {
    /// One thread, the caller's; the GEMM chooses its configuration per
    /// product ([`Config::for_cols`]).
    pub const fn serial() -> Compute {
        Compute {
            pool: None,
            gemm: None,
        }
    }

    /// `threads` threads: the caller and a pool of `threads − 1` workers,
    /// started here (0 is treated as 1).
    pub fn threads(threads: usize) -> Compute {
        Compute {
            pool: (threads > 1).then(|| Arc::new(Pool::new(threads))),
            gemm: None,
        }
    }

    /// The calling thread alone, with this context's GEMM configuration:
    /// for work that is already split across the pool (each part runs its
    /// own small GEMMs), so the parts compute what one thread would.
    pub fn serial_like(&self) -> Compute {
        Compute {
            pool: None,
            gemm: self.gemm,
        }
    }

    /// This context with every GEMM run on `cfg` (its kernel, blocks and
    /// packing rule), whatever the host would choose.
    pub fn with_gemm(mut self, cfg: Config) -> Compute {
        self.gemm = Some(cfg);
        self
    }

    /// How many threads the work is split over.
    pub fn thread_count(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.threads())
    }

    /// The pool, if there is more than one thread.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_deref()
    }

    /// The configuration a product with `n` columns runs on: the forced
    /// one, else [`Config::for_cols`].
    pub fn gemm_config(&self, n: usize) -> &Config {
        match &self.gemm {
            Some(cfg) => cfg,
            None => Config::for_cols(n),
        }
    }
}
