//! Saving a run and resuming it: the weights under PyTorch's names, the
//! optimizer state as `optim/{buffer}/{param}` tensors, and the config,
//! progress, schedule and history as metadata. A resumed run continues bit
//! for bit like an uninterrupted one.

use descent_core::Compute;
use std::collections::BTreeMap;
use std::path::Path;

use descent_optim::{OptimState, RandomSearchState, ScheduleState, Updater};

use crate::checkpoint::{self, names, Checkpoint, LoadOptions};
use crate::config::RunConfig;
use crate::data::Mnist;
use crate::trainer::{TrainError, Trainer};
use descent_nn::ParamTensor;

impl<'d> Trainer<'d> {
    /// Loads weights only from `path` (descent's or PyTorch's safetensors).
    pub fn load_weights(&mut self, path: &Path, allow_nonfinite: bool) -> Result<(), TrainError> {
        let ck = checkpoint::load_checkpoint_with(path, LoadOptions { allow_nonfinite })?;
        let layout = self.net.layout().to_vec();
        let params = self.net.params_mut();
        for t in &layout {
            ck.copy_tensor(&t.name, &t.shape, &mut params[t.range()])?;
        }
        Ok(())
    }

    /// Writes the model, the optimizer state and the run's progress to
    /// `path` (atomically), and remembers it as the run's last checkpoint.
    ///
    /// The model's tensors are [`Trainer::model_weights`] (Schedule-Free's
    /// x); when those are not the trained parameters, the parameters are
    /// kept too, as the optimizer buffer `y`, for the resume.
    pub fn save(&mut self, path: &Path) -> Result<(), TrainError> {
        let layout = self.net.layout();
        let eval = self.eval_weights();
        let train_params = self.net.params();
        let params: &[f32] = eval.as_deref().unwrap_or(train_params);
        let mut owned: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        let mut meta = BTreeMap::new();
        meta.insert(names::FORMAT.to_string(), names::FORMAT_VERSION.to_string());
        meta.insert(
            names::CONFIG.to_string(),
            serde_json::to_string(&self.cfg).expect("config serialises"),
        );
        meta.insert(names::EPOCH.to_string(), self.epoch.to_string());
        meta.insert(names::STEP.to_string(), self.step.to_string());
        meta.insert("examples".to_string(), self.examples.to_string());
        meta.insert("seconds".to_string(), self.seconds.to_string());
        meta.insert(
            "max_grad_norm_bits".to_string(),
            self.max_grad_norm.to_bits().to_string(),
        );
        meta.insert(
            "schedule".to_string(),
            schedule_json(&self.schedule.export_state()),
        );
        meta.insert(
            "epoch_progress".to_string(),
            serde_json::to_string(&self.progress).expect("progress serialises"),
        );
        meta.insert(
            "history_epochs".to_string(),
            serde_json::to_string(&self.history.epochs).expect("records serialise"),
        );
        meta.insert(
            "history_evals".to_string(),
            serde_json::to_string(&self.history.evals).expect("records serialise"),
        );
        match &self.updater {
            Updater::Grad(opt) => {
                let st = opt.export_state();
                meta.insert("optim_step".to_string(), st.step.to_string());
                meta.insert("optim".to_string(), opt.name().to_string());
                let y = eval
                    .as_ref()
                    .map(|_| (names::TRAIN_POINT.to_string(), train_params.to_vec()));
                write_state(&st, y, layout, &mut owned, &mut meta);
            }
            Updater::Lbfgs(opt) => {
                let st = opt.export_state();
                meta.insert("optim_step".to_string(), st.step.to_string());
                meta.insert("optim".to_string(), "lbfgs".to_string());
                write_state(&st, None, layout, &mut owned, &mut meta);
            }
            Updater::Search(rs) => {
                let st = rs.export_state();
                meta.insert(
                    names::RNG.to_string(),
                    serde_json::json!({
                        "step": st.step,
                        "best_loss_bits": st.best_loss.map(f32::to_bits),
                        "seed": st.seed,
                        "word_pos": st.word_pos.to_string(),
                    })
                    .to_string(),
                );
            }
        }
        let mut tensors: Vec<(&str, &[usize], &[f32])> = layout
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice(), &params[t.range()]))
            .collect();
        tensors.extend(
            owned
                .iter()
                .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice())),
        );
        checkpoint::save_checkpoint(path, &tensors, &meta)?;
        self.last_checkpoint = Some(path.to_path_buf());
        Ok(())
    }

    /// Continues the run saved at `path`: its config (with `epochs` and
    /// `max_steps` replaced by the caller's), weights, optimizer state,
    /// schedule and progress.
    pub fn resume(
        path: &Path,
        data: &'d Mnist,
        epochs: usize,
        max_steps: Option<u64>,
        cx: &Compute,
        allow_nonfinite: bool,
    ) -> Result<Self, TrainError> {
        let ck = checkpoint::load_checkpoint_with(path, LoadOptions { allow_nonfinite })?;
        let bad = |message: String| TrainError::Resume {
            path: path.to_path_buf(),
            message,
        };
        let fmt = ck.meta(names::FORMAT)?;
        if fmt != names::FORMAT_VERSION {
            return Err(bad(format!(
                "format {fmt:?} is not {:?}",
                names::FORMAT_VERSION
            )));
        }
        let mut cfg: RunConfig = serde_json::from_str(ck.meta(names::CONFIG)?).map_err(|e| {
            bad(format!(
                "metadata {:?} is not a descent run config: {e}",
                names::CONFIG
            ))
        })?;
        cfg.epochs = epochs;
        cfg.max_steps = max_steps;
        let mut t = Trainer::new(cfg, data, cx.clone())?;
        let layout = t.net.layout().to_vec();
        {
            let params = t.net.params_mut();
            for p in &layout {
                ck.copy_tensor(&p.name, &p.shape, &mut params[p.range()])?;
            }
        }
        t.epoch = ck.meta_parse(names::EPOCH)?;
        t.step = ck.meta_parse(names::STEP)?;
        t.examples = ck.meta_parse("examples")?;
        t.seconds = ck.meta_parse("seconds")?;
        t.max_grad_norm = f32::from_bits(ck.meta_parse("max_grad_norm_bits")?);
        t.schedule
            .import_state(&parse_schedule(ck.meta("schedule")?).map_err(&bad)?)?;
        // Inside an epoch when the run was stopped there (a checkpoint
        // written at an epoch's end, or by an older descent, has none).
        if ck.metadata.contains_key("epoch_progress") {
            t.progress = serde_json::from_str(ck.meta("epoch_progress")?)
                .map_err(|e| bad(format!("metadata \"epoch_progress\": {e}")))?;
            if t.progress.steps_done > t.steps_per_epoch() {
                return Err(bad(format!(
                    "metadata \"epoch_progress\": {} steps done of an epoch of {}",
                    t.progress.steps_done,
                    t.steps_per_epoch()
                )));
            }
        }
        t.history.epochs = serde_json::from_str(ck.meta("history_epochs")?)
            .map_err(|e| bad(format!("metadata \"history_epochs\": {e}")))?;
        if ck.metadata.contains_key("history_evals") {
            t.history.evals = serde_json::from_str(ck.meta("history_evals")?)
                .map_err(|e| bad(format!("metadata \"history_evals\": {e}")))?;
        }
        let n = t.net.num_params();
        match &mut t.updater {
            Updater::Grad(opt) => {
                let mut st = read_state(&ck, &layout, n, &bad)?;
                // The parameters the gradient is taken at, when the model
                // saved is another point (Schedule-Free's y beside its x).
                if let Some(i) = st.buffers.iter().position(|(b, _)| b == names::TRAIN_POINT) {
                    let (_, y) = st.buffers.remove(i);
                    t.net.params_mut().copy_from_slice(&y);
                }
                opt.import_state(&st)?;
            }
            Updater::Lbfgs(opt) => opt.import_state(&read_state(&ck, &layout, n, &bad)?)?,
            Updater::Search(rs) => {
                let v: serde_json::Value = serde_json::from_str(ck.meta(names::RNG)?)
                    .map_err(|e| bad(format!("metadata \"rng\": {e}")))?;
                let st = (|| {
                    Some(RandomSearchState {
                        step: v["step"].as_u64()?,
                        best_loss: v["best_loss_bits"]
                            .as_u64()
                            .map(|b| f32::from_bits(b as u32)),
                        seed: v["seed"].as_u64()?,
                        word_pos: v["word_pos"].as_str()?.parse().ok()?,
                    })
                })()
                .ok_or_else(|| bad("metadata \"rng\" lacks step, seed or word_pos".to_string()))?;
                rs.import_state(&st)?;
            }
        }
        Ok(t)
    }
}

fn schedule_json(s: &ScheduleState) -> String {
    serde_json::json!({
        "t": s.t,
        "plateau_lr_bits": s.plateau_lr.to_bits(),
        "best_bits": s.best.to_bits(),
        "num_bad": s.num_bad,
        "cooldown_counter": s.cooldown_counter,
    })
    .to_string()
}

fn parse_schedule(s: &str) -> Result<ScheduleState, String> {
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("metadata \"schedule\": {e}"))?;
    let u = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| format!("metadata \"schedule\" lacks {k}"))
    };
    Ok(ScheduleState {
        t: u("t")?,
        plateau_lr: f32::from_bits(u("plateau_lr_bits")? as u32),
        best: f32::from_bits(u("best_bits")? as u32),
        num_bad: u("num_bad")?,
        cooldown_counter: u("cooldown_counter")?,
    })
}

/// Writes an optimizer's state into a checkpoint: a buffer of one value
/// per parameter as one tensor per parameter (`optim/{buffer}/{param}`),
/// any other (Adafactor's factored moments, L-BFGS's history) as one flat
/// tensor (`optim/{buffer}`), plus `extra` (Schedule-Free's y); the carried
/// scalars as their `f64` bit patterns, since a JSON number need not read
/// back to the same bits.
fn write_state(
    st: &OptimState,
    extra: Option<(String, Vec<f32>)>,
    layout: &[ParamTensor],
    owned: &mut Vec<(String, Vec<usize>, Vec<f32>)>,
    meta: &mut BTreeMap<String, String>,
) {
    let n: usize = layout.iter().map(ParamTensor::len).sum();
    for (buf, data) in st.buffers.iter().chain(&extra) {
        if data.len() != n {
            owned.push((names::optim_flat(buf), vec![data.len()], data.clone()));
            continue;
        }
        for t in layout {
            owned.push((
                names::optim(buf, &t.name),
                t.shape.clone(),
                data[t.range()].to_vec(),
            ));
        }
    }
    if !st.scalars.is_empty() {
        let bits: serde_json::Map<String, serde_json::Value> = st
            .scalars
            .iter()
            .map(|(n, v)| (n.clone(), v.to_bits().into()))
            .collect();
        meta.insert(
            names::OPTIM_SCALARS.to_string(),
            serde_json::Value::Object(bits).to_string(),
        );
    }
}

/// Reads what [`write_state`] wrote: the step count, every buffer (per
/// parameter tensors assembled into the flat layout of `n`, flat ones as
/// they are), and the carried scalars.
fn read_state(
    ck: &Checkpoint,
    layout: &[ParamTensor],
    n: usize,
    bad: &dyn Fn(String) -> TrainError,
) -> Result<OptimState, TrainError> {
    let step: u64 = ck.meta_parse("optim_step")?;
    // Buffer names in file order, each assembled from its per-parameter
    // tensors into the flat layout.
    let mut bufs: Vec<(String, Vec<f32>)> = Vec::new();
    let mut flat: Vec<(String, Vec<f32>)> = Vec::new();
    for tensor in ck.with_prefix(names::OPTIM_PREFIX) {
        let rest = &tensor.name[names::OPTIM_PREFIX.len()..];
        let Some((buf, _)) = rest.split_once('/') else {
            // optim/BUFFER: a flat buffer of its own length.
            let [len] = *tensor.shape() else {
                return Err(bad(format!(
                    "tensor {:?} has shape {:?}: a flat optimizer buffer has one dimension",
                    tensor.name,
                    tensor.shape()
                )));
            };
            let mut data = vec![0.0; len];
            ck.copy_tensor(&tensor.name, &[len], &mut data)?;
            flat.push((rest.to_string(), data));
            continue;
        };
        if !bufs.iter().any(|(b, _)| b == buf) {
            bufs.push((buf.to_string(), vec![0.0; n]));
        }
    }
    for (buf, data) in &mut bufs {
        for p in layout {
            ck.copy_tensor(&names::optim(buf, &p.name), &p.shape, &mut data[p.range()])?;
        }
    }
    bufs.extend(flat);
    let scalars = match ck.meta(names::OPTIM_SCALARS) {
        Ok(text) => parse_scalars(text).ok_or_else(|| {
            bad(format!(
                "metadata {:?} is not an object of u64 bit patterns: {text}",
                names::OPTIM_SCALARS
            ))
        })?,
        Err(_) => Vec::new(),
    };
    Ok(OptimState {
        step,
        buffers: bufs,
        scalars,
    })
}

/// The carried scalars of `{"name": bits, …}`, in the file's order.
fn parse_scalars(text: &str) -> Option<Vec<(String, f64)>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.as_object()?
        .iter()
        .map(|(n, b)| Some((n.clone(), f64::from_bits(b.as_u64()?))))
        .collect()
}
