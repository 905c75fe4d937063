//! Line charts written as SVG by hand, so that every label is ours: tick
//! values chosen as 1, 2 or 5 × 10ᵏ (decades on a log axis) and printed
//! with at most four significant digits, integer axes printed as integers,
//! the legend outside the plot area where it cannot cover a line, every
//! text placed inside the picture, and shaded bands (a spread over seeds)
//! under the lines. Self-contained: no fonts, no script.

use std::fmt::Write as _;
use std::path::Path;

use crate::{colour, dash, escape, ReportError, Series};

/// One axis of a [`Chart`].
#[derive(Debug, Clone, Default)]
pub struct Axis {
    /// The label under (or beside) the axis.
    pub label: String,
    /// Logarithmic scale (only positive values are drawn).
    pub log: bool,
    /// The values are counts (steps, epochs, examples): integer ticks.
    pub integer: bool,
}

impl Axis {
    /// A linear axis labelled `label`.
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.to_string(),
            ..Axis::default()
        }
    }

    /// A logarithmic axis labelled `label`.
    pub fn log(label: &str) -> Axis {
        Axis {
            log: true,
            ..Axis::linear(label)
        }
    }

    /// This axis with integer ticks (counts: steps, epochs, examples).
    pub fn integer(self) -> Axis {
        Axis {
            integer: true,
            ..self
        }
    }
}

/// A shaded band between two curves, drawn under the series of the same
/// index (e.g. min–max over seeds).
#[derive(Debug, Clone)]
pub struct Band {
    /// `(x, low, high)` in x order.
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// The title above the plot.
    pub title: String,
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
    /// The lines, drawn in order, colour `i` for series `i`.
    pub series: Vec<Series>,
    /// Bands; band `i` takes series `i`'s colour.
    pub bands: Vec<Option<Band>>,
    /// A dot at every point (short series).
    pub markers: bool,
    /// The y range to show instead of the data's; series leaving it are
    /// clipped and named in a note under the plot.
    pub y_range: Option<(f64, f64)>,
    /// The series come in pairs (a measure and its estimate, say): series
    /// `2i` and `2i + 1` take colour `i`, the second dashed.
    pub paired: bool,
}

/// Picture size in pixels.
pub const WIDTH: f64 = 900.0;
/// Picture height in pixels.
pub const HEIGHT: f64 = 540.0;
const TICK_FONT: f64 = 12.0;
const LABEL_FONT: f64 = 14.0;
const TITLE_FONT: f64 = 18.0;

/// A generous estimate of a sans-serif text's width at `font` pixels: the
/// layout keeps this much room, so real fonts (narrower) stay inside.
pub fn text_width(s: &str, font: f64) -> f64 {
    0.62 * font * s.chars().count() as f64
}

/// The plot area and legend box, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// Plot area: left, top, right, bottom.
    pub plot: (f64, f64, f64, f64),
    /// Legend box: left, top, right, bottom (right of the plot area).
    pub legend: (f64, f64, f64, f64),
}

/// `v` printed with at most four significant digits and no float noise:
/// `0.1`, `0.25`, `1500`, `1e-4`, `2.5e6`; an integer axis prints integers.
pub fn tick_label(v: f64, integer: bool) -> String {
    if integer && v.abs() < 1e15 {
        return format!("{}", v.round() as i64);
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let e = v.abs().log10().floor() as i32;
    if !(-3..5).contains(&e) {
        let m = v / 10f64.powi(e);
        return format!("{}e{e}", trim(&format!("{m:.3}")));
    }
    let decimals = (3 - e).max(0) as usize;
    trim(&format!("{v:.decimals$}"))
}

fn trim(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Tick values for the range `lo..hi`: multiples of 1, 2 or 5 × 10ᵏ about
/// five to a range on a linear axis (whole numbers at least 1 apart on an
/// integer axis); powers of ten on a log axis (with 2× and 5× between them
/// when the range spans less than four decades, every other power when it
/// spans more than eight).
pub fn nice_ticks(lo: f64, hi: f64, log: bool, integer: bool) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![];
    }
    if log {
        let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let span = b - a;
        let stride = if span > 8 { 2 } else { 1 };
        let mults: &[f64] = if span < 4 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        let mut t = Vec::new();
        for k in (a..=b).filter(|k| k.rem_euclid(stride) == 0) {
            for m in mults {
                // Parse the printed value: 10^k is not exact in binary.
                let v: f64 = format!("{m}e{k}").parse().unwrap_or(f64::NAN);
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    t.push(v);
                }
            }
        }
        return t;
    }
    let raw = (hi - lo) / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p);
    if integer {
        step = step.max(1.0).round();
    }
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|k| {
            // k·step rounded through its printed form, so 3·0.1 is 0.3.
            let v = k as f64 * step;
            format!("{v:.12e}").parse().unwrap_or(v)
        })
        .collect()
}

/// `(min, max)` of the finite values; `(∞, −∞)` when there is none.
pub fn min_max(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

/// The finite range of the values (positive ones on a log axis), padded.
fn data_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = min_max(values.filter(|v| !log || *v > 0.0));
    if !lo.is_finite() {
        return if log { (0.1, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        if hi <= lo * 1.0001 {
            (lo / 2.0, hi * 2.0)
        } else {
            (lo / 1.1, hi * 1.1)
        }
    } else if hi <= lo {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = (hi - lo) * 0.03;
        (lo - pad, hi + pad)
    }
}

/// Draws a plot area's frame into `s`: the grid lines and tick labels of
/// both axes over `ranges` (x, then y), the border, and each axis's label
/// (the y label turned upright); then opens a group clipped to the plot
/// area, which the caller draws into and closes with `</g>`. `px` and `py`
/// map a value to its pixel. The line charts and the roofline share it.
pub fn frame(
    s: &mut String,
    (pl, pt, pr, pb): (f64, f64, f64, f64),
    [(x0, x1), (y0, y1)]: [(f64, f64); 2],
    [xa, ya]: [&Axis; 2],
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
) {
    for v in nice_ticks(x0, x1, xa.log, xa.integer) {
        let x = px(v);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{pt}" x2="{x:.1}" y2="{pb}" stroke="#e6e6e6"/><text x="{x:.1}" y="{}" font-size="{TICK_FONT}" text-anchor="middle">{}</text>"##,
            pb + 6.0 + TICK_FONT,
            tick_label(v, xa.integer)
        );
    }
    for v in nice_ticks(y0, y1, ya.log, ya.integer) {
        let y = py(v);
        let _ = write!(
            s,
            r##"<line x1="{pl}" y1="{y:.1}" x2="{pr}" y2="{y:.1}" stroke="#e6e6e6"/><text x="{}" y="{:.1}" font-size="{TICK_FONT}" text-anchor="end">{}</text>"##,
            pl - 6.0,
            y + TICK_FONT / 3.0,
            tick_label(v, ya.integer)
        );
    }
    let _ = write!(
        s,
        r#"<rect x="{pl}" y="{pt}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        pr - pl,
        pb - pt
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="{LABEL_FONT}" text-anchor="middle">{}</text>"#,
        (pl + pr) / 2.0,
        pb + 12.0 + TICK_FONT + LABEL_FONT,
        escape(&xa.label)
    );
    let (lx, ly) = (10.0 + LABEL_FONT, (pt + pb) / 2.0);
    let _ = write!(
        s,
        r#"<text x="{lx}" y="{ly}" font-size="{LABEL_FONT}" text-anchor="middle" transform="rotate(-90 {lx} {ly})">{}</text>"#,
        escape(&ya.label)
    );
    let _ = write!(
        s,
        r#"<clipPath id="plot"><rect x="{pl}" y="{pt}" width="{}" height="{}"/></clipPath><g clip-path="url(#plot)">"#,
        pr - pl,
        pb - pt
    );
}

impl Chart {
    /// The colour and dash of series `i`.
    fn style(&self, i: usize) -> (crate::Rgb, &'static str) {
        if self.paired {
            let dash = if i % 2 == 1 {
                r#" stroke-dasharray="7 3""#
            } else {
                ""
            };
            (colour(i / 2), dash)
        } else {
            (colour(i), dash(i))
        }
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().copied())
                .chain(
                    self.bands
                        .iter()
                        .flatten()
                        .flat_map(|b| b.points.iter().flat_map(|p| [(p.0, p.1), (p.0, p.2)])),
                )
        };
        let xr = data_range(pts().map(|p| p.0), self.x.log);
        let yr = self
            .y_range
            .unwrap_or_else(|| data_range(pts().map(|p| p.1), self.y.log));
        (xr, yr)
    }

    /// Where the plot area and the legend go.
    pub fn layout(&self) -> Layout {
        let ((_, _), (y0, y1)) = self.ranges();
        let yt = nice_ticks(y0, y1, self.y.log, self.y.integer);
        let widest_tick = yt
            .iter()
            .map(|&v| text_width(&tick_label(v, self.y.integer), TICK_FONT))
            .fold(0.0, f64::max);
        let legend_w = self
            .series
            .iter()
            .map(|s| text_width(&s.name, TICK_FONT))
            .fold(0.0, f64::max)
            + 44.0;
        let left = 10.0 + LABEL_FONT + 10.0 + widest_tick + 8.0;
        let right = WIDTH - legend_w - 24.0;
        let (top, bottom) = (20.0 + TITLE_FONT + 12.0, HEIGHT - 70.0);
        let legend_h = 10.0 + 20.0 * self.series.len() as f64;
        Layout {
            plot: (left, top, right, bottom),
            legend: (right + 14.0, top, right + 14.0 + legend_w, top + legend_h),
        }
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> String {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let l = self.layout();
        let (pl, pt, pr, pb) = l.plot;
        let map = |v: f64, lo: f64, hi: f64, log: bool| {
            if log {
                (v.log10() - lo.log10()) / (hi.log10() - lo.log10())
            } else {
                (v - lo) / (hi - lo)
            }
        };
        let px = |x: f64| pl + (pr - pl) * map(x, x0, x1, self.x.log);
        let py = |y: f64| pb - (pb - pt) * map(y, y0, y1, self.y.log);
        let drawable = |x: f64, y: f64| {
            x.is_finite() && y.is_finite() && (!self.x.log || x > 0.0) && (!self.y.log || y > 0.0)
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">"#
        );
        let _ = write!(
            s,
            r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="{TITLE_FONT}" text-anchor="middle">{}</text>"#,
            (pl + pr) / 2.0,
            20.0 + TITLE_FONT,
            escape(&self.title)
        );
        frame(
            &mut s,
            l.plot,
            [(x0, x1), (y0, y1)],
            [&self.x, &self.y],
            &px,
            &py,
        );
        // Bands, then lines, clipped to the plot area (frame opened the
        // group).
        for (i, band) in self.bands.iter().enumerate() {
            let Some(b) = band else { continue };
            let ok: Vec<_> = b
                .points
                .iter()
                .filter(|p| drawable(p.0, p.1) && drawable(p.0, p.2))
                .collect();
            if ok.len() < 2 {
                continue;
            }
            let mut d = String::new();
            for p in &ok {
                let _ = write!(d, "{:.1},{:.1} ", px(p.0), py(p.2));
            }
            for p in ok.iter().rev() {
                let _ = write!(d, "{:.1},{:.1} ", px(p.0), py(p.1));
            }
            let c = colour(i);
            let _ = write!(
                s,
                r#"<polygon points="{}" fill="rgb({},{},{})" fill-opacity="0.18" stroke="none"/>"#,
                d.trim_end(),
                c.0,
                c.1,
                c.2
            );
        }
        for (i, ser) in self.series.iter().enumerate() {
            let (c, dashing) = self.style(i);
            let pts: Vec<(f64, f64)> = ser
                .points
                .iter()
                .copied()
                .filter(|p| drawable(p.0, p.1))
                .map(|p| (px(p.0), py(p.1)))
                .collect();
            let mut d = String::new();
            for p in &pts {
                let _ = write!(d, "{:.1},{:.1} ", p.0, p.1);
            }
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="rgb({},{},{})" stroke-width="2"{}/>"#,
                d.trim_end(),
                c.0,
                c.1,
                c.2,
                dashing
            );
            if self.markers {
                for p in &pts {
                    let _ = write!(
                        s,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="rgb({},{},{})"/>"#,
                        p.0, p.1, c.0, c.1, c.2
                    );
                }
            }
        }
        s.push_str("</g>");
        // Legend, outside the plot area.
        let (gl, gt, gr, gb) = l.legend;
        let _ = write!(
            s,
            r#"<rect x="{gl}" y="{gt}" width="{}" height="{}" fill="white" stroke="black"/>"#,
            gr - gl,
            gb - gt
        );
        for (i, ser) in self.series.iter().enumerate() {
            let (c, dashing) = self.style(i);
            let y = gt + 20.0 * (i as f64 + 1.0);
            let _ = write!(
                s,
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="rgb({},{},{})" stroke-width="3"{}/><text x="{}" y="{}" font-size="{TICK_FONT}">{}</text>"#,
                gl + 8.0,
                y - 4.0,
                gl + 30.0,
                y - 4.0,
                c.0,
                c.1,
                c.2,
                dashing,
                gl + 36.0,
                y,
                escape(&ser.name)
            );
        }
        // Series entirely outside a chosen y range are named, not hidden.
        if self.y_range.is_some() {
            let below: Vec<&str> = self
                .series
                .iter()
                .filter(|ser| {
                    ser.points
                        .iter()
                        .filter(|p| p.1.is_finite())
                        .all(|p| p.1 < y0)
                })
                .map(|ser| ser.name.as_str())
                .collect();
            if !below.is_empty() {
                let note = format!("below the axis: {}", below.join(", "));
                let _ = write!(
                    s,
                    r#"<text x="{pl}" y="{}" font-size="{TICK_FONT}" fill="rgb(90,90,90)">{}</text>"#,
                    HEIGHT - 8.0,
                    escape(&note)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes [`Chart::svg`] to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        write_file(path, &self.svg())
    }
}

/// Writes `text` to `path`, naming the file in the error.
pub fn write_file(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|e| ReportError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Axis options of [`line_chart`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Axes<'a> {
    /// The x axis' label.
    pub x: &'a str,
    /// The y axis' label.
    pub y: &'a str,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The x values are counts (steps, epochs, examples): integer ticks.
    pub integer_x: bool,
}

/// Draws `series` as lines into an SVG at `path`: title, labelled axes
/// with exact tick labels, and a legend beside the plot. Points that are
/// not finite (or not positive on a log axis) are left out, so a diverged
/// run ends its line instead of breaking the chart. `markers` adds a dot
/// at every point (for short series).
pub fn line_chart(
    path: &Path,
    title: &str,
    axes: Axes,
    series: &[Series],
    markers: bool,
) -> Result<(), ReportError> {
    Chart {
        title: title.to_string(),
        x: Axis {
            label: axes.x.to_string(),
            log: axes.log_x,
            integer: axes.integer_x,
        },
        y: Axis {
            label: axes.y.to_string(),
            log: axes.log_y,
            integer: false,
        },
        series: series.to_vec(),
        bands: Vec::new(),
        markers,
        y_range: None,
        paired: false,
    }
    .write(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a label back to a number (`1e-4`, `0.25`, `60000`).
    fn parse(label: &str) -> f64 {
        label
            .parse()
            .unwrap_or_else(|_| panic!("{label:?} is not a number"))
    }

    fn significant_digits(label: &str) -> usize {
        let mantissa = label.split('e').next().unwrap();
        let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        digits
            .trim_start_matches('0')
            .trim_end_matches('0')
            .len()
            .max(1)
    }

    #[test]
    fn tick_labels_are_short_and_exact_over_many_ranges() {
        let mut ranges = Vec::new();
        for e in -9..8 {
            for (a, b) in [(1.0, 1.7), (1.0, 3.0), (0.2, 9.0), (1.0, 100.0), (0.3, 1e4)] {
                ranges.push((a * 10f64.powi(e), b * 10f64.powi(e)));
            }
        }
        ranges.extend([
            (-1.0, 1.0),
            (-37.0, 12.0),
            (0.0, 0.3),
            (96.1, 98.4),
            (10.0, 100.0),
        ]);
        for (lo, hi) in ranges {
            for log in [false, true] {
                if log && lo <= 0.0 {
                    continue;
                }
                let ticks = nice_ticks(lo, hi, log, false);
                assert!(!ticks.is_empty() || log, "no ticks for {lo}..{hi}");
                for v in ticks {
                    let label = tick_label(v, false);
                    assert!(significant_digits(&label) <= 4, "{label} ({v})");
                    let back = parse(&label);
                    assert!(
                        (back - v).abs() <= 1e-9 * v.abs().max(1e-300),
                        "{label} for {v:e} ({lo}..{hi}, log {log})"
                    );
                    assert!(!label.contains("0000000"), "{label}");
                }
            }
        }
        // The labels of the issue: no float noise.
        assert_eq!(tick_label(0.30000000000000004, false), "0.3");
        assert_eq!(tick_label(0.6000000000000001, false), "0.6");
        assert_eq!(tick_label(3e-8 * (1.0 - 1e-15), false), "3e-8");
    }

    #[test]
    fn integer_axes_print_integers() {
        for (lo, hi) in [
            (0.0, 1.0),
            (1.0, 5.0),
            (0.0, 938.0),
            (1.0, 60000.0),
            (0.0, 2.8e6),
        ] {
            let ticks = nice_ticks(lo, hi, false, true);
            assert!(!ticks.is_empty(), "{lo}..{hi}");
            for v in ticks {
                let label = tick_label(v, true);
                assert!(
                    label.chars().all(|c| c.is_ascii_digit() || c == '-'),
                    "{label}"
                );
                assert_eq!(parse(&label), v);
            }
        }
        assert_eq!(tick_label(500.0, true), "500");
        assert_eq!(tick_label(1000.0, true), "1000");
    }

    fn sample() -> Chart {
        let names = [
            "sgd",
            "momentum",
            "nesterov",
            "adagrad",
            "rmsprop",
            "adam",
            "adamw",
            "gd",
            "random-search/b60000",
        ];
        Chart {
            title: "Test accuracy per epoch".into(),
            x: Axis::linear("epoch").integer(),
            y: Axis::log("cross-entropy loss"),
            series: names
                .iter()
                .enumerate()
                .map(|(i, n)| Series {
                    name: n.to_string(),
                    points: (1..=5)
                        .map(|e| (e as f64, 2.3e-7 * (1.0 + i as f64) / e as f64 + 1e-9))
                        .collect(),
                })
                .collect(),
            bands: vec![],
            markers: true,
            y_range: None,
            paired: false,
        }
    }

    /// Every `<text>` lies inside the view box (with the generous width
    /// estimate), and no plotted point is inside the legend box.
    #[test]
    fn texts_stay_inside_and_the_legend_covers_no_point() {
        let chart = sample();
        let svg = chart.svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            let f = |a: &str| t.attribute(a).unwrap_or("0").parse::<f64>().unwrap();
            let (x, y, size) = (f("x"), f("y"), f("font-size"));
            let w = text_width(t.text().unwrap_or(""), size);
            let (l, r) = match t.attribute("text-anchor") {
                Some("middle") => (x - w / 2.0, x + w / 2.0),
                Some("end") => (x - w, x),
                _ => (x, x + w),
            };
            // A rotated label runs vertically around its anchor point.
            let (l, r, top, bottom) = if t.attribute("transform").is_some() {
                (x - size, x, y - w / 2.0, y + w / 2.0)
            } else {
                (l, r, y - size, y + size / 3.0)
            };
            assert!(
                l >= 0.0 && r <= WIDTH && top >= 0.0 && bottom <= HEIGHT,
                "{:?} at ({x}, {y}) leaves the picture",
                t.text()
            );
        }
        let (gl, gt, gr, gb) = chart.layout().legend;
        for c in doc.descendants().filter(|n| n.has_tag_name("circle")) {
            let cx: f64 = c.attribute("cx").unwrap().parse().unwrap();
            let cy: f64 = c.attribute("cy").unwrap().parse().unwrap();
            assert!(
                !(cx >= gl && cx <= gr && cy >= gt && cy <= gb),
                "point ({cx}, {cy}) under the legend"
            );
        }
    }
}
