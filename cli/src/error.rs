//! The CLI's error: the library's typed errors, printed with the flag a
//! user typed in place of the config field it set, plus the CLI's own
//! (output directories, flags that only the CLI has).

use descent_optim::OptimError;
use descent_train::TrainError;

/// Everything a subcommand can fail with; `main` prints it after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag's value is wrong, or the file it names cannot be written.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--out`.
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// A study's file (its plan or a run's result) cannot be read or
    /// written.
    #[error("{}: {message}", .path.display())]
    Study {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// SIGINT or SIGTERM stopped the run after a whole step.
    #[error("interrupted by {signal}: {message}")]
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
        /// Where the run stands and what was saved.
        message: String,
        /// 130 for SIGINT, 143 for SIGTERM.
        code: u8,
    },
    /// The library refused the run or failed during it.
    #[error("{}", train_message(.0))]
    Train(#[from] TrainError),
}

impl CliError {
    /// A [`CliError::Flag`].
    pub fn flag(flag: impl Into<String>, message: impl Into<String>) -> Self {
        CliError::Flag {
            flag: flag.into(),
            message: message.into(),
        }
    }

    /// The process exit code: 3 for a diverged run, 1 otherwise (clap
    /// itself exits with 2 for flags it cannot parse).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Train(TrainError::Diverged { .. }) => 3,
            CliError::Interrupted { code, .. } => *code as i32,
            _ => 1,
        }
    }
}

/// The flag that sets the config field `field`: `batch_size` → `--batch-size`.
pub fn flag_of(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

/// The library's message, with config fields named as flags.
fn train_message(e: &TrainError) -> String {
    match e {
        TrainError::Config { field, message } => format!("{}: {message}", flag_of(field)),
        TrainError::Optim(OptimError::NotApplicable { optimizer, field }) => {
            format!(
                "{}: {optimizer} has no such hyper-parameter",
                flag_of(field)
            )
        }
        TrainError::Resume { path, message } => {
            format!("--resume {}: {message}", path.display())
        }
        e => e.to_string(),
    }
}

macro_rules! via_train_error {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::Train(e.into())
            }
        }
    )*};
}

via_train_error!(
    descent_train::data::DataError,
    descent_train::checkpoint::CheckpointError,
    descent_train::metrics::MetricsError,
    descent_nn::NnError,
    descent_train::landscape::LandscapeError,
    OptimError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fields_print_as_flags() {
        let e = CliError::from(TrainError::Config {
            field: "eval_batch_size",
            message: "must be at least 1".into(),
        });
        assert_eq!(e.to_string(), "--eval-batch-size: must be at least 1");
        let e = CliError::from(OptimError::NotApplicable {
            optimizer: "sgd",
            field: "initial_accumulator_value",
        });
        assert_eq!(
            e.to_string(),
            "--initial-accumulator-value: sgd has no such hyper-parameter"
        );
        assert_eq!(e.exit_code(), 1);
    }
}
