//! SVG charts: line charts (loss per step, accuracy per epoch, sweeps over
//! lr; drawn by [`crate::chart`]) and, with plotters, the contour map of a
//! 2-D test function with each optimizer's path over it.
//!
//! SVG text is written as `<text>` elements, so no font files are needed:
//! the charts render the same on a machine without fonts.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use descent_optim::landscape::functions::Function;

use crate::chart::{min_max, Axis, Chart};

/// A chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {message}")]
pub struct PlotError {
    /// The SVG file being written.
    pub path: PathBuf,
    /// What went wrong (plotters' message).
    pub message: String,
}

fn err(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError {
        path: path.to_path_buf(),
        message,
    }
}

/// One coloured line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// The colour of series `i`: a qualitative palette (Tableau 10) that stays
/// distinguishable for the nine optimizers.
pub fn colour(i: usize) -> RGBColor {
    const PALETTE: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
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

/// Draws `series` as lines into an SVG at `path` ([`crate::chart`]): title,
/// labelled axes with exact tick labels, and a legend beside the plot.
/// Points that are not finite (or not positive on a log axis) are left
/// out, so a diverged run ends its line instead of breaking the chart.
/// `markers` adds a dot at every point (for short series).
pub fn line_chart(
    path: &Path,
    title: &str,
    axes: Axes,
    series: &[Series],
    markers: bool,
) -> Result<(), PlotError> {
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
    }
    .write(path)
}

/// One optimizer's path on a landscape, for [`landscape_chart`].
#[derive(Debug, Clone)]
pub struct PathSeries {
    /// Legend text (name, final loss, distance to the nearest minimum).
    pub label: String,
    /// The iterates, start first.
    pub points: Vec<(f64, f64)>,
}

/// Contour levels of `f` on its window: log-spaced between the smallest
/// and largest sampled value above the minimum when the values span more
/// than two decades (Rosenbrock spans ten), linear otherwise.
pub fn contour_levels(f: &Function, grid: &[Vec<f64>], count: usize) -> Vec<f64> {
    let (lo, hi) = min_max(grid.iter().flatten().copied());
    if !lo.is_finite() || hi <= lo {
        return vec![];
    }
    let base = if f.minima().is_empty() {
        lo
    } else {
        lo.min(0.0)
    };
    let span = hi - base;
    if span / (span * 1e-4).max(1e-12) > 100.0 && !matches!(f, Function::Saddle) {
        // Log spacing of the height above the lowest value.
        let (a, b) = ((span * 1e-4).ln(), span.ln());
        (1..=count)
            .map(|i| base + (a + (b - a) * i as f64 / (count + 1) as f64).exp())
            .collect()
    } else {
        (1..=count)
            .map(|i| lo + (hi - lo) * i as f64 / (count + 1) as f64)
            .collect()
    }
}

/// The line segments of the level set `f = level` on a sampled grid
/// (marching squares: each cell whose corners straddle the level gets one
/// or two segments, with end points interpolated linearly along the edges).
pub fn contour_segments(
    grid: &[Vec<f64>],
    xs: &[f64],
    ys: &[f64],
    level: f64,
) -> Vec<[(f64, f64); 2]> {
    let mut out = Vec::new();
    for j in 0..ys.len().saturating_sub(1) {
        for i in 0..xs.len().saturating_sub(1) {
            // Corners counter-clockwise from bottom-left.
            let c = [
                (xs[i], ys[j], grid[j][i]),
                (xs[i + 1], ys[j], grid[j][i + 1]),
                (xs[i + 1], ys[j + 1], grid[j + 1][i + 1]),
                (xs[i], ys[j + 1], grid[j + 1][i]),
            ];
            if c.iter().any(|p| !p.2.is_finite()) {
                continue;
            }
            // Crossing points on the four edges.
            let mut cross = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (c[e], c[(e + 1) % 4]);
                if (a.2 < level) != (b.2 < level) {
                    let t = (level - a.2) / (b.2 - a.2);
                    cross.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            match cross.len() {
                2 => out.push([cross[0], cross[1]]),
                // A saddle cell: pair the crossings by the centre's side.
                4 => {
                    let centre = (c[0].2 + c[1].2 + c[2].2 + c[3].2) / 4.0;
                    if (centre < level) == (c[0].2 < level) {
                        out.push([cross[0], cross[3]]);
                        out.push([cross[1], cross[2]]);
                    } else {
                        out.push([cross[0], cross[1]]);
                        out.push([cross[2], cross[3]]);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Draws the contour map of `f` with each path (start ○, end ●), the
/// minima (✕) and a legend, into an SVG at `path`.
pub fn landscape_chart(path: &Path, f: &Function, paths: &[PathSeries]) -> Result<(), PlotError> {
    let e = err(path);
    let (x0, x1, y0, y1) = f.window();
    const N: usize = 120;
    let xs: Vec<f64> = (0..=N)
        .map(|i| x0 + (x1 - x0) * i as f64 / N as f64)
        .collect();
    let ys: Vec<f64> = (0..=N)
        .map(|j| y0 + (y1 - y0) * j as f64 / N as f64)
        .collect();
    let grid: Vec<Vec<f64>> = ys
        .iter()
        .map(|&y| xs.iter().map(|&x| f.value(x, y)).collect())
        .collect();
    let drawn = {
        let root = SVGBackend::new(path, (820, 760)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let drawn = draw_landscape(&root, f, paths, &grid, &xs, &ys).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
        drawn
    };
    // plotters has no image or animation elements: add them to its file.
    let svg = std::fs::read_to_string(path).map_err(|x| e(x.to_string()))?;
    let svg = add_colour_map_and_replay(&svg, &grid, &drawn);
    std::fs::write(path, svg).map_err(|x| e(x.to_string()))
}

/// Where [`draw_landscape`] put things, in pixels.
struct Drawn {
    /// The plot area: left, top, right, bottom.
    area: (i32, i32, i32, i32),
    /// Each path's iterates.
    paths: Vec<Vec<(i32, i32)>>,
}

/// A colour for `t` in [0, 1]: dark blue (low) through teal and green to
/// pale yellow (high), light enough that grey contours and coloured paths
/// stay readable over it (after viridis, lightened).
fn height_colour(t: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 5] = [
        [68.0, 84.0, 160.0],
        [70.0, 150.0, 180.0],
        [110.0, 200.0, 150.0],
        [200.0, 225.0, 120.0],
        [250.0, 245.0, 200.0],
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let u = t - i as f64;
    // Blend towards white so the map stays a background.
    std::array::from_fn(|k| {
        let v = STOPS[i][k] * (1.0 - u) + STOPS[i + 1][k] * u;
        (0.55 * v + 0.45 * 255.0) as u8
    })
}

/// The landscape SVG with the loss surface as a colour map (log of the
/// height above the lowest sampled value) under the contours, and each
/// path drawn again as a replay that runs when the chart is clicked (SMIL
/// animation: no script).
fn add_colour_map_and_replay(svg: &str, grid: &[Vec<f64>], drawn: &Drawn) -> String {
    let (h, w) = (grid.len(), grid.first().map_or(0, Vec::len));
    let vals = grid.iter().flatten().copied().filter(|v| v.is_finite());
    let lo = vals.clone().fold(f64::INFINITY, f64::min);
    let hi = vals.fold(f64::NEG_INFINITY, f64::max);
    let scale = |v: f64| {
        let span = (hi - lo).max(1e-300);
        ((v - lo) / span * 1e4 + 1.0).ln() / (1e4f64 + 1.0).ln()
    };
    let mut rgb = Vec::with_capacity(3 * w * h);
    // PNG rows run top to bottom; the grid's rows run up the y axis.
    for row in grid.iter().rev() {
        for &v in row {
            rgb.extend(if v.is_finite() {
                height_colour(scale(v))
            } else {
                [255, 255, 255]
            });
        }
    }
    let png = crate::png::encode_rgb(w as u32, h as u32, &rgb);
    let (l, t, r, b) = drawn.area;
    let image = format!(
        r#"<image x="{l}" y="{t}" width="{}" height="{}" preserveAspectRatio="none" href="data:image/png;base64,{}"/>"#,
        r - l,
        b - t,
        crate::png::base64(&png)
    );
    let mut replay = String::from(r#"<g id="replay">"#);
    // Clicking anywhere on the plot area starts the replay.
    replay.push_str(&format!(
        r#"<rect id="replay-area" x="{l}" y="{t}" width="{}" height="{}" fill="transparent"/>"#,
        r - l,
        b - t
    ));
    for (i, p) in drawn.paths.iter().enumerate() {
        if p.len() < 2 {
            continue;
        }
        let c = colour(i);
        let pts: Vec<String> = p.iter().map(|(x, y)| format!("{x},{y}")).collect();
        replay.push_str(&format!(
            r#"<polyline points="{}" fill="none" stroke="rgb({},{},{})" stroke-width="4" pathLength="1" stroke-dasharray="1" stroke-dashoffset="1"><animate attributeName="stroke-dashoffset" from="1" to="0" dur="6s" begin="replay-area.click" fill="freeze"/></polyline>"#,
            pts.join(" "),
            c.0,
            c.1,
            c.2
        ));
    }
    replay.push_str(
        r#"<text x="804" y="752" font-size="12" text-anchor="end" fill="rgb(90,90,90)">click the map to replay the paths</text></g>"#,
    );
    // The image goes right after plotters' background rectangle, so the
    // mesh, contours and paths are drawn over it.
    let mut out = svg.to_string();
    if let Some(start) = out.find("<rect") {
        if let Some(end) = out[start..].find("/>") {
            out.insert_str(start + end + 2, &image);
        }
    }
    if let Some(end) = out.rfind("</svg>") {
        out.insert_str(end, &replay);
    }
    out
}

fn draw_landscape(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    f: &Function,
    paths: &[PathSeries],
    grid: &[Vec<f64>],
    xs: &[f64],
    ys: &[f64],
) -> Result<Drawn, String> {
    let (x0, x1, y0, y1) = f.window();
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{f}: optimizer paths"), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(strip)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .disable_mesh()
        .draw()
        .map_err(strip)?;
    let levels = contour_levels(f, grid, 14);
    for (li, &level) in levels.iter().enumerate() {
        // Darker grey for the low levels, where the paths end.
        let shade = 150 + (90 * li / levels.len().max(1)) as u8;
        let style = RGBColor(shade, shade, shade).stroke_width(1);
        let segs = contour_segments(grid, xs, ys, level);
        chart
            .draw_series(
                segs.into_iter()
                    .map(|s| PathElement::new(s.to_vec(), style)),
            )
            .map_err(strip)?;
    }
    let inside = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    for (i, p) in paths.iter().enumerate() {
        let c = colour(i);
        // Clamp far-flung iterates to the window's edge so a diverging path
        // still shows where it left.
        let pts: Vec<(f64, f64)> = p
            .points
            .iter()
            .filter(|q| inside(q))
            .map(|&(x, y)| (x.clamp(x0, x1), y.clamp(y0, y1)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(strip)?
            .label(p.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        if let (Some(&s), Some(&t)) = (pts.first(), pts.last()) {
            chart
                .draw_series([Circle::new(s, 5, c.stroke_width(2))])
                .map_err(strip)?;
            chart
                .draw_series([Circle::new(t, 5, c.filled())])
                .map_err(strip)?;
        }
    }
    chart
        .draw_series(
            f.minima()
                .into_iter()
                .map(|m| Cross::new(m, 6, BLACK.stroke_width(2))),
        )
        .map_err(strip)?;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let paths_px: Vec<Vec<(i32, i32)>> = paths
        .iter()
        .map(|p| {
            p.points
                .iter()
                .filter(|q| inside(q))
                .map(|&(x, y)| chart.backend_coord(&(x.clamp(x0, x1), y.clamp(y0, y1))))
                .collect()
        })
        .collect();
    let labels: Vec<&str> = paths.iter().map(|p| p.label.as_str()).collect();
    let corner = emptiest_corner((xr.start, yr.start, xr.end, yr.end), &labels, &paths_px);
    chart
        .configure_series_labels()
        .position(corner)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(strip)?;
    Ok(Drawn {
        area: (xr.start, yr.start, xr.end, yr.end),
        paths: paths_px,
    })
}

/// The corner of the plot area `(left, top, right, bottom)` where a legend
/// of `labels` covers the fewest path points (plotters' legend sits inside
/// the plot; this keeps it off the paths). Ties go to the lower right.
fn emptiest_corner(
    area: (i32, i32, i32, i32),
    labels: &[&str],
    paths: &[Vec<(i32, i32)>],
) -> SeriesLabelPosition {
    let (l, t, r, b) = area;
    // plotters' legend: ~6 px a character at its default font, a 20 px
    // sample line, a row of ~18 px per entry, and a margin.
    let w = labels.iter().map(|s| s.chars().count()).max().unwrap_or(0) as i32 * 6 + 50;
    let h = labels.len() as i32 * 18 + 20;
    let corners = [
        (SeriesLabelPosition::LowerRight, (r - w, b - h, r, b)),
        (SeriesLabelPosition::UpperRight, (r - w, t, r, t + h)),
        (SeriesLabelPosition::LowerLeft, (l, b - h, l + w, b)),
        (SeriesLabelPosition::UpperLeft, (l, t, l + w, t + h)),
    ];
    let covered = |(x0, y0, x1, y1): (i32, i32, i32, i32)| {
        paths
            .iter()
            .flatten()
            .filter(|&&(x, y)| x >= x0 && x <= x1 && y >= y0 && y <= y1)
            .count()
    };
    corners
        .into_iter()
        .min_by_key(|(_, rect)| covered(*rect))
        .map_or(SeriesLabelPosition::LowerRight, |(pos, _)| pos)
}

/// Plotters' errors carry the backend's type; the message is what a user
/// needs.
fn strip<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legend goes to the corner with the fewest path points.
    #[test]
    fn the_legend_takes_the_emptiest_corner() {
        let area = (0, 0, 800, 600);
        // A path through the lower right and the upper left.
        let path: Vec<(i32, i32)> = (0..100).map(|i| (8 * i, 6 * i)).collect();
        let pos = emptiest_corner(area, &["adam", "sgd"], std::slice::from_ref(&path));
        assert!(matches!(pos, SeriesLabelPosition::UpperRight), "{pos:?}");
        // Points in every corner but the lower left.
        let mut crowd = path;
        crowd.extend((0..100).map(|i| (790 - i, 10 + i % 5)));
        let pos = emptiest_corner(area, &["adam", "sgd"], &[crowd]);
        assert!(matches!(pos, SeriesLabelPosition::LowerLeft), "{pos:?}");
    }

    #[test]
    fn contour_of_a_bowl_is_a_closed_ring() {
        let n = 40;
        let xs: Vec<f64> = (0..=n).map(|i| -1.0 + 2.0 * i as f64 / n as f64).collect();
        let grid: Vec<Vec<f64>> = xs
            .iter()
            .map(|&y| xs.iter().map(|&x| x * x + y * y).collect())
            .collect();
        let segs = contour_segments(&grid, &xs, &xs, 0.25);
        assert!(!segs.is_empty());
        // Every end point lies near the circle of radius 0.5.
        for s in &segs {
            for (x, y) in s {
                let r = (x * x + y * y).sqrt();
                assert!((r - 0.5).abs() < 0.01, "point ({x}, {y}) at r = {r}");
            }
        }
        // Total length ≈ the circumference π.
        let len: f64 = segs
            .iter()
            .map(|s| (s[0].0 - s[1].0).hypot(s[0].1 - s[1].1))
            .sum();
        assert!((len - std::f64::consts::PI).abs() < 0.05, "length {len}");
    }

    #[test]
    fn rosenbrock_levels_are_log_spaced() {
        let f = Function::Rosenbrock;
        let (x0, x1, y0, y1) = f.window();
        let grid: Vec<Vec<f64>> = (0..=50)
            .map(|j| {
                let y = y0 + (y1 - y0) * j as f64 / 50.0;
                (0..=50)
                    .map(|i| f.value(x0 + (x1 - x0) * i as f64 / 50.0, y))
                    .collect()
            })
            .collect();
        let levels = contour_levels(&f, &grid, 10);
        assert_eq!(levels.len(), 10);
        let ratios: Vec<f64> = levels.windows(2).map(|w| w[1] / w[0]).collect();
        assert!(ratios.iter().all(|&r| r > 1.5), "{levels:?}");
    }
}
