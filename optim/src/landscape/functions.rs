//! Two-dimensional test functions with analytic gradients and known minima:
//! the classic terrain for watching optimizers move.
//!
//! Everything is computed in f64 (the plots sample millions of points and the
//! contour levels span many decades); the optimizers step an f32 parameter
//! pair through the same fused kernels that train the MLP, and read the
//! gradient rounded to f32.

use std::fmt;
use std::str::FromStr;

/// A test function `f(x, y)` with its gradient and what is known of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Function {
    /// `f = (1 − x)² + 100·(y − x²)²`: a curved, flat-bottomed valley; the
    /// minimum 0 is at (1, 1).
    Rosenbrock,
    /// `f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²`: flat
    /// plateaus and steep walls; the minimum 0 is at (3, 0.5).
    Beale,
    /// `f = (x² + y − 11)² + (x + y² − 7)²`: four minima of value 0.
    Himmelblau,
    /// `f = x² − y²`: a saddle at the origin and no minimum; plain gradient
    /// descent started on the ridge `y = 0` never leaves it.
    Saddle,
    /// `f = ½·(x² + κ·y²)`: a quadratic bowl with condition number κ ≥ 1;
    /// the minimum 0 is at the origin.
    Quadratic {
        /// The condition number κ: the ratio of the largest to the smallest
        /// curvature.
        condition: f64,
    },
}

impl Function {
    /// The names `--function` accepts.
    pub const NAMES: [&'static str; 5] =
        ["rosenbrock", "beale", "himmelblau", "saddle", "quadratic"];

    /// The function's name as `--function` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Function::Rosenbrock => "rosenbrock",
            Function::Beale => "beale",
            Function::Himmelblau => "himmelblau",
            Function::Saddle => "saddle",
            Function::Quadratic { .. } => "quadratic",
        }
    }

    /// `f(x, y)`.
    pub fn value(&self, x: f64, y: f64) -> f64 {
        match *self {
            Function::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            Function::Beale => {
                let t1 = 1.5 - x + x * y;
                let t2 = 2.25 - x + x * y * y;
                let t3 = 2.625 - x + x * y * y * y;
                t1 * t1 + t2 * t2 + t3 * t3
            }
            Function::Himmelblau => (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2),
            Function::Saddle => x * x - y * y,
            Function::Quadratic { condition } => 0.5 * (x * x + condition * y * y),
        }
    }

    /// `∇f(x, y) = (∂f/∂x, ∂f/∂y)`, derived by hand:
    /// - Rosenbrock: `(−2(1 − x) − 400x(y − x²), 200(y − x²))`.
    /// - Beale, with `tᵢ = cᵢ − x + x·yⁱ`: `∂f/∂x = Σ 2tᵢ(yⁱ − 1)`,
    ///   `∂f/∂y = Σ 2tᵢ·i·x·yⁱ⁻¹`.
    /// - Himmelblau, with `u = x² + y − 11`, `v = x + y² − 7`:
    ///   `(4xu + 2v, 2u + 4yv)`.
    /// - Saddle: `(2x, −2y)`. Quadratic: `(x, κy)`.
    pub fn gradient(&self, x: f64, y: f64) -> (f64, f64) {
        match *self {
            Function::Rosenbrock => {
                let r = y - x * x;
                (-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r)
            }
            Function::Beale => {
                let mut gx = 0.0;
                let mut gy = 0.0;
                for (i, c) in [(1, 1.5), (2, 2.25), (3, 2.625)] {
                    let yi = y.powi(i);
                    let t = c - x + x * yi;
                    gx += 2.0 * t * (yi - 1.0);
                    gy += 2.0 * t * f64::from(i) * x * y.powi(i - 1);
                }
                (gx, gy)
            }
            Function::Himmelblau => {
                let u = x * x + y - 11.0;
                let v = x + y * y - 7.0;
                (4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v)
            }
            Function::Saddle => (2.0 * x, -2.0 * y),
            Function::Quadratic { condition } => (x, condition * y),
        }
    }

    /// The global minima (all of them; empty when there is none).
    pub fn minima(&self) -> Vec<(f64, f64)> {
        match self {
            Function::Rosenbrock => vec![(1.0, 1.0)],
            Function::Beale => vec![(3.0, 0.5)],
            Function::Himmelblau => vec![
                (3.0, 2.0),
                (-2.805_118, 3.131_312),
                (-3.779_310, -3.283_186),
                (3.584_428, -1.848_126),
            ],
            Function::Saddle => vec![],
            Function::Quadratic { .. } => vec![(0.0, 0.0)],
        }
    }

    /// Distance from `(x, y)` to the nearest minimum (`None` when the
    /// function has none).
    pub fn distance_to_minimum(&self, x: f64, y: f64) -> Option<f64> {
        self.minima()
            .into_iter()
            .map(|(mx, my)| (x - mx).hypot(y - my))
            .min_by(f64::total_cmp)
    }

    /// The window `(x_min, x_max, y_min, y_max)` that the plots show.
    pub fn window(&self) -> (f64, f64, f64, f64) {
        match self {
            Function::Rosenbrock => (-2.0, 2.0, -1.0, 3.0),
            Function::Beale => (-4.5, 4.5, -4.5, 4.5),
            Function::Himmelblau => (-5.0, 5.0, -5.0, 5.0),
            Function::Saddle => (-2.0, 2.0, -2.0, 2.0),
            Function::Quadratic { .. } => (-2.0, 2.0, -2.0, 2.0),
        }
    }

    /// The default step budget of `descent landscape`: enough for the
    /// momentum and adaptive optimizers to reach the minimum at their default
    /// learning rates (Rosenbrock's curved valley takes the longest).
    pub fn default_steps(&self) -> usize {
        match self {
            Function::Rosenbrock => 2000,
            Function::Beale => 1000,
            _ => 500,
        }
    }

    /// The default start `(x, y)` of `descent landscape`: a point from
    /// which the function's difficulty shows.
    pub fn default_start(&self) -> (f64, f64) {
        match self {
            Function::Rosenbrock => (-1.5, 2.0),
            Function::Beale => (1.0, 1.5),
            Function::Himmelblau => (0.0, 0.0),
            // Just off the ridge, so the escape along −y is visible.
            Function::Saddle => (1.5, 1e-3),
            Function::Quadratic { .. } => (1.5, 1.5),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function::Quadratic { condition } => write!(f, "quadratic (κ = {condition})"),
            other => f.write_str(other.name()),
        }
    }
}

/// `--function` was not one of [`Function::NAMES`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--function: unknown function {given:?} (expected one of {})", Function::NAMES.join(", "))]
pub struct UnknownFunction {
    /// What the user wrote.
    pub given: String,
}

impl FromStr for Function {
    type Err = UnknownFunction;

    /// Parses a name of [`Function::NAMES`]; `quadratic` gets κ = 10 (the
    /// `--condition` flag overrides it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rosenbrock" => Ok(Function::Rosenbrock),
            "beale" => Ok(Function::Beale),
            "himmelblau" => Ok(Function::Himmelblau),
            "saddle" => Ok(Function::Saddle),
            "quadratic" => Ok(Function::Quadratic { condition: 10.0 }),
            _ => Err(UnknownFunction {
                given: s.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Function> {
        vec![
            Function::Rosenbrock,
            Function::Beale,
            Function::Himmelblau,
            Function::Saddle,
            Function::Quadratic { condition: 50.0 },
        ]
    }

    /// Central differences with h = 1e-6 in f64 have error O(h²·f''') plus
    /// rounding O(ε·f/h); 1e-6 relative (or absolute near 0) holds on
    /// these windows.
    #[test]
    fn gradients_match_finite_differences() {
        let h = 1e-6;
        for f in all() {
            let (x0, x1, y0, y1) = f.window();
            for i in 0..=12 {
                for j in 0..=12 {
                    let x = x0 + (x1 - x0) * f64::from(i) / 12.0 + 0.013;
                    let y = y0 + (y1 - y0) * f64::from(j) / 12.0 - 0.007;
                    let (gx, gy) = f.gradient(x, y);
                    let nx = (f.value(x + h, y) - f.value(x - h, y)) / (2.0 * h);
                    let ny = (f.value(x, y + h) - f.value(x, y - h)) / (2.0 * h);
                    for (a, n) in [(gx, nx), (gy, ny)] {
                        let err = (a - n).abs() / a.abs().max(n.abs()).max(1.0);
                        assert!(err < 1e-6, "{f} at ({x}, {y}): analytic {a}, numeric {n}");
                    }
                }
            }
        }
    }

    #[test]
    fn minima_are_stationary_zeros() {
        for f in all() {
            for (x, y) in f.minima() {
                // Himmelblau's minima are given to 6 decimals.
                assert!(
                    f.value(x, y).abs() < 1e-9,
                    "{f} at ({x}, {y}) = {}",
                    f.value(x, y)
                );
                let (gx, gy) = f.gradient(x, y);
                assert!(gx.hypot(gy) < 1e-3, "{f}: ∇ at ({x}, {y}) = ({gx}, {gy})");
                assert_eq!(f.distance_to_minimum(x, y), Some(0.0));
            }
        }
        assert_eq!(Function::Saddle.distance_to_minimum(0.0, 0.0), None);
    }

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for f in all() {
            let parsed: Function = f.name().parse().unwrap();
            assert_eq!(parsed.name(), f.name());
        }
        let err = "banana".parse::<Function>().unwrap_err();
        assert!(err.to_string().contains("banana") && err.to_string().contains("rosenbrock"));
    }
}
