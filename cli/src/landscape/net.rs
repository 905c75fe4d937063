//! `descent landscape` on the network itself (`descent_train::landscape`):
//!
//! - `--model CKPT`: the surface around a model on two filter-normalised
//!   random directions (Li et al. 2018);
//! - `--interpolate A,B`: the loss on the line through two models
//!   (Goodfellow et al. 2015), with the barrier between them;
//! - neither: each of `--optimizers` trained from the same initial weights
//!   and batch order, its path recorded, the paths drawn on the plane of
//!   their top two principal directions (Li et al. §7), and the lines from
//!   the initial weights to each solution and between the solutions.

use std::path::Path;
use std::time::Instant;

use descent_core::gemm::blocking::Caches;
use descent_core::Compute;
use descent_nn::Mlp;
use descent_optim::{Hyper, OptimizerKind};
use descent_profile::roof::{self, Roofs};
use descent_report::chart::{line_chart, Axes, Axis, Chart};
use descent_report::landscape::{contour_levels, PathSeries, Surface};
use descent_report::page::{self as report, Table};
use descent_report::Series;
use descent_train::landscape::{
    filter_normalised, measure, pca2, Examples, Measured, Slice, SliceCost, SliceOptions,
};
use descent_train::metrics::StepRecord;
use descent_train::{Observer, TrainError, Trainer};

use crate::commands::{load_data, load_model_from, parse_lr_map};
use crate::error::CliError;
use crate::opts::LandscapeArgs;

fn flag(flag: &str, message: impl Into<String>) -> CliError {
    CliError::Flag {
        flag: flag.into(),
        message: message.into(),
    }
}

fn out_err(path: &Path, e: impl std::fmt::Display) -> CliError {
    flag("--out", format!("{}: {e}", path.display()))
}

/// What one measurement took, against this machine's roofline.
struct Timing {
    what: String,
    points: usize,
    seconds: f64,
    /// FLOPs of the schedule run, and of the same points as plain forward
    /// passes.
    flops: f64,
    direct_flops: f64,
    /// The roofline floor: the FLOPs at the peak plus each stream at its
    /// level's bandwidth, seconds.
    floor: f64,
    peak: f64,
}

impl Timing {
    fn row(&self) -> Vec<String> {
        let gflops = self.flops / self.seconds / 1e9;
        vec![
            self.what.clone(),
            self.points.to_string(),
            format!("{:.3}", self.seconds),
            format!("{:.0}", self.points as f64 / self.seconds),
            format!("{gflops:.1}"),
            format!("{:.0}%", 100.0 * gflops / self.peak),
            format!("{:.3}", self.floor),
            format!("{:.2}×", self.seconds / self.floor),
            format!("{:.1}×", self.direct_flops / self.flops.max(1.0)),
        ]
    }

    fn table(rows: &[Timing]) -> Table {
        let mut t = Table::new(&[
            "measurement",
            "points",
            "seconds",
            "points/s",
            "GFLOP/s",
            "of peak",
            "roofline floor, s",
            "time / floor",
            "FLOPs saved by the linear trick",
        ]);
        t.rows = rows.iter().map(Timing::row).collect();
        t
    }
}

/// The roofline floor of `cost`: its FLOPs at `peak` (GFLOP/s, the widest
/// FMA peak of the threads used), plus each stream's bytes at the triad
/// bandwidth of the smallest level of `roofs` that holds its working set.
fn floor_seconds(cost: &SliceCost, roofs: &Roofs, peak: f64) -> f64 {
    let streams = cost.streams.iter().map(|s| (s.bytes, s.working_set));
    let (compute, memory) = roofs.floor(cost.flops, peak, streams);
    compute + memory
}

/// Everything the network modes share.
struct Ctx<'a> {
    cx: Compute,
    ex: Examples<'a>,
    set: &'static str,
    roofs: Roofs,
    /// The FMA peak of the threads used, GFLOP/s ([`roof::peak_of_cores`]).
    peak: f64,
    caches: Caches,
    timings: Vec<Timing>,
}

impl Ctx<'_> {
    /// [`measure`] with the chunking for this net and context, timed and
    /// priced: the values and a [`Timing`] of `points` points.
    fn timed(
        &self,
        what: &str,
        arch: &Mlp,
        slice: &Slice,
        coeffs: &[f32],
    ) -> Result<(Vec<Measured>, Timing), CliError> {
        let k = slice.dirs.len();
        let (n, threads) = (self.ex.labels.len(), self.cx.thread_count());
        let origin = slice.origin.is_some();
        let opts =
            SliceOptions::for_net(&self.caches, arch.sizes(), origin as usize + k, n, threads);
        let start = Instant::now();
        let m = measure(&self.cx, arch, slice, coeffs, self.ex, opts)?;
        let seconds = start.elapsed().as_secs_f64();
        let points = coeffs.len() / k;
        let cost = SliceCost::of(arch.sizes(), (origin, k), points, n, opts, threads);
        let t = Timing {
            what: what.to_string(),
            points,
            seconds,
            flops: cost.flops,
            direct_flops: cost.direct_flops,
            floor: floor_seconds(&cost, &self.roofs, self.peak),
            peak: self.peak,
        };
        Ok((m, t))
    }

    /// Prints a measurement's line and keeps it for the report's table.
    fn report(&mut self, t: Timing) {
        let r = t.row();
        println!(
            "  {}: {} points in {} s, {} points/s, {} GFLOP/s = {} of the {:.0} GFLOP/s peak of {} \
             thread(s); roofline floor {} s ({} of it); the linear trick saves {} of the FLOPs",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            t.peak,
            self.roofs.threads,
            r[6],
            r[7],
            r[8]
        );
        self.timings.push(t);
    }

    /// [`measure`], timed, priced and reported.
    fn measure(
        &mut self,
        what: String,
        arch: &Mlp,
        slice: &Slice,
        coeffs: &[f32],
    ) -> Result<Vec<Measured>, CliError> {
        let (m, t) = self.timed(&what, arch, slice, coeffs)?;
        self.report(t);
        Ok(m)
    }

    /// The losses of whole weight vectors, eight to a stacked GEMM (a
    /// slice with no origin, each point a unit coefficient vector),
    /// reported as one measurement.
    fn measure_points(
        &mut self,
        what: &str,
        arch: &Mlp,
        points: &[&[f32]],
    ) -> Result<Vec<Measured>, CliError> {
        const GROUP: usize = 8;
        let mut out = Vec::with_capacity(points.len());
        let mut total: Option<Timing> = None;
        for group in points.chunks(GROUP) {
            let g = group.len();
            let slice = Slice {
                origin: None,
                dirs: group.to_vec(),
            };
            let unit: Vec<f32> = (0..g * g)
                .map(|i| if i / g == i % g { 1.0 } else { 0.0 })
                .collect();
            let (m, t) = self.timed(what, arch, &slice, &unit)?;
            out.extend(m);
            total = Some(match total {
                None => t,
                Some(mut sum) => {
                    sum.points += t.points;
                    sum.seconds += t.seconds;
                    sum.flops += t.flops;
                    sum.direct_flops += t.direct_flops;
                    sum.floor += t.floor;
                    sum
                }
            });
        }
        if let Some(t) = total {
            self.report(t);
        }
        Ok(out)
    }
}

/// `t` from −0.5 to 1.5 in `n` steps, with 0 and 1 exactly among them.
fn line_ts(n: usize) -> Vec<f64> {
    let mut ts: Vec<f64> = (0..n)
        .map(|i| -0.5 + 2.0 * i as f64 / (n - 1) as f64)
        .map(|t| {
            if t.abs() < 1e-9 {
                0.0
            } else if (t - 1.0).abs() < 1e-9 {
                1.0
            } else {
                t
            }
        })
        .collect();
    for must in [0.0, 1.0] {
        if !ts.contains(&must) {
            ts.push(must);
        }
    }
    ts.sort_by(f64::total_cmp);
    ts
}

/// The loss along one line, and its barrier.
struct Line {
    pair: String,
    ts: Vec<f64>,
    values: Vec<Measured>,
}

impl Line {
    fn at(&self, t: f64) -> Measured {
        let i = self
            .ts
            .iter()
            .position(|&x| x == t)
            .expect("0 and 1 on the line");
        self.values[i]
    }

    /// The highest loss on the segment `t ∈ [0, 1]` minus the mean of the
    /// endpoints' (Goodfellow et al.'s barrier; ≤ 0 when the segment never
    /// rises above its ends).
    fn barrier(&self) -> f64 {
        let max = self
            .ts
            .iter()
            .zip(&self.values)
            .filter(|(t, _)| (0.0..=1.0).contains(*t))
            .map(|(_, m)| m.loss)
            .fold(f64::NEG_INFINITY, f64::max);
        max - 0.5 * (self.at(0.0).loss + self.at(1.0).loss)
    }

    /// The most the loss on `t ∈ [0, 1]` rises above the chord between
    /// the ends, `max_t L(t) − ((1 − t)·L(0) + t·L(1))`: 0 for a line
    /// that falls monotonically and convexly from one end to the other
    /// (where the barrier above is half the ends' difference), > 0 for a
    /// bump between two basins.
    fn above_chord(&self) -> f64 {
        let (l0, l1) = (self.at(0.0).loss, self.at(1.0).loss);
        self.ts
            .iter()
            .zip(&self.values)
            .filter(|(t, _)| (0.0..=1.0).contains(*t))
            .map(|(&t, m)| m.loss - ((1.0 - t) * l0 + t * l1))
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

fn line(
    ctx: &mut Ctx,
    arch: &Mlp,
    pair: String,
    a: &[f32],
    b: &[f32],
    n: usize,
) -> Result<Line, CliError> {
    let ts = line_ts(n);
    let coeffs: Vec<f32> = ts
        .iter()
        .flat_map(|&t| [(1.0 - t) as f32, t as f32])
        .collect();
    let slice = Slice {
        origin: None,
        dirs: vec![a, b],
    };
    let values = ctx.measure(format!("line {pair}"), arch, &slice, &coeffs)?;
    Ok(Line { pair, ts, values })
}

fn write_lines(out: &Path, lines: &[Line]) -> Result<Table, CliError> {
    let csv = out.join("interpolation.csv");
    let mut text = String::from("pair,t,loss,accuracy\n");
    for l in lines {
        for (t, m) in l.ts.iter().zip(&l.values) {
            text.push_str(&format!("{},{t},{},{}\n", l.pair, m.loss, m.accuracy));
        }
    }
    std::fs::write(&csv, text).map_err(|e| out_err(&csv, e))?;
    let mut table = Table::new(&[
        "line",
        "loss at t = 0",
        "loss at t = 1",
        "max loss on [0, 1]",
        "barrier",
        "above the chord",
        "accuracy at 0 / 1",
    ]);
    for l in lines {
        let (a, b) = (l.at(0.0), l.at(1.0));
        let barrier = l.barrier();
        table.rows.push(vec![
            l.pair.clone(),
            format!("{:.4}", a.loss),
            format!("{:.4}", b.loss),
            format!("{:.4}", barrier + 0.5 * (a.loss + b.loss)),
            format!("{barrier:.4}"),
            format!("{:.4}", l.above_chord()),
            format!("{:.2}% / {:.2}%", 100.0 * a.accuracy, 100.0 * b.accuracy),
        ]);
    }
    for (file, y, log_y, f) in [
        (
            "interpolation.svg",
            "loss",
            true,
            (|m: &Measured| m.loss) as fn(&Measured) -> f64,
        ),
        (
            "interpolation-accuracy.svg",
            "accuracy (%)",
            false,
            |m: &Measured| 100.0 * m.accuracy,
        ),
    ] {
        let series: Vec<Series> = lines
            .iter()
            .map(|l| Series {
                name: format!(
                    "{} (barrier {:.3}, above the chord {:.3})",
                    l.pair,
                    l.barrier(),
                    l.above_chord()
                ),
                points: l
                    .ts
                    .iter()
                    .zip(&l.values)
                    .map(|(&t, m)| (t, f(m)))
                    .collect(),
            })
            .collect();
        let path = out.join(file);
        line_chart(
            &path,
            &format!("{y} along θ(t) = (1 − t)·θa + t·θb"),
            Axes {
                x: "t",
                y,
                log_x: false,
                log_y,
                integer_x: false,
            },
            &series,
            false,
        )
        .map_err(|e| out_err(&path, e))?;
    }
    Ok(table)
}

/// A grid of measurements as `values[j][i]` at `(xs[i], ys[j])`.
fn grid_values(ms: &[Measured], g: usize, f: impl Fn(&Measured) -> f64) -> Vec<Vec<f64>> {
    ms.chunks(g)
        .map(|row| row.iter().map(&f).collect())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn write_surface(
    out: &Path,
    title: &str,
    labels: (&str, &str),
    xs: &[f64],
    ys: &[f64],
    ms: &[Measured],
    paths: Vec<PathSeries>,
    marks: Vec<(f64, f64)>,
) -> Result<(), CliError> {
    let csv = out.join("surface.csv");
    let mut text = String::from("alpha,beta,loss,accuracy\n");
    for (j, &b) in ys.iter().enumerate() {
        for (i, &a) in xs.iter().enumerate() {
            let m = ms[j * xs.len() + i];
            text.push_str(&format!("{a},{b},{},{}\n", m.loss, m.accuracy));
        }
    }
    std::fs::write(&csv, text).map_err(|e| out_err(&csv, e))?;
    let loss = grid_values(ms, xs.len(), |m| m.loss);
    let acc = grid_values(ms, xs.len(), |m| 100.0 * m.accuracy);
    let loss_levels = contour_levels(&loss, 14, 0.0, true);
    let acc_levels = contour_levels(&acc, 10, 0.0, false);
    for (file, what, values, levels, linear, paths) in [
        (
            "surface.svg",
            "loss (colour and contours in log scale)",
            loss,
            loss_levels,
            false,
            paths.clone(),
        ),
        ("accuracy.svg", "accuracy (%)", acc, acc_levels, true, paths),
    ] {
        let s = Surface {
            title: format!("{title}: {what}"),
            x_label: labels.0.into(),
            y_label: labels.1.into(),
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            values,
            levels,
            minima: marks.clone(),
            paths,
            linear_colour: linear,
        };
        let path = out.join(file);
        s.write(&path).map_err(|e| out_err(&path, e))?;
    }
    Ok(())
}

/// `descent landscape` on the network.
pub fn run(args: &LandscapeArgs) -> Result<(), CliError> {
    if args.grid < 3 || args.grid % 2 == 0 {
        return Err(flag(
            "--grid",
            format!(
                "{} must be odd and at least 3, so that the grid holds its centre",
                args.grid
            ),
        ));
    }
    if !(args.span.is_finite() && args.span > 0.0) {
        return Err(flag(
            "--span",
            format!("{} must be finite and > 0", args.span),
        ));
    }
    if !(args.margin.is_finite() && args.margin >= 0.0) {
        return Err(flag(
            "--margin",
            format!("{} must be finite and ≥ 0", args.margin),
        ));
    }
    if args.examples == 0 {
        return Err(flag("--examples", "must be at least 1"));
    }
    if args.line_points < 3 {
        return Err(flag(
            "--line-points",
            format!("{} must be at least 3", args.line_points),
        ));
    }
    let data = load_data(&args.data)?;
    let (set, name) = if args.on == "test" {
        (&data.test, "test")
    } else {
        (&data.train, "train")
    };
    let n = args.examples.min(set.len());
    let dim = set.dim();
    let ex = Examples {
        x: &set.images()[..n * dim],
        labels: &set.labels[..n],
    };
    // Every checkpoint is read before anything is measured or written.
    let model_net = match &args.model {
        Some(model) => {
            let net = load_model_from(model, "--model", None, &args.run.activation, false)?;
            check_fits(&net, dim, "--model", model)?;
            Some(net)
        }
        None => None,
    };
    let mut pairs = Vec::new();
    for pair in &args.interpolate {
        let ends: Vec<&str> = pair.split(',').collect();
        if ends.len() != 2 {
            return Err(flag(
                "--interpolate",
                format!("{pair:?} is not two checkpoints A,B"),
            ));
        }
        let [a, b] = [ends[0], ends[1]].map(|p| {
            load_model_from(
                Path::new(p),
                "--interpolate",
                None,
                &args.run.activation,
                false,
            )
        });
        let (a, b) = (a?, b?);
        check_fits(&a, dim, "--interpolate", Path::new(ends[0]))?;
        if a.sizes() != b.sizes() {
            return Err(flag(
                "--interpolate",
                format!(
                    "{} has widths {:?}, {} has {:?}",
                    ends[0],
                    a.sizes(),
                    ends[1],
                    b.sizes()
                ),
            ));
        }
        let label = format!("{} → {}", short(ends[0]), short(ends[1]));
        pairs.push((label, a, b));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| out_err(&args.out, e))?;
    let threads = args.run.thread_count();
    let cx = Compute::threads(threads);
    let caches = Caches::detect();
    println!(
        "descent landscape: the network on the first {n} {name} examples, {threads} thread(s); \
         measuring this machine's roofs…"
    );
    let roofs = roof::measure(cx.pool(), &caches, 5);
    let peak = roof::peak_of_cores(roofs.peak(), threads, 9);
    println!(
        "  FMA peak {peak:.1} GFLOP/s on {threads} thread(s) (measured on all at once: {:.1})",
        roofs.peak()
    );
    let mut ctx = Ctx {
        cx,
        ex,
        set: name,
        roofs,
        peak,
        caches,
        timings: Vec::new(),
    };
    let mut tables: Vec<(String, Table)> = Vec::new();
    let mut images: Vec<(&str, String)> = Vec::new();
    let mut lines = Vec::new();
    let mut intro =
        format!("Measured on the first {n} examples of the {name} set, in {threads} thread(s).");
    if let (Some(model), Some(net)) = (&args.model, &model_net) {
        surface_around(&mut ctx, args, net, model, &mut tables, &mut intro)?;
        images.push((
            "surface.svg",
            "The loss around the model (✕) on two filter-normalised random directions".into(),
        ));
        images.push(("accuracy.svg", "The accuracy on the same grid".into()));
    }
    for (label, a, b) in &pairs {
        lines.push(line(
            &mut ctx,
            a,
            label.clone(),
            a.params(),
            b.params(),
            args.line_points,
        )?);
    }
    if args.model.is_none() && args.interpolate.is_empty() {
        paths(
            &mut ctx,
            args,
            &data,
            &mut tables,
            &mut images,
            &mut lines,
            &mut intro,
        )?;
    }
    if !lines.is_empty() {
        let t = write_lines(&args.out, &lines)?;
        println!("\n{}", t.text());
        tables.push((
            "Interpolations: the barrier is the highest loss on the segment t ∈ [0, 1] minus the mean of its ends'; \
             above the chord, the most it rises over the straight line between the ends' losses"
                .into(),
            t,
        ));
        images.push((
            "interpolation.svg",
            "Loss along each line, t = 0 and 1 are its ends".into(),
        ));
        images.push((
            "interpolation-accuracy.svg",
            "Accuracy along each line".into(),
        ));
    }
    let timing = Timing::table(&ctx.timings);
    println!("\n{}", timing.text());
    tables.push((
        format!(
            "Time against this machine's roofline ({:.1} GFLOP/s FMA peak on {} thread(s))",
            ctx.peak, ctx.roofs.threads
        ),
        timing,
    ));
    let table_refs: Vec<(&str, &Table)> = tables.iter().map(|(a, b)| (a.as_str(), b)).collect();
    let image_refs: Vec<(&str, &str)> = images.iter().map(|(a, b)| (*a, b.as_str())).collect();
    report::write_index(
        &args.out,
        &report::command_line(),
        &intro,
        &table_refs,
        &image_refs,
    )
    .map_err(|e| out_err(&args.out, e))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

fn short(p: &str) -> String {
    Path::new(p)
        .file_name()
        .map_or_else(|| p.to_string(), |f| f.to_string_lossy().into_owned())
}

fn check_fits(net: &Mlp, dim: usize, name: &str, path: &Path) -> Result<(), CliError> {
    if net.sizes()[0] != dim || *net.sizes().last().expect("widths") != 10 {
        return Err(flag(
            name,
            format!(
                "{}: widths {:?} do not fit {dim}-pixel images and 10 classes",
                path.display(),
                net.sizes()
            ),
        ));
    }
    Ok(())
}

/// The grid `[−s, s]` in `g` points, 0 exactly at its centre.
fn symmetric_grid(g: usize, s: f64) -> Vec<f64> {
    let h = (g / 2) as f64;
    (0..g).map(|i| s * (i as f64 - h) / h).collect()
}

fn surface_around(
    ctx: &mut Ctx,
    args: &LandscapeArgs,
    net: &Mlp,
    model: &Path,
    tables: &mut Vec<(String, Table)>,
    intro: &mut String,
) -> Result<(), CliError> {
    let theta = net.params();
    let seed = args.direction_seed;
    let d1 = filter_normalised(net.layout(), theta, seed, 1, args.bias_directions)?;
    let d2 = filter_normalised(net.layout(), theta, seed, 2, args.bias_directions)?;
    let xs = symmetric_grid(args.grid, args.span);
    let coeffs: Vec<f32> = xs
        .iter()
        .flat_map(|&b| xs.iter().flat_map(move |&a| [a as f32, b as f32]))
        .collect();
    let slice = Slice {
        origin: Some(theta),
        dirs: vec![&d1, &d2],
    };
    let ms = ctx.measure(
        format!("surface {g}×{g}", g = args.grid),
        net,
        &slice,
        &coeffs,
    )?;
    let centre = ms[(args.grid / 2) * args.grid + args.grid / 2];
    println!(
        "  the model: loss {:.5}, accuracy {:.2}% on these examples",
        centre.loss,
        100.0 * centre.accuracy
    );
    write_surface(
        &args.out,
        &format!("around {}", short(&model.to_string_lossy())),
        ("α (direction 1)", "β (direction 2)"),
        &xs,
        &xs,
        &ms,
        Vec::new(),
        vec![(0.0, 0.0)],
    )?;
    let mut t = Table::new(&["setting", "value"]);
    t.rows = vec![
        vec!["model".into(), model.display().to_string()],
        vec!["examples".into(), format!("the first {} of the {} set", ctx.ex.labels.len(), ctx.set)],
        vec![
            "directions".into(),
            format!(
                "ChaCha8 seed {seed}, streams 1 and 2, N(0, 1), each weight row scaled to its row's norm; biases {}",
                if args.bias_directions { "scaled to each bias vector's norm" } else { "fixed" }
            ),
        ],
        vec!["grid".into(), format!("{g}×{g}, α, β ∈ [−{s}, {s}]", g = args.grid, s = args.span)],
        vec!["loss, accuracy at (0, 0)".into(), format!("{:.5}, {:.2}%", centre.loss, 100.0 * centre.accuracy)],
    ];
    intro.push_str(&format!(
        " Directions from seed {seed}; the ✕ is the model itself."
    ));
    tables.push(("The surface around the model".into(), t));
    Ok(())
}

/// Records the weights every `every` steps (and the last step's).
struct Recorder {
    every: u64,
    steps: Vec<u64>,
    weights: Vec<Vec<f32>>,
}

impl Observer for Recorder {
    fn step(&mut self, t: &Trainer<'_>, rec: &StepRecord) -> Result<(), TrainError> {
        if rec.step % self.every == 0 {
            self.steps.push(rec.step);
            self.weights.push(t.model_weights());
        }
        Ok(())
    }
}

/// One optimizer's recorded path.
struct RecordedPath {
    opt: OptimizerKind,
    lr: f32,
    steps: Vec<u64>,
    /// Rows into the store of recorded weights.
    rows: Vec<usize>,
    test_accuracy: f32,
    outcome: String,
}

#[allow(clippy::too_many_arguments)]
fn paths(
    ctx: &mut Ctx,
    args: &LandscapeArgs,
    data: &descent_train::data::Mnist,
    tables: &mut Vec<(String, Table)>,
    images: &mut Vec<(&str, String)>,
    lines: &mut Vec<Line>,
    intro: &mut String,
) -> Result<(), CliError> {
    if args.optimizers.is_empty() {
        return Err(flag("--optimizers", "name at least one optimizer"));
    }
    let lrs = parse_lr_map("--lr", args.lr.as_deref())?;
    let cfg0 = args
        .run
        .config(args.optimizers[0], Hyper::default(), args.data.normalize);
    let probe = Trainer::new(cfg0, data, ctx.cx.clone())?;
    let params = probe.net.num_params();
    let arch = probe.net.clone();
    let total_steps = match args.run.max_steps {
        Some(m) => m.min((probe.steps_per_epoch() * args.run.epochs) as u64),
        None => (probe.steps_per_epoch() * args.run.epochs) as u64,
    };
    drop(probe);
    let per_point = 4 * params as u64;
    let budget_points = (args.path_memory << 20) / per_point.max(1);
    let opts_n = args.optimizers.len() as u64;
    let mut every = args
        .record_every
        .unwrap_or_else(|| total_steps.div_ceil(100).max(1));
    if every == 0 {
        return Err(flag("--record-every", "must be at least 1"));
    }
    // Each path holds its start, a point every K steps and its end.
    while opts_n * (total_steps / every + 2) > budget_points {
        if budget_points < 3 * opts_n {
            return Err(flag(
                "--path-memory",
                format!(
                    "{} MiB cannot hold 3 points of {} paths of {params} weights",
                    args.path_memory, opts_n
                ),
            ));
        }
        every *= 2;
    }
    let points_max = opts_n * (total_steps / every + 2);
    println!(
        "  paths: {} optimizers × {total_steps} steps, weights recorded every {every} steps: \
         at most {points_max} points × {:.0} KB = {:.1} MiB (bound: --path-memory {} MiB)",
        opts_n,
        per_point as f64 / 1e3,
        (points_max * per_point) as f64 / (1 << 20) as f64,
        args.path_memory
    );
    let mut store: Vec<f32> = Vec::new();
    let mut runs: Vec<RecordedPath> = Vec::new();
    for &opt in &args.optimizers {
        let hyper = Hyper {
            lr: lrs.get(&opt).copied(),
            ..Hyper::default()
        };
        let cfg = args.run.config(opt, hyper, args.data.normalize);
        let mut t = Trainer::new(cfg, data, ctx.cx.clone())?;
        let lr = t.updater.lr();
        let mut rec = Recorder {
            every,
            steps: vec![0],
            weights: vec![t.model_weights()],
        };
        let start = Instant::now();
        let outcome = match t.run(&mut [&mut rec]) {
            Ok(()) => "trained".to_string(),
            Err(e @ TrainError::Diverged { .. }) => format!("stopped: {e}"),
            Err(e) => return Err(e.into()),
        };
        if rec.steps.last() != Some(&t.step) && t.step > 0 {
            rec.steps.push(t.step);
            rec.weights.push(t.model_weights());
        }
        let test_accuracy = t
            .history
            .epochs
            .last()
            .map_or(f32::NAN, |e| e.test_accuracy);
        println!(
            "  {:<20} lr {lr:<8} {} steps in {:.1} s, test accuracy {}, {} points; {outcome}",
            opt.as_str(),
            t.step,
            start.elapsed().as_secs_f64(),
            percent(test_accuracy),
            rec.steps.len()
        );
        let first = store.len() / params;
        for w in &rec.weights {
            store.extend_from_slice(w);
        }
        runs.push(RecordedPath {
            opt,
            lr,
            steps: rec.steps,
            rows: (first..first + rec.weights.len()).collect(),
            test_accuracy,
            outcome,
        });
    }
    let point_count = store.len() / params;
    let exact = {
        let rows: Vec<&[f32]> = store.chunks_exact(params).collect();
        ctx.measure_points("recorded weights, exactly", &arch, &rows)?
    };
    // The lines: from the shared start to each solution, and between the
    // solutions, before the store is centred for the PCA.
    {
        let row = |r: usize| &store[r * params..(r + 1) * params];
        for p in &runs {
            let (a, b) = (row(p.rows[0]), row(*p.rows.last().expect("a start")));
            lines.push(line(
                ctx,
                &arch,
                format!("init → {}", p.opt.as_str()),
                a,
                b,
                args.line_points,
            )?);
        }
        for (i, p) in runs.iter().enumerate() {
            for q in &runs[i + 1..] {
                let (a, b) = (
                    row(*p.rows.last().expect("a start")),
                    row(*q.rows.last().expect("a start")),
                );
                lines.push(line(
                    ctx,
                    &arch,
                    format!("{} ↔ {}", p.opt.as_str(), q.opt.as_str()),
                    a,
                    b,
                    args.line_points,
                )?);
            }
        }
    }
    let start = Instant::now();
    let pca = pca2(&ctx.cx, &mut store, params)?;
    drop(store);
    println!(
        "  PCA of the {point_count} recorded points: {:.2} s; explained variance {:.2}% (u₁) + {:.2}% (u₂) = {:.2}%",
        start.elapsed().as_secs_f64(),
        100.0 * pca.explained[0],
        100.0 * pca.explained[1],
        100.0 * (pca.explained[0] + pca.explained[1])
    );
    let slice = Slice {
        origin: Some(&pca.mean),
        dirs: vec![&pca.dirs[0], &pca.dirs[1]],
    };
    let coords: Vec<f32> = pca
        .coords
        .iter()
        .flat_map(|&(a, b)| [a as f32, b as f32])
        .collect();
    let on_plane = ctx.measure(
        "recorded points projected on the plane".into(),
        &arch,
        &slice,
        &coords,
    )?;
    let (lo_a, hi_a) = min_max(pca.coords.iter().map(|c| c.0));
    let (lo_b, hi_b) = min_max(pca.coords.iter().map(|c| c.1));
    let pad = |lo: f64, hi: f64| {
        let m = args.margin * (hi - lo).max(1e-6);
        (lo - m, hi + m)
    };
    let ((a0, a1), (b0, b1)) = (pad(lo_a, hi_a), pad(lo_b, hi_b));
    let g = args.grid;
    let xs: Vec<f64> = (0..g)
        .map(|i| a0 + (a1 - a0) * i as f64 / (g - 1) as f64)
        .collect();
    let ys: Vec<f64> = (0..g)
        .map(|j| b0 + (b1 - b0) * j as f64 / (g - 1) as f64)
        .collect();
    let grid: Vec<f32> = ys
        .iter()
        .flat_map(|&b| xs.iter().flat_map(move |&a| [a as f32, b as f32]))
        .collect();
    let ms = ctx.measure(format!("PCA plane {g}×{g}"), &arch, &slice, &grid)?;
    let series: Vec<PathSeries> = runs
        .iter()
        .map(|p| PathSeries {
            label: format!(
                "{} (lr {}, loss {:.3})",
                p.opt.as_str(),
                p.lr,
                exact[*p.rows.last().expect("a start")].loss
            ),
            points: p.rows.iter().map(|&r| pca.coords[r]).collect(),
        })
        .collect();
    write_surface(
        &args.out,
        "paths on the PCA plane of their weights",
        (
            &format!("u₁ ({:.1}% of the variance)", 100.0 * pca.explained[0]),
            &format!("u₂ ({:.1}%)", 100.0 * pca.explained[1]),
        ),
        &xs,
        &ys,
        &ms,
        series,
        Vec::new(),
    )?;
    // paths.csv and the loss per step, exact and on the plane.
    let csv = args.out.join("paths.csv");
    let mut text = String::from("optimizer,step,alpha,beta,loss,plane_loss\n");
    let mut chart = Vec::new();
    let mut table = Table::new(&[
        "optimizer",
        "lr",
        "steps",
        "points",
        "loss at the end (these examples)",
        "test accuracy",
        "largest |plane − exact| / exact",
        "run",
    ]);
    for p in &runs {
        let mut worst = 0.0f64;
        for (&s, &r) in p.steps.iter().zip(&p.rows) {
            let (a, b) = pca.coords[r];
            text.push_str(&format!(
                "{},{s},{a},{b},{},{}\n",
                p.opt.as_str(),
                exact[r].loss,
                on_plane[r].loss
            ));
            worst = worst.max((on_plane[r].loss - exact[r].loss).abs() / exact[r].loss);
        }
        let pts = |v: &[Measured]| -> Vec<(f64, f64)> {
            p.steps
                .iter()
                .zip(&p.rows)
                .map(|(&s, &r)| (s as f64, v[r].loss))
                .collect()
        };
        chart.push(Series {
            name: format!("{} (exact)", p.opt.as_str()),
            points: pts(&exact),
        });
        chart.push(Series {
            name: format!("{} (on the plane)", p.opt.as_str()),
            points: pts(&on_plane),
        });
        let last = *p.rows.last().expect("a start");
        table.rows.push(vec![
            p.opt.as_str().to_string(),
            format!("{}", p.lr),
            p.steps.last().copied().unwrap_or(0).to_string(),
            p.rows.len().to_string(),
            format!("{:.4}", exact[last].loss),
            percent(p.test_accuracy),
            format!("{:.1}%", 100.0 * worst),
            p.outcome.clone(),
        ]);
    }
    std::fs::write(&csv, text).map_err(|e| out_err(&csv, e))?;
    let path_loss = args.out.join("path-loss.svg");
    Chart {
        title: "loss at the recorded weights (solid) and on the plane (dashed)".into(),
        x: Axis::linear("step").integer(),
        y: Axis::log("loss"),
        series: chart,
        bands: Vec::new(),
        markers: false,
        y_range: None,
        paired: true,
    }
    .write(&path_loss)
    .map_err(|e| out_err(&path_loss, e))?;
    println!("\n{}", table.text());
    tables.push(("The paths".into(), table));
    let mut pt = Table::new(&["setting", "value"]);
    pt.rows = vec![
        vec![
            "examples".into(),
            format!("the first {} of the {} set", ctx.ex.labels.len(), ctx.set),
        ],
        vec![
            "training".into(),
            format!(
                "seed {} (initial weights and batch order, shared by every optimizer), {} epochs, batch {}, widths {}",
                args.run.seed,
                args.run.epochs,
                args.run.batch_size,
                report::widths(arch.sizes())
            ),
        ],
        vec![
            "recorded".into(),
            format!("every {every} steps, {point_count} points"),
        ],
        vec![
            "plane".into(),
            format!(
                "origin the points' mean, u₁, u₂ their top principal directions: {:.2}% + {:.2}% of the variance",
                100.0 * pca.explained[0],
                100.0 * pca.explained[1]
            ),
        ],
    ];
    tables.push(("Settings".into(), pt));
    intro.push_str(
        " Each optimizer trains from the same initial weights with the same batch order; \
         ○ marks the start, ● the end. Click the map to replay the paths.",
    );
    images.push((
        "surface.svg",
        "The paths on the plane of their top two principal directions, over the loss there".into(),
    ));
    images.push(("accuracy.svg", "Accuracy on the same plane".into()));
    images.push(("path-loss.svg", "Loss at each recorded point, exact and at its projection: where they part, the plane distorts".into()));
    Ok(())
}

/// A test accuracy as a percentage, "–" when the run never finished an
/// epoch (a run that diverged in its first).
fn percent(accuracy: f32) -> String {
    if accuracy.is_finite() {
        format!("{:.2}%", 100.0 * accuracy)
    } else {
        "–".into()
    }
}

fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_hold_both_ends_exactly() {
        for n in [3, 4, 7, 41, 40] {
            let ts = line_ts(n);
            assert!(ts.contains(&0.0) && ts.contains(&1.0), "{n}: {ts:?}");
            assert_eq!(ts[0], -0.5);
            assert_eq!(*ts.last().unwrap(), 1.5);
        }
        let g = symmetric_grid(41, 1.0);
        assert_eq!(g[20], 0.0);
        assert_eq!((g[0], g[40]), (-1.0, 1.0));
    }
}
