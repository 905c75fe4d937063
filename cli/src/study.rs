//! A comparison as a study: a list of runs, each a unit of work with a
//! stable id, whose results live in the study's directory.
//!
//! ```text
//! DIR/plan.json          the runs (id, label, full config), the lr search
//!                        and the report's settings
//! DIR/runs/<id>.json     one finished run: its config, every step and
//!                        epoch record, its timings and its peak RSS
//! DIR/runs/<id>.safetensors   its model and optimizer state at the end
//! DIR/runs/<id>.ckpt.safetensors, <id>.steps.json
//!                        while it trains: its place, for a resume
//! ```
//!
//! `descent compare` plans, runs every run that has no result yet, each in
//! a child process of its own (`descent run-one`, so its peak RSS is its
//! own), and reports. `compare --shard K/N` runs only the K-th of N slices
//! and leaves the report to `descent report DIR…`, so a cluster's job array
//! can run a study as N independent tasks. A result is written to a
//! temporary file and linked into place, which fails if the id is there
//! already: a reader never sees half a file, and of two writers of one id
//! the second is refused and keeps nothing. Re-running a command skips the
//! runs already done.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use descent_train::checkpoint::{write_atomic, write_atomic_new};
use descent_train::tune::Tuned;
use descent_train::RunConfig;

use crate::compare::RunResult;
use crate::error::CliError;
use crate::opts::XAxis;

/// The version of the files below; a study written by another version is
/// refused rather than misread.
pub const FORMAT: u32 = 1;

/// One planned run: a seed of one optimizer (at one batch size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// [`run_id`] of `config`.
    pub id: String,
    /// The run's group in the tables and charts, e.g. `adam` or `sgd/b64`
    /// (its seeds are one group).
    pub label: String,
    /// Everything that decides its numbers, the seed and the lr included.
    pub config: RunConfig,
}

/// A study's plan: its runs in the order the one-process `compare` runs
/// them (seed-major), and what the report needs besides the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT`].
    pub format: u32,
    /// The loss chart's x axis.
    pub x: XAxis,
    /// The test accuracy (%) whose time the table reports.
    pub target_acc: f64,
    /// The lr search, when `--tune-lr` chose the lrs.
    pub tuned: Vec<Tuned>,
    /// The runs.
    pub runs: Vec<PlannedRun>,
}

/// A finished run as stored in `runs/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRun {
    /// [`FORMAT`].
    pub format: u32,
    /// The run's id (the file's name).
    pub id: String,
    /// What it measured.
    pub result: RunResult,
}

/// The stable id of a run: the first 16 hex digits of the SHA-256 of its
/// config as JSON (fields in declaration order, floats in their shortest
/// exact form). The same config gives the same id on any machine, in any
/// process; a different seed, lr or any other setting gives another.
pub fn run_id(cfg: &RunConfig) -> String {
    let json = serde_json::to_string(cfg).expect("a RunConfig always serializes");
    let digest = Sha256::digest(format!("descent run v{FORMAT}\n{json}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `K/N`: the K-th of N slices of a plan (K from 1): runs i with
/// `i mod N = K − 1`, so each slice gets a share of every optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 1 to N.
    pub k: usize,
    /// N ≥ 1.
    pub n: usize,
}

impl Shard {
    /// True when the plan's run `i` (from 0) is in this slice.
    pub fn contains(self, i: usize) -> bool {
        i % self.n == self.k - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not K/N with 1 ≤ K ≤ N (e.g. 2/8)");
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

/// `DIR/plan.json`.
pub fn plan_path(dir: &Path) -> PathBuf {
    dir.join("plan.json")
}

/// `DIR/runs/<id>.json`.
pub fn result_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("runs").join(format!("{id}.json"))
}

/// `DIR/runs/<id>.ckpt.safetensors`: a run's place while it trains.
pub fn checkpoint_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("runs").join(format!("{id}.ckpt.safetensors"))
}

/// `DIR/runs/<id>.safetensors`: a finished run's model and optimizer
/// state (its checkpoint at its last epoch's end).
pub fn model_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("runs").join(format!("{id}.safetensors"))
}

/// `DIR/runs/<id>.steps.json`: a run's step records while it trains.
pub fn steps_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("runs").join(format!("{id}.steps.json"))
}

fn study_error(path: &Path, message: impl fmt::Display) -> CliError {
    CliError::Study {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes `DIR/plan.json` (atomically: shards of one study write the same
/// bytes, and a reader sees one whole plan).
pub fn write_plan(dir: &Path, plan: &Plan) -> Result<(), CliError> {
    let path = plan_path(dir);
    std::fs::create_dir_all(dir.join("runs")).map_err(|e| study_error(&dir.join("runs"), e))?;
    let json = serde_json::to_vec_pretty(plan).map_err(|e| study_error(&path, e))?;
    write_atomic(&path, &json).map_err(|e| study_error(&path, e))
}

/// Reads `DIR/plan.json`.
pub fn read_plan(dir: &Path) -> Result<Plan, CliError> {
    let path = plan_path(dir);
    let bytes = std::fs::read(&path).map_err(|e| {
        study_error(
            &path,
            format!("{e} (is this a study directory, written by `descent compare`?)"),
        )
    })?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| study_error(&path, e))?;
    if plan.format != FORMAT {
        return Err(study_error(
            &path,
            format!(
                "format {} (this descent reads format {FORMAT})",
                plan.format
            ),
        ));
    }
    Ok(plan)
}

/// The stored result of run `id` in `dir`, if it is there. A file that is
/// there but cannot be read is an error naming it (results are written
/// whole or not at all, so that is damage from outside).
pub fn load_result(dir: &Path, id: &str) -> Result<Option<RunResult>, CliError> {
    let path = result_path(dir, id);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(study_error(&path, e)),
    };
    let stored: StoredRun = serde_json::from_slice(&bytes).map_err(|e| study_error(&path, e))?;
    if stored.format != FORMAT || stored.id != id {
        return Err(study_error(
            &path,
            format!(
                "holds run {} in format {}, expected run {id} in format {FORMAT}",
                stored.id, stored.format
            ),
        ));
    }
    Ok(Some(stored.result))
}

/// Stores run `id`'s result, unless a result for `id` is there already
/// (another process finished the same run first): then nothing is written
/// and `false` is returned.
pub fn store_result(dir: &Path, id: &str, result: &RunResult) -> Result<bool, CliError> {
    let path = result_path(dir, id);
    let stored = StoredRun {
        format: FORMAT,
        id: id.to_string(),
        result: result.clone(),
    };
    let json = serde_json::to_vec(&stored).map_err(|e| study_error(&path, e))?;
    write_atomic_new(&path, &json).map_err(|e| study_error(&path, e))
}

/// The label a run prints as: its group, with `/s<seed>` when the plan
/// has several seeds.
pub fn shown_label(plan: &Plan, run: &PlannedRun) -> String {
    let seeds: BTreeSet<u64> = plan.runs.iter().map(|r| r.config.seed).collect();
    if seeds.len() > 1 {
        format!("{}/s{}", run.label, run.config.seed)
    } else {
        run.label.clone()
    }
}

/// Prints the plan, one run a line: id, label, seed and the full config
/// as JSON.
pub fn print_plan(plan: &Plan) {
    for r in &plan.runs {
        println!(
            "{}\t{}\t{}",
            r.id,
            shown_label(plan, r),
            serde_json::to_string(&r.config).expect("a RunConfig always serializes")
        );
    }
}

/// How `descent` runs one planned run in a process of its own.
pub struct Child<'a> {
    /// The study's directory.
    pub dir: &'a Path,
    /// The data directory, passed on as `--data`.
    pub data: &'a Path,
    /// `--threads` for the run.
    pub threads: usize,
    /// `--quiet`.
    pub quiet: bool,
}

impl Child<'_> {
    /// Runs `descent run-one ID --study DIR …` and waits for it. Its output
    /// is this process's. A child that fails or is killed is an error that
    /// says so (its result, if any, was written whole or not at all).
    pub fn run(&self, id: &str) -> Result<(), CliError> {
        let exe = std::env::current_exe().map_err(|e| {
            CliError::flag("run-one", format!("cannot find descent's own binary: {e}"))
        })?;
        let mut cmd = Command::new(exe);
        cmd.arg("run-one")
            .arg(id)
            .arg("--study")
            .arg(self.dir)
            .arg("--data")
            .arg(self.data)
            .arg("--threads")
            .arg(self.threads.to_string());
        if self.quiet {
            cmd.arg("--quiet");
        }
        let status = cmd
            .status()
            .map_err(|e| CliError::flag("run-one", format!("cannot start run {id}: {e}")))?;
        if status.success() {
            return Ok(());
        }
        Err(CliError::flag(
            "run-one",
            format!(
                "run {id} ended with {status}; re-run the same command to resume the study in {}",
                self.dir.display()
            ),
        ))
    }
}

/// The results of `plan`'s runs found in `dirs` (the first that has each),
/// in the plan's order, and the runs that have none.
pub fn collect<'p>(
    plan: &'p Plan,
    dirs: &[PathBuf],
) -> Result<(Vec<RunResult>, Vec<&'p PlannedRun>), CliError> {
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for run in &plan.runs {
        let mut hit = None;
        for d in dirs {
            if let Some(r) = load_result(d, &run.id)? {
                hit = Some(r);
                break;
            }
        }
        match hit {
            Some(r) => found.push(r),
            None => missing.push(run),
        }
    }
    Ok((found, missing))
}
