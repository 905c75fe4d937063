//! The spread of a set of timings: what every table of the profile quotes.

use serde::Serialize;

/// Median, 10th and 90th percentile and mean of some timings, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Mean.
    pub mean: f64,
    /// Samples.
    pub samples: usize,
}

impl Spread {
    /// The spread of `v` (all zero when empty).
    pub fn of(v: &[f64]) -> Spread {
        if v.is_empty() {
            return Spread::default();
        }
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Spread {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            mean: s.iter().sum::<f64>() / s.len() as f64,
            samples: s.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_percentiles() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        let s = Spread::of(&v);
        assert_eq!(
            (s.median, s.p10, s.p90, s.mean, s.samples),
            (6.0, 2.0, 10.0, 6.0, 11)
        );
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}
