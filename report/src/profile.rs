//! A profile ([`descent_profile::Profile`]) for a person: its tables
//! against the machine's measured roofs, and its report directory,
//! `profile.json`, `profile.md`, `roofline.svg` and `index.html`.

use std::path::Path;

use descent_profile::{PhaseReport, Profile};

use crate::page::{command_line, widths, write_index, Table};

/// Microseconds with 3–4 significant digits.
fn us(secs: f64) -> String {
    let v = secs * 1e6;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A count with a k/M/G suffix.
fn si(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2} G", v / 1e9),
        v if v >= 1e6 => format!("{:.2} M", v / 1e6),
        v if v >= 1e3 => format!("{:.1} k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// The phase table: one row per phase, then the step and the evaluation.
pub fn phase_table(p: &Profile) -> Table {
    let compare = p.phases.iter().any(|r| r.matrixmultiply.is_some());
    let mut header = vec![
        "phase",
        "median µs",
        "p10–p90 µs",
        "share",
        "FLOP",
        "bytes",
        "FLOP/B",
        "GFLOP/s",
        "GB/s",
        "bound by",
        "of roof",
    ];
    if compare {
        header.extend([
            "descent alone µs",
            "alone / in step",
            "matrixmultiply µs",
            "mm / descent",
        ]);
    }
    let mut t = Table::new(&header);
    let row = |r: &PhaseReport, share: String| {
        let mut v = vec![
            r.name.clone(),
            us(r.time.median),
            format!("{}–{}", us(r.time.p10), us(r.time.p90)),
            share,
            si(r.cost.flops),
            si(r.cost.bytes),
            if r.cost.flops > 0.0 {
                format!("{:.2}", r.intensity)
            } else {
                "–".into()
            },
            format!("{:.1}", r.gflops),
            format!("{:.1}", r.gbs),
            if r.divider_bound {
                "÷ √".to_string()
            } else if r.cost.flops > 0.0 && r.roof >= p.roofs.peak() * 0.999 {
                "peak".to_string()
            } else {
                r.level.to_string()
            },
            pct(r.of_roof),
        ];
        if compare {
            match &r.matrixmultiply {
                // The rate the step's GEMM keeps of its rate alone: the
                // cost of the step's cold operands and neighbours.
                Some(c) => v.extend([
                    us(c.descent_s),
                    pct(c.descent_s / r.time.median),
                    us(c.matrixmultiply_s),
                    format!("{:.2}×", c.speedup),
                ]),
                None => v.extend(["".into(), "".into(), "".into(), "".into()]),
            }
        }
        v
    };
    for r in &p.phases {
        t.rows.push(row(r, pct(r.share)));
    }
    let flops: f64 = p.phases.iter().map(|r| r.cost.flops).sum();
    let bytes: f64 = p.phases.iter().map(|r| r.cost.bytes).sum();
    let mut step = vec![
        "step (unprobed)".to_string(),
        us(p.step.median),
        format!("{}–{}", us(p.step.p10), us(p.step.p90)),
        "100%".into(),
        si(flops),
        si(bytes),
        format!("{:.2}", flops / bytes),
        format!("{:.1}", flops / p.step.median / 1e9),
        format!("{:.1}", bytes / p.step.median / 1e9),
        "peak".into(),
        pct(flops / p.step.median / 1e9 / p.roofs.peak()),
    ];
    if compare {
        step.extend(["".into(), "".into(), "".into(), "".into()]);
    }
    t.rows.push(step);
    t.rows.push(row(&p.eval, "per epoch".into()));
    t
}

/// The roofs: FMA peak per width, bandwidth per level.
pub fn roof_table(p: &Profile) -> Table {
    let mut t = Table::new(&[
        "roof",
        "capacity",
        "working set",
        "copy GB/s",
        "triad GB/s",
        "GFLOP/s",
    ]);
    for pk in &p.roofs.peaks {
        t.rows.push(vec![
            format!("FMA peak {}", pk.width),
            "".into(),
            "registers".into(),
            "".into(),
            "".into(),
            format!("{:.1}", pk.gflops),
        ]);
    }
    t.rows.push(vec![
        "divider (÷ √)".into(),
        "".into(),
        "registers".into(),
        "".into(),
        "".into(),
        format!("{:.1} G/s", p.roofs.divider_gops),
    ]);
    for b in &p.roofs.bandwidth {
        t.rows.push(vec![
            b.level.to_string(),
            if b.capacity == usize::MAX {
                "all".into()
            } else {
                format!("{} KiB", b.capacity >> 10)
            },
            format!("{} KiB", b.bytes >> 10),
            format!("{:.1}", b.copy_gbs),
            format!("{:.1}", b.triad_gbs),
            "".into(),
        ]);
    }
    t
}

/// The epoch against its floors, one table row each.
pub fn epoch_table(p: &Profile) -> Table {
    let e = &p.epoch;
    let mut t = Table::new(&["epoch", "seconds", "measured / this"]);
    t.rows.push(vec![
        format!("measured ({:.1} steps × median step + eval)", e.steps),
        format!("{:.4}", e.measured_s),
        "1".into(),
    ]);
    t.rows.push(vec![
        format!(
            "FLOP floor: {} FLOP at the {:.0} GFLOP/s peak",
            si(e.flops),
            p.roofs.peak()
        ),
        format!("{:.4}", e.floor_peak_s),
        format!("{:.1}×", e.gap_to_peak),
    ]);
    t.rows.push(vec![
        "roofline floor: every phase at its own roof".into(),
        format!("{:.4}", e.floor_roofline_s),
        format!("{:.1}×", e.gap_to_roofline),
    ]);
    t.rows.push(vec![
        "fused floor: the fully fused schedule at its roofs".into(),
        format!("{:.4}", e.floor_fused_s),
        format!("{:.1}×", e.gap_to_fused),
    ]);
    t
}

/// What the profile ran on, one line each.
pub fn machine_lines(p: &Profile) -> Vec<String> {
    let m = &p.machine;
    let c = &m.caches;
    vec![
        format!("CPU: {}, {} thread(s)", m.cpu, p.roofs.threads),
        format!("SIMD: {}", m.simd),
        format!("GEMM kernel: {}", m.gemm_kernel),
        format!(
            "caches per core: L1d {} KiB, L2 {} KiB, L3 {} MiB ({})",
            c.l1d >> 10,
            c.l2 >> 10,
            c.l3 >> 20,
            c.source
        ),
        format!(
            "model {} {}, {} parameters, batch {}, {}; {} probed + {} unprobed steps; clock read {:.0} ns",
            widths(&p.sizes),
            p.activation,
            p.params,
            p.batch,
            p.optimizer,
            p.probed_step.samples,
            p.step.samples,
            m.clock_s * 1e9
        ),
    ]
}

/// How well the phases account for the step.
pub fn accounting_line(p: &Profile) -> String {
    format!(
        "phases' medians add up to {} µs; the probed step's median is {} µs, the unprobed step's {} µs ({:+.1}%)",
        us(p.phase_median_sum_s),
        us(p.probed_step.median),
        us(p.step.median),
        100.0 * (p.phase_median_sum_s / p.step.median - 1.0)
    )
}

/// Which GEMMs beat matrixmultiply (with `--compare`), in one line.
pub fn baseline_line(p: &Profile) -> Option<String> {
    let cmp: Vec<(&str, f64)> = p
        .phases
        .iter()
        .filter_map(|r| Some((r.name.as_str(), r.matrixmultiply.as_ref()?.speedup)))
        .collect();
    if cmp.is_empty() {
        return None;
    }
    let wins = cmp.iter().filter(|c| c.1 > 1.0).count();
    let (lo, hi) = crate::chart::min_max(cmp.iter().map(|c| c.1));
    let losses: Vec<&str> = cmp.iter().filter(|c| c.1 <= 1.0).map(|c| c.0).collect();
    Some(format!(
        "descent beats matrixmultiply on {wins} of {} GEMMs alone on one thread \
         (matrixmultiply takes {lo:.2}× to {hi:.2}× descent's time){}",
        cmp.len(),
        if losses.is_empty() {
            String::new()
        } else {
            format!("; not on {}", losses.join(", "))
        }
    ))
}

/// Writes `profile.json`, `profile.md` (the tables), `roofline.svg` and
/// `index.html` into `dir`, which must exist (make it before the steps
/// run, so that a bad directory costs nothing).
pub fn write_report(p: &Profile, dir: &Path) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(p).expect("a profile serialises");
    std::fs::write(dir.join("profile.json"), json + "\n")?;
    std::fs::write(dir.join("roofline.svg"), crate::roofline::svg(p))?;
    let md = format!(
        "{}\n\n{}\n{}{}\n\n{}\n{}",
        machine_lines(p).join("  \n"),
        phase_table(p).markdown(),
        accounting_line(p),
        baseline_line(p).map_or(String::new(), |l| format!("  \n{l}")),
        epoch_table(p).markdown(),
        roof_table(p).markdown()
    );
    std::fs::write(dir.join("profile.md"), md)?;
    let mut intro = machine_lines(p).join(". ");
    intro.push_str(". ");
    intro.push_str(&accounting_line(p));
    if let Some(l) = baseline_line(p) {
        intro.push_str(". ");
        intro.push_str(&l);
    }
    intro.push_str(
        ". FLOPs and bytes come from the shapes (each operand read once, each result written \
         once); \"bound by\" is the smallest level whose capacity holds the phase's footprint (the \
         distinct bytes it touches), and \"of roof\" the share reached of min(peak, intensity × \
         that level's triad bandwidth), or of the bandwidth alone for a phase without FLOPs; \
         above 100%, part of the footprint stayed in a nearer level. The roofs count every \
         thread; phases too small to split run on one. With --compare, each GEMM also ran \
         alone on one thread, with descent's kernel and with matrixmultiply (plus a bias pass \
         for the forward GEMMs), interleaved; \"alone / in step\" is the share of its rate \
         alone that the GEMM keeps in the step (a descending dW also steps W in the step, so \
         it does more there).",
    );
    // The full table is too wide for a page: time and work side by side.
    let full = phase_table(p);
    let mut time_cols = vec![0, 1, 2, 3, 7, 10];
    if full.header.len() > 11 {
        time_cols.extend(11..full.header.len());
    }
    write_index(
        dir,
        &command_line(),
        &intro,
        &[
            ("Phases of one step: time", &full.columns(&time_cols)),
            (
                "Phases of one step: work and the roof that bounds it",
                &full.columns(&[0, 4, 5, 6, 8, 9]),
            ),
            ("The epoch against its floor", &epoch_table(p)),
            ("This machine's roofs", &roof_table(p)),
        ],
        &[(
            "roofline.svg",
            "Every phase of the step on this machine's roofline",
        )],
    )?;
    Ok(())
}
