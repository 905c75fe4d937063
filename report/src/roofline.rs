//! The roofline picture of a profile: log-log, arithmetic intensity
//! (FLOP/byte) across, GFLOP/s up. Every FMA peak is a horizontal roof,
//! every level's triad bandwidth a slanted one (`bandwidth · intensity`,
//! up to the highest peak), and every phase of the step that computes a
//! dot at its intensity and measured GFLOP/s, labelled with its name. The
//! labels are placed one by one where they cover no other label, dot or
//! roof label, inside the plot area, with a thin leader line when they had
//! to move away from their dot.

use std::fmt::Write as _;

use descent_profile::{Profile, WorkKind};

use crate::chart::{frame, text_width, tick_label, Axis};
use crate::colour;
use crate::escape as esc;
use crate::page::widths;

/// Picture width, pixels.
pub const WIDTH: f64 = 1000.0;
/// Picture height, pixels.
pub const HEIGHT: f64 = 640.0;
const FONT: f64 = 12.0;
const TITLE_FONT: f64 = 17.0;
/// The plot area: left, top, right, bottom.
const PLOT: (f64, f64, f64, f64) = (80.0, 50.0, 750.0, 570.0);

/// The index of a kind of work, its colour and marker.
fn kind(k: WorkKind) -> usize {
    WorkKind::ALL.iter().position(|&x| x == k).unwrap_or(0)
}

/// The marker of kind `k` at (x, y): a disc, a hollow square (so a
/// forward disc under a backward GEMM of the same intensity shows
/// through), a diamond, a triangle.
fn marker(k: usize, x: f64, y: f64) -> String {
    let c = colour(k);
    let rgb = format!("rgb({},{},{})", c.0, c.1, c.2);
    match k {
        0 => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.5" fill="{rgb}"/>"#),
        1 => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="none" stroke="{rgb}" stroke-width="2"/>"#,
            x - 4.5,
            y - 4.5
        ),
        2 => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}" fill="{rgb}"/>"#,
            y - 5.5,
            x + 5.5,
            y + 5.5,
            x - 5.5
        ),
        _ => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{rgb}"/>"#,
            y - 5.5,
            x + 5.0,
            y + 4.0,
            x - 5.0,
            y + 4.0
        ),
    }
}

/// A box of text or a dot, to keep labels off each other.
#[derive(Clone, Copy, Debug)]
struct Rect(f64, f64, f64, f64);

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.0 < o.2 && o.0 < self.2 && self.1 < o.3 && o.1 < self.3
    }
    fn inside(&self, r: &Rect) -> bool {
        self.0 >= r.0 && self.2 <= r.2 && self.1 >= r.1 && self.3 <= r.3
    }
}

/// The roofline of `p` as an SVG document.
pub fn svg(p: &Profile) -> String {
    let (pl, pt, pr, pb) = PLOT;
    let peak = p.roofs.peak();
    let dots: Vec<(&str, f64, f64, WorkKind)> = p
        .phases
        .iter()
        .chain(std::iter::once(&p.eval))
        .filter(|r| r.cost.flops > 0.0 && r.gflops > 0.0)
        .map(|r| (r.name.as_str(), r.intensity, r.gflops, r.kind))
        .collect();
    // Ranges: every dot, the ridge points, a decade of margin.
    let ridge = |gbs: f64| peak / gbs;
    let xs = dots
        .iter()
        .map(|d| d.1)
        .chain(p.roofs.bandwidth.iter().map(|b| ridge(b.triad_gbs)));
    let (xmin, xmax) = crate::chart::min_max(xs);
    let (x0, x1) = (
        10f64.powf((xmin / 2.0).log10().floor()),
        10f64.powf((xmax * 2.0).log10().ceil()),
    );
    let ys = dots.iter().map(|d| d.2).chain([peak]);
    let (ymin, _) = crate::chart::min_max(ys);
    let (y0, y1) = (
        10f64.powf((ymin / 2.0).log10().floor()),
        10f64.powf((peak * 1.5).log10().ceil()),
    );
    let px = |x: f64| pl + (pr - pl) * (x.log10() - x0.log10()) / (x1.log10() - x0.log10());
    let py = |y: f64| pb - (pb - pt) * (y.log10() - y0.log10()) / (y1.log10() - y0.log10());

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif"><rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let title = format!(
        "Roofline: {} {}, batch {}, {}, {} thread{}",
        widths(&p.sizes),
        p.activation,
        p.batch,
        p.optimizer,
        p.roofs.threads,
        if p.roofs.threads == 1 { "" } else { "s" }
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="{TITLE_FONT}" text-anchor="middle">{}</text>"#,
        (pl + pr) / 2.0,
        18.0 + TITLE_FONT,
        esc(&title)
    );
    frame(
        &mut s,
        PLOT,
        [(x0, x1), (y0, y1)],
        [
            &Axis::log("arithmetic intensity (FLOP per byte moved)"),
            &Axis::log("GFLOP/s"),
        ],
        &px,
        &py,
    );

    // Roofs, clipped to the plot area (frame opened the group); their
    // labels are placed first.
    let mut taken: Vec<Rect> = Vec::new();
    let mut labels = String::new();
    let area = Rect(pl + 2.0, pt + 2.0, pr - 2.0, pb - 2.0);
    for pk in &p.roofs.peaks {
        let y = py(pk.gflops);
        let _ = write!(
            s,
            r#"<line x1="{pl}" y1="{y:.1}" x2="{pr}" y2="{y:.1}" stroke="rgb(60,60,60)" stroke-width="1.5" stroke-dasharray="6 3"/>"#
        );
        let text = format!(
            "{} peak {} GFLOP/s",
            pk.width,
            tick_label(pk.gflops.round(), false)
        );
        let w = text_width(&text, FONT);
        let r = Rect(pr - 6.0 - w, y - 5.0 - FONT, pr - 6.0, y - 5.0 + FONT / 3.0);
        taken.push(r);
        let _ = write!(
            labels,
            r#"<text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="rgb(60,60,60)">{}</text>"#,
            pr - 6.0,
            y - 5.0,
            esc(&text)
        );
    }
    for b in &p.roofs.bandwidth {
        let xr = ridge(b.triad_gbs);
        let (xa, ya) = (x0, b.triad_gbs * x0);
        let _ = write!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="rgb(120,120,120)" stroke-width="1.5"/>"#,
            px(xa),
            py(ya),
            px(xr),
            py(peak)
        );
        // The label sits along the slanted roof, left of the ridge, at the
        // height of the lowest decade it crosses inside the plot.
        let text = format!(
            "{} {} GB/s",
            b.level,
            tick_label(b.triad_gbs.round(), false)
        );
        let w = text_width(&text, FONT);
        let ya = ya.max(y0 * 1.2);
        let xa = ya / b.triad_gbs;
        let (tx, ty) = (px(xa).max(pl + 4.0) + 4.0, py(ya) - 4.0);
        let r = Rect(tx, ty - FONT, tx + w, ty + FONT / 3.0);
        if r.inside(&area) {
            taken.push(r);
            let _ = write!(
                labels,
                r#"<text x="{tx:.1}" y="{ty:.1}" font-size="{FONT}" fill="rgb(100,100,100)">{}</text>"#,
                esc(&text)
            );
        }
    }
    s.push_str("</g>");
    s.push_str(&labels);

    // Dots, then their labels.
    let pts: Vec<(f64, f64)> = dots.iter().map(|d| (px(d.1), py(d.2))).collect();
    for (&(_, _, _, k), &(x, y)) in dots.iter().zip(&pts) {
        s.push_str(&marker(kind(k), x, y));
        taken.push(Rect(x - 5.0, y - 5.0, x + 5.0, y + 5.0));
    }
    for (&(name, _, _, _), &(x, y)) in dots.iter().zip(&pts) {
        // The box a label's glyphs take: its width, from the cap height
        // above the baseline to the descenders below (FONT/3).
        let w = text_width(name, FONT);
        let h = FONT + FONT / 3.0;
        let mut best: Option<(Rect, usize)> = None;
        'search: for radius in [8.0, 20.0, 34.0, 50.0, 70.0, 95.0, 125.0] {
            for (dx, dy) in [
                (1.0, 0.0),
                (-1.0, 0.0),
                (0.0, -1.0),
                (0.0, 1.0),
                (1.0, -1.0),
                (-1.0, -1.0),
                (1.0, 1.0),
                (-1.0, 1.0),
            ] {
                let cx = x + dx * radius;
                let cy = y + dy * radius;
                let left = if dx > 0.0 {
                    cx
                } else if dx < 0.0 {
                    cx - w
                } else {
                    cx - w / 2.0
                };
                let top = if dy > 0.0 {
                    cy
                } else if dy < 0.0 {
                    cy - h
                } else {
                    cy - h / 2.0
                };
                let r = Rect(left, top, left + w, top + h);
                if !r.inside(&area) {
                    continue;
                }
                // A pixel of air around each label.
                let padded = Rect(r.0 - 1.0, r.1 - 1.0, r.2 + 1.0, r.3 + 1.0);
                let hits = taken.iter().filter(|t| t.overlaps(&padded)).count();
                if best.is_none_or(|b| hits < b.1) {
                    best = Some((r, hits));
                }
                if hits == 0 {
                    break 'search;
                }
            }
        }
        let Some((r, _)) = best else { continue };
        taken.push(r);
        let (cx, cy) = ((r.0 + r.2) / 2.0, (r.1 + r.3) / 2.0);
        if (cx - x).hypot(cy - y) > w / 2.0 + 14.0 {
            // The nearest point of the label box to the dot.
            let (ex, ey) = (x.clamp(r.0, r.2), y.clamp(r.1, r.3));
            let _ = write!(
                s,
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="rgb(110,110,110)" stroke-width="1"/>"#
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="{FONT}">{}</text>"#,
            r.0,
            r.1 + FONT,
            esc(name)
        );
    }

    // Legend: the kinds of work, right of the plot.
    let (gl, gt) = (pr + 16.0, pt);
    let _ = write!(
        s,
        r#"<text x="{gl}" y="{}" font-size="{FONT}" font-weight="bold">phases</text>"#,
        gt + FONT
    );
    for (i, k) in WorkKind::ALL.iter().map(|k| k.describe()).enumerate() {
        let y = gt + 22.0 + 20.0 * i as f64;
        s.push_str(&marker(i, gl + 6.0, y + 6.0));
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="{FONT}">{}</text>"#,
            gl + 16.0,
            y + 10.0,
            esc(k)
        );
    }
    // The CPU's name, and its family and model on a line of their own.
    let short = |t: &str| {
        if t.chars().count() > 27 {
            t.chars().take(26).collect::<String>() + "…"
        } else {
            t.to_string()
        }
    };
    let cpu = &p.machine.cpu;
    let (name, numbers) = match cpu.find(" (") {
        Some(i) => (&cpu[..i], cpu[i + 1..].to_string()),
        None => (&cpu[..], String::new()),
    };
    let notes = [
        short(&format!("CPU: {name}")),
        short(&numbers),
        "dashed: FMA peak per width".to_string(),
        "solid: triad GB/s per level".to_string(),
        format!(
            "epoch: {} s measured,",
            tick_label(p.epoch.measured_s, false)
        ),
        format!(
            "{} s at peak ({}× gap)",
            tick_label(p.epoch.floor_peak_s, false),
            tick_label(p.epoch.gap_to_peak, false)
        ),
    ];
    for (i, n) in notes.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{gl}" y="{}" font-size="{FONT}" fill="rgb(80,80,80)">{}</text>"#,
            gt + 120.0 + 18.0 * i as f64,
            esc(n)
        );
    }
    let zero: Vec<String> = p
        .phases
        .iter()
        .filter(|r| r.cost.flops == 0.0)
        .map(|r| format!("{} ({} GB/s)", r.name, tick_label(r.gbs, false)))
        .collect();
    if !zero.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{pl}" y="{}" font-size="{FONT}" fill="rgb(90,90,90)">no FLOPs, not drawn: {}</text>"#,
            HEIGHT - 8.0,
            esc(&zero.join(", "))
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent_core::gemm::blocking::Caches;
    use descent_nn::Phase as N;
    use descent_profile::roof::{Bandwidth, Peak, Roofs};
    use descent_profile::{Cost, EpochReport, Machine, PhaseReport, Spread};
    use descent_train::Phase;

    fn phase(ph: Phase, flops: f64, bytes: f64, us: f64) -> PhaseReport {
        let time = Spread {
            median: us * 1e-6,
            p10: us * 1e-6,
            p90: us * 1e-6,
            mean: us * 1e-6,
            samples: 1,
        };
        PhaseReport {
            phase: ph,
            kind: WorkKind::of(ph),
            name: ph.label("relu"),
            time,
            share: 0.0,
            cost: Cost {
                flops,
                bytes,
                footprint: bytes,
                divides: 0.0,
            },
            intensity: if bytes > 0.0 { flops / bytes } else { 0.0 },
            gflops: flops / us / 1e3,
            gbs: bytes / us / 1e3,
            level: "L2",
            divider_bound: false,
            roof: 1.0,
            of_roof: 0.5,
            floor_s: 0.0,
            matrixmultiply: None,
        }
    }

    /// A crowded profile: the GEMMs at two intensities, the elementwise
    /// phases at nearly the same point.
    fn sample() -> Profile {
        let mut phases = vec![phase(Phase::Gather, 0.0, 4e5, 15.0)];
        let gemms = [
            N::Forward(0),
            N::WeightGrad(0),
            N::Forward(1),
            N::WeightGrad(1),
            N::InputGrad(1),
        ];
        for (i, &n) in gemms.iter().enumerate() {
            let ai = if i < 2 { 20.0 } else { 12.8 };
            phases.push(phase(Phase::Net(n), 1.3e7, 1.3e7 / ai, 50.0 + i as f64));
        }
        for (i, n) in [
            Phase::Net(N::ActivationBackward(0)),
            Phase::Net(N::ActivationBackward(1)),
            Phase::Net(N::BiasGrad(0)),
            Phase::Net(N::BiasGrad(1)),
            Phase::Net(N::BiasGrad(2)),
            Phase::Net(N::Loss),
            Phase::Update,
        ]
        .into_iter()
        .enumerate()
        {
            phases.push(phase(n, 4e3 * (1.0 + i as f64 * 0.05), 5e4, 0.2));
        }
        Profile {
            machine: Machine {
                cpu: "AMD Ryzen 9 9950X 16-Core Processor".into(),
                simd: String::new(),
                gemm_kernel: String::new(),
                caches: Caches {
                    l1d: 48 << 10,
                    l2: 1 << 20,
                    l3: 32 << 20,
                    source: "test",
                },
                clock_s: 2e-8,
            },
            sizes: vec![784, 128, 64, 10],
            activation: "relu".into(),
            batch: 64,
            optimizer: "sgd".into(),
            params: 109386,
            roofs: Roofs {
                threads: 1,
                peaks: [("f32x4", 4), ("f32x8", 8), ("f32x16", 16)]
                    .iter()
                    .zip([72.0, 144.0, 288.0])
                    .map(|(&(width, lanes), gflops)| Peak {
                        width,
                        lanes,
                        gflops,
                    })
                    .collect(),
                bandwidth: [("L1", 700.0), ("L2", 250.0), ("L3", 120.0), ("DRAM", 45.0)]
                    .iter()
                    .map(|&(level, triad_gbs)| Bandwidth {
                        level,
                        capacity: 1,
                        bytes: 1,
                        copy_gbs: triad_gbs,
                        triad_gbs,
                    })
                    .collect(),
                divider_gops: 3.0,
            },
            step: Spread::default(),
            probed_step: Spread::default(),
            phase_median_sum_s: 0.0,
            eval: phase(Phase::Eval, 2e9, 5e7, 9000.0),
            phases,
            epoch: EpochReport {
                steps: 937.5,
                flops: 3e10,
                floor_peak_s: 0.104,
                floor_roofline_s: 0.116,
                floor_fused_s: 0.11,
                measured_s: 0.143,
                gap_to_peak: 1.375,
                gap_to_roofline: 1.23,
                gap_to_fused: 1.3,
            },
        }
    }

    fn rects(svg: &str) -> Vec<(String, Rect)> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("transform").is_none())
            .map(|t| {
                let f = |a: &str| t.attribute(a).unwrap().parse::<f64>().unwrap();
                let (x, y, size) = (f("x"), f("y"), f("font-size"));
                let text = t.text().unwrap_or("").to_string();
                let w = text_width(&text, size);
                let left = match t.attribute("text-anchor") {
                    Some("middle") => x - w / 2.0,
                    Some("end") => x - w,
                    _ => x,
                };
                (text, Rect(left, y - size, left + w, y + size / 3.0))
            })
            .collect()
    }

    #[test]
    fn every_label_is_inside_and_phase_labels_do_not_overlap() {
        let p = sample();
        let svg = svg(&p);
        let all = rects(&svg);
        let view = Rect(0.0, 0.0, WIDTH, HEIGHT);
        for (text, r) in &all {
            assert!(r.inside(&view), "{text:?} leaves the picture");
        }
        // Every phase with FLOPs is drawn and named; the gather is named
        // in the note.
        let names: Vec<&str> = p
            .phases
            .iter()
            .map(|r| r.name.as_str())
            .chain(["eval"])
            .collect();
        let labels: Vec<&(String, Rect)> = all
            .iter()
            .filter(|(t, _)| names.contains(&t.as_str()))
            .collect();
        assert_eq!(labels.len(), names.len() - 1, "{labels:?}");
        assert!(svg.contains("no FLOPs, not drawn: gather"));
        for (i, (a, ra)) in labels.iter().enumerate() {
            for (b, rb) in &labels[i + 1..] {
                assert!(!ra.overlaps(rb), "{a:?} overlaps {b:?}");
            }
        }
    }
}
