//! Training metrics: one record per optimizer step and one per epoch,
//! written as JSON lines (`.jsonl`) or CSV (`.csv`) as the run goes, and
//! kept in memory for the comparison tables and plots.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Serde for floats that may be NaN or ±∞, which JSON has no numbers for
/// (serde_json writes them as `null` and cannot read that back as a
/// float): a finite value is a number, the others the strings `"NaN"`,
/// `"inf"` and `"-inf"`. For `#[serde(with = "nonfinite")]` on `f32` and
/// `f64` fields.
pub mod nonfinite {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// `f32` or `f64`.
    pub trait Float: Copy + Serialize + for<'de> Deserialize<'de> {
        /// The value named `name`, if it is one of the three.
        fn named(name: &str) -> Option<Self>;
        /// The name of a non-finite value, `None` for a finite one.
        fn name(self) -> Option<&'static str>;
    }

    macro_rules! float {
        ($t:ty) => {
            impl Float for $t {
                fn named(name: &str) -> Option<Self> {
                    match name {
                        "NaN" => Some(<$t>::NAN),
                        "inf" => Some(<$t>::INFINITY),
                        "-inf" => Some(<$t>::NEG_INFINITY),
                        _ => None,
                    }
                }
                fn name(self) -> Option<&'static str> {
                    if self.is_nan() {
                        Some("NaN")
                    } else if self.is_infinite() {
                        Some(if self > 0.0 { "inf" } else { "-inf" })
                    } else {
                        None
                    }
                }
            }
        };
    }
    float!(f32);
    float!(f64);

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr<F> {
        Number(F),
        Name(String),
    }

    /// Writes a finite `v` as a number, the others by name.
    pub fn serialize<F: Float, S: Serializer>(v: &F, s: S) -> Result<S::Ok, S::Error> {
        match v.name() {
            None => v.serialize(s),
            Some(name) => s.serialize_str(name),
        }
    }

    /// Reads a number, or one of the three names.
    pub fn deserialize<'de, F: Float, D: Deserializer<'de>>(d: D) -> Result<F, D::Error> {
        match Repr::<F>::deserialize(d)? {
            Repr::Number(v) => Ok(v),
            Repr::Name(n) => F::named(&n).ok_or_else(|| {
                D::Error::custom(format!("`{n}` is not a number, NaN, inf or -inf"))
            }),
        }
    }
}

/// One optimizer step. In JSON, a non-finite float is written by name
/// ([`nonfinite`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Optimizer steps taken so far in the run (1 after the first).
    pub step: u64,
    /// The epoch the step belongs to (1-based).
    pub epoch: usize,
    /// Mean loss of the step's mini-batch (before the update).
    #[serde(with = "nonfinite")]
    pub loss: f32,
    /// Global L2 norm of the gradient (before clipping); NaN for random
    /// search, which has none.
    #[serde(with = "nonfinite")]
    pub grad_norm: f32,
    /// Learning rate used by the step.
    #[serde(with = "nonfinite")]
    pub lr: f32,
    /// Training examples seen so far.
    pub examples: u64,
    /// Seconds of training (not evaluation) so far.
    #[serde(with = "nonfinite")]
    pub seconds: f64,
}

/// The end of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Mean of the epoch's mini-batch losses.
    #[serde(with = "nonfinite")]
    pub train_loss: f32,
    /// Mean loss on the test set.
    #[serde(with = "nonfinite")]
    pub test_loss: f32,
    /// Fraction of the test set classified correctly, in [0, 1].
    #[serde(with = "nonfinite")]
    pub test_accuracy: f32,
    /// Seconds this epoch's training took (evaluation excluded).
    #[serde(with = "nonfinite")]
    pub seconds: f64,
    /// Training examples per second in this epoch.
    #[serde(with = "nonfinite")]
    pub examples_per_sec: f64,
    /// Steps dropped by `--on-divergence skip-step` in this epoch.
    pub skipped_steps: u64,
}

/// Metrics file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, with a `"kind"` of `step` or `epoch`.
    Jsonl,
    /// One header and one row per record; `kind` says which columns apply.
    Csv,
}

/// The metrics file could not be created or written.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The extension is neither `.jsonl` nor `.csv`.
    #[error("--metrics {path}: unknown format (use a .jsonl or .csv file name)")]
    Format {
        /// The path given.
        path: PathBuf,
    },
    /// An I/O error.
    #[error("--metrics {path}: {source}")]
    Io {
        /// The metrics file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Format {
    /// The format a file name asks for.
    pub fn of(path: &Path) -> Result<Self, MetricsError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            _ => Err(MetricsError::Format {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// The CSV columns: both record kinds in one table.
pub const CSV_HEADER: &str = "kind,epoch,step,loss,grad_norm,lr,examples,seconds,train_loss,test_loss,test_accuracy,examples_per_sec,skipped_steps";

/// Writes records to a metrics file as they come.
pub struct MetricsWriter {
    path: PathBuf,
    format: Format,
    out: BufWriter<File>,
}

impl MetricsWriter {
    /// Creates (or, when `append`, continues) the metrics file at `path`.
    pub fn create(path: &Path, append: bool) -> Result<Self, MetricsError> {
        let format = Format::of(path)?;
        let io = |source| MetricsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(io)?;
        let mut w = Self {
            path: path.to_path_buf(),
            format,
            out: BufWriter::new(file),
        };
        if format == Format::Csv && !(append && existed) {
            writeln!(w.out, "{CSV_HEADER}").map_err(io)?;
        }
        Ok(w)
    }

    fn io(&self, source: std::io::Error) -> MetricsError {
        MetricsError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends one step record.
    pub fn step(&mut self, r: &StepRecord) -> Result<(), MetricsError> {
        let res = match self.format {
            Format::Jsonl => {
                let mut v = serde_json::to_value(r).expect("a struct of numbers serialises");
                v["kind"] = "step".into();
                writeln!(self.out, "{v}")
            }
            Format::Csv => writeln!(
                self.out,
                "step,{},{},{},{},{},{},{},,,,,",
                r.epoch, r.step, r.loss, r.grad_norm, r.lr, r.examples, r.seconds
            ),
        };
        res.map_err(|e| self.io(e))
    }

    /// Appends one epoch record and flushes, so a crash loses at most the
    /// current epoch's step records.
    pub fn epoch(&mut self, r: &EpochRecord) -> Result<(), MetricsError> {
        let res = match self.format {
            Format::Jsonl => {
                let mut v = serde_json::to_value(r).expect("a struct of numbers serialises");
                v["kind"] = "epoch".into();
                writeln!(self.out, "{v}")
            }
            Format::Csv => writeln!(
                self.out,
                "epoch,{},{},,,,,{},{},{},{},{},{}",
                r.epoch,
                r.step,
                r.seconds,
                r.train_loss,
                r.test_loss,
                r.test_accuracy,
                r.examples_per_sec,
                r.skipped_steps
            ),
        };
        res.and_then(|_| self.out.flush()).map_err(|e| self.io(e))
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> Result<(), MetricsError> {
        self.out.flush().map_err(|e| self.io(e))
    }
}

/// A test-set evaluation between epochs' ends (`eval_every`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Optimizer steps taken when it was measured.
    pub step: u64,
    /// Training examples seen by then.
    pub examples: u64,
    /// Training seconds by then (evaluations excluded).
    #[serde(with = "nonfinite")]
    pub seconds: f64,
    /// Mean loss on the test set (the validation split while tuning).
    #[serde(with = "nonfinite")]
    pub test_loss: f32,
    /// Fraction of it classified correctly, in [0, 1].
    #[serde(with = "nonfinite")]
    pub test_accuracy: f32,
}

/// Everything a run measured, for tables and plots.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    /// The evaluations every `eval_every` steps (empty without it).
    #[serde(default)]
    pub evals: Vec<EvalRecord>,
}

impl History {
    /// Every test-set measurement in step order, `(step, examples,
    /// training seconds, accuracy)`: the `eval_every` ones and the epochs'
    /// ends (an evaluation at the step that ends an epoch is counted once).
    pub fn accuracy_points(&self) -> Vec<(u64, u64, f64, f32)> {
        let seconds_at = |step: u64| -> (u64, f64) {
            match step.checked_sub(1).and_then(|i| self.steps.get(i as usize)) {
                Some(s) => (s.examples, s.seconds),
                None => (0, 0.0),
            }
        };
        let mut v: Vec<(u64, u64, f64, f32)> = self
            .evals
            .iter()
            .map(|e| (e.step, e.examples, e.seconds, e.test_accuracy))
            .collect();
        for e in &self.epochs {
            if !self.evals.iter().any(|x| x.step == e.step) {
                let (ex, secs) = seconds_at(e.step);
                v.push((e.step, ex, secs, e.test_accuracy));
            }
        }
        v.sort_by_key(|p| p.0);
        v
    }
}

/// Exponential moving average of `values` with weight `1 − β` on the new
/// value, bias-corrected as Adam does (`ema_t / (1 − β^t)`), so the
/// smoothed curve starts at the first value instead of at 0.
pub fn smooth(values: &[f64], beta: f64) -> Vec<f64> {
    let mut ema = 0.0;
    let mut pow = 1.0;
    values
        .iter()
        .map(|&v| {
            ema = beta * ema + (1.0 - beta) * v;
            pow *= beta;
            ema / (1.0 - pow)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_json_with_non_finite_values() {
        let step = StepRecord {
            step: 3,
            epoch: 1,
            loss: f32::INFINITY,
            grad_norm: f32::NAN,
            lr: 0.1,
            examples: 192,
            seconds: f64::NEG_INFINITY,
        };
        let json = serde_json::to_string(&step).unwrap();
        assert!(json.contains(r#""grad_norm":"NaN""#), "{json}");
        let back: StepRecord = serde_json::from_str(&json).unwrap();
        assert!(back.grad_norm.is_nan());
        assert_eq!(
            (back.loss, back.lr, back.seconds),
            (f32::INFINITY, 0.1, f64::NEG_INFINITY)
        );
        // Finite floats come back to the bit.
        let x = 0.1f32 + f32::EPSILON;
        let e = EpochRecord {
            epoch: 1,
            step: 3,
            train_loss: x,
            test_loss: 1e-38,
            test_accuracy: 0.987_654_3,
            seconds: 1.0 / 3.0,
            examples_per_sec: 12345.678,
            skipped_steps: 0,
        };
        let back: EpochRecord = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let bad = json.replace(r#""NaN""#, r#""nan?""#);
        let err = serde_json::from_str::<StepRecord>(&bad).unwrap_err();
        assert!(err.to_string().contains("nan?"), "{err}");
    }

    #[test]
    fn smoothing_starts_at_the_first_value_and_follows_a_constant() {
        let s = smooth(&[2.0, 2.0, 2.0], 0.9);
        for v in s {
            assert!((v - 2.0).abs() < 1e-12);
        }
        let s = smooth(&[0.0, 10.0], 0.5);
        assert!((s[1] - 10.0 * 0.5 / 0.75).abs() < 1e-12);
    }

    #[test]
    fn unknown_extension_names_the_flag() {
        let e = Format::of(Path::new("m.txt")).unwrap_err();
        assert!(e.to_string().contains("--metrics m.txt"));
    }

    #[test]
    fn jsonl_and_csv_records_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = StepRecord {
            step: 1,
            epoch: 1,
            loss: 2.3,
            grad_norm: 1.5,
            lr: 0.01,
            examples: 64,
            seconds: 0.01,
        };
        let e = EpochRecord {
            epoch: 1,
            step: 1,
            train_loss: 2.3,
            test_loss: 2.2,
            test_accuracy: 0.5,
            seconds: 0.01,
            examples_per_sec: 6400.0,
            skipped_steps: 0,
        };
        let j = dir.path().join("m.jsonl");
        let mut w = MetricsWriter::create(&j, false).unwrap();
        w.step(&s).unwrap();
        w.epoch(&e).unwrap();
        drop(w);
        let text = std::fs::read_to_string(&j).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["kind"], "step");
        assert_eq!(lines[1]["test_accuracy"], 0.5);
        let c = dir.path().join("m.csv");
        let mut w = MetricsWriter::create(&c, false).unwrap();
        w.step(&s).unwrap();
        w.epoch(&e).unwrap();
        drop(w);
        let text = std::fs::read_to_string(&c).unwrap();
        let cols = CSV_HEADER.split(',').count();
        for line in text.lines() {
            assert_eq!(line.split(',').count(), cols, "{line}");
        }
    }
}
