//! What a run shows in the terminal: a progress bar per epoch and one line
//! per finished epoch, attached to the library's trainer as an observer.

use std::time::Instant;

use descent_train::metrics::{EpochRecord, StepRecord};
use descent_train::{Observer, TrainError, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

/// Prints a run's progress; `label` prefixes every line (the run's name in
/// `compare`).
pub struct Console {
    label: String,
    progress: bool,
    epochs: usize,
    bar: Option<ProgressBar>,
    steps: usize,
    done: usize,
    loss_sum: f64,
    first_example: u64,
    last_example: u64,
    start: Instant,
}

impl Console {
    /// Epoch lines prefixed by `label`, with a progress bar if `progress`.
    pub fn new(label: impl Into<String>, progress: bool) -> Self {
        Console {
            label: label.into(),
            progress,
            epochs: 0,
            bar: None,
            steps: 0,
            done: 0,
            loss_sum: 0.0,
            first_example: 0,
            last_example: 0,
            start: Instant::now(),
        }
    }
}

impl Observer for Console {
    fn epoch_started(&mut self, t: &Trainer<'_>, steps: usize) -> Result<(), TrainError> {
        self.epochs = t.cfg.epochs;
        self.steps = steps;
        self.done = 0;
        self.loss_sum = 0.0;
        self.first_example = t.examples;
        self.last_example = t.examples;
        self.start = Instant::now();
        self.bar = self.progress.then(|| {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} {bar:30} {pos}/{len} steps {msg} [{elapsed}<{eta}]",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!(
                "{}epoch {}/{}",
                self.label,
                t.epoch + 1,
                self.epochs
            ));
            bar
        });
        Ok(())
    }

    fn step(&mut self, _t: &Trainer<'_>, rec: &StepRecord) -> Result<(), TrainError> {
        self.done += 1;
        self.loss_sum += rec.loss as f64;
        self.last_example = rec.examples;
        if let Some(bar) = &self.bar {
            // Redrawing every step would cost more than a small step.
            if self.done % 16 == 1 || self.done == self.steps {
                let secs = self.start.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(self.done as u64);
                bar.set_message(format!(
                    "loss {:.4} {:.0} ex/s",
                    self.loss_sum / self.done as f64,
                    (self.last_example - self.first_example) as f64 / secs
                ));
            }
        }
        Ok(())
    }

    fn epoch_ended(&mut self, _t: &mut Trainer<'_>, rec: &EpochRecord) -> Result<(), TrainError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let skipped = match rec.skipped_steps {
            0 => String::new(),
            n => format!("  ({n} steps skipped)"),
        };
        println!(
            "{}epoch {:>3}/{}  train loss {:.4}  test loss {:.4}  test acc {:6.2}%  {:6.3} s  {:>8.0} ex/s{skipped}",
            self.label,
            rec.epoch,
            self.epochs,
            rec.train_loss,
            rec.test_loss,
            100.0 * rec.test_accuracy,
            rec.seconds,
            rec.examples_per_sec,
        );
        Ok(())
    }
}
