//! A surface over a 2-D window: the values as a colour map (one embedded
//! PNG), contour lines over it, optimizer paths with their start (○) and
//! end (●), the minima (✕), a legend beside the plot, and a replay of the
//! paths that runs when the map is clicked (SMIL animation: no script).
//!
//! The 2-D test functions use it, and so will the network's own loss
//! surface: a [`Surface`] is only sampled values on a grid.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use crate::chart::{frame, text_width, write_file, Axis};
use crate::{colour, escape, ReportError};

/// Values sampled on a grid over a window, and what to draw on them.
#[derive(Debug, Clone, Default)]
pub struct Surface {
    /// The title above the plot.
    pub title: String,
    /// The axes' labels.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// The sample points across, increasing.
    pub xs: Vec<f64>,
    /// The sample points up, increasing.
    pub ys: Vec<f64>,
    /// `values[j][i]` at `(xs[i], ys[j])`; non-finite values are left
    /// white and cut no contour.
    pub values: Vec<Vec<f64>>,
    /// The heights of the contour lines ([`contour_levels`]).
    pub levels: Vec<f64>,
    /// Points marked ✕.
    pub minima: Vec<(f64, f64)>,
    /// The paths drawn over it, colour `i` for path `i`.
    pub paths: Vec<PathSeries>,
    /// Colour by the value itself rather than by its log above the lowest
    /// (an accuracy map, whose values span no decades).
    pub linear_colour: bool,
}

/// One optimizer's path on a surface.
#[derive(Debug, Clone)]
pub struct PathSeries {
    /// Legend text (name, final loss, distance to the nearest minimum).
    pub label: String,
    /// The iterates, start first.
    pub points: Vec<(f64, f64)>,
}

/// `count` contour heights between the lowest and highest finite value:
/// spaced evenly in log of the height above `base` when `log` (a surface
/// whose values span decades, as Rosenbrock's do), evenly otherwise.
pub fn contour_levels(values: &[Vec<f64>], count: usize, base: f64, log: bool) -> Vec<f64> {
    let (lo, hi) = crate::chart::min_max(values.iter().flatten().copied());
    if !lo.is_finite() || hi <= lo {
        return vec![];
    }
    let base = base.min(lo);
    let span = hi - base;
    if log && span > 0.0 {
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

/// The line segments of the level set `v = level` on a sampled grid
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

/// The colour map of `values` as a PNG, rows top to bottom (the grid's
/// rows run up the y axis), coloured by the log of the height above the
/// lowest finite value, or by the value itself when `linear`.
pub fn colour_map_png(values: &[Vec<f64>], linear: bool) -> Vec<u8> {
    let (h, w) = (values.len(), values.first().map_or(0, Vec::len));
    let (lo, hi) = crate::chart::min_max(values.iter().flatten().copied());
    let span = (hi - lo).max(1e-300);
    let scale = |v: f64| {
        if linear {
            (v - lo) / span
        } else {
            ((v - lo) / span * 1e4 + 1.0).ln() / (1e4f64 + 1.0).ln()
        }
    };
    let mut rgb = Vec::with_capacity(3 * w * h);
    for row in values.iter().rev() {
        for &v in row {
            rgb.extend(if v.is_finite() {
                height_colour(scale(v))
            } else {
                [255, 255, 255]
            });
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Writing into a Vec cannot fail but for a wrong length, which the
        // loop above rules out.
        let mut writer = enc.write_header().expect("a PNG header into memory");
        writer
            .write_image_data(&rgb)
            .expect("w·h RGB pixels into memory");
    }
    out
}

/// Picture height, pixels; the width grows with the legend.
pub const HEIGHT: f64 = 760.0;
const PLOT: (f64, f64, f64, f64) = (70.0, 50.0, 710.0, 690.0);
const FONT: f64 = 12.0;
const TITLE_FONT: f64 = 20.0;

impl Surface {
    /// The picture's width: the plot, then the legend beside it.
    pub fn width(&self) -> f64 {
        let legend = self
            .paths
            .iter()
            .map(|p| text_width(&p.label, FONT))
            .fold(0.0, f64::max);
        PLOT.2 + 24.0 + 44.0 + legend + 16.0
    }

    /// The picture as an SVG document.
    pub fn svg(&self) -> String {
        let (pl, pt, pr, pb) = PLOT;
        let (x0, x1) = (self.xs[0], *self.xs.last().expect("a grid"));
        let (y0, y1) = (self.ys[0], *self.ys.last().expect("a grid"));
        let px = |x: f64| pl + (pr - pl) * (x - x0) / (x1 - x0);
        let py = |y: f64| pb - (pb - pt) * (y - y0) / (y1 - y0);
        let width = self.width();
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" font-family="sans-serif"><rect width="{width}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="{TITLE_FONT}" text-anchor="middle">{}</text>"#,
            (pl + pr) / 2.0,
            16.0 + TITLE_FONT,
            escape(&self.title)
        );
        let (xa, ya) = (Axis::linear(&self.x_label), Axis::linear(&self.y_label));
        frame(&mut s, PLOT, [(x0, x1), (y0, y1)], [&xa, &ya], &px, &py);
        // The colour map under everything else in the plot area.
        let png = base64::engine::general_purpose::STANDARD
            .encode(colour_map_png(&self.values, self.linear_colour));
        let _ = write!(
            s,
            r#"<image x="{pl}" y="{pt}" width="{}" height="{}" preserveAspectRatio="none" href="data:image/png;base64,{png}"/>"#,
            pr - pl,
            pb - pt
        );
        // Contours, darker for the low levels, where the paths end.
        for (li, &level) in self.levels.iter().enumerate() {
            let shade = 150 + (90 * li / self.levels.len().max(1)) as u8;
            let mut d = String::new();
            for [a, b] in contour_segments(&self.values, &self.xs, &self.ys, level) {
                let _ = write!(
                    d,
                    "M{:.1} {:.1}L{:.1} {:.1}",
                    px(a.0),
                    py(a.1),
                    px(b.0),
                    py(b.1)
                );
            }
            if !d.is_empty() {
                let _ = write!(
                    s,
                    r#"<path d="{d}" fill="none" stroke="rgb({shade},{shade},{shade})"/>"#
                );
            }
        }
        // The paths, clamped to the window so a diverging path still shows
        // where it left.
        let pixels: Vec<Vec<(f64, f64)>> = self
            .paths
            .iter()
            .map(|p| {
                p.points
                    .iter()
                    .filter(|q| q.0.is_finite() && q.1.is_finite())
                    .map(|&(x, y)| (px(x.clamp(x0, x1)), py(y.clamp(y0, y1))))
                    .collect()
            })
            .collect();
        let points = |p: &[(f64, f64)]| {
            let v: Vec<String> = p.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            v.join(" ")
        };
        for (i, p) in pixels.iter().enumerate() {
            let c = colour(i).hex();
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
                points(p)
            );
            if let (Some(a), Some(b)) = (p.first(), p.last()) {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="none" stroke="{c}" stroke-width="2"/><circle cx="{:.1}" cy="{:.1}" r="5" fill="{c}"/>"#,
                    a.0, a.1, b.0, b.1
                );
            }
        }
        for &(x, y) in &self.minima {
            let (x, y) = (px(x), py(y));
            let _ = write!(
                s,
                r#"<path d="M{} {}L{} {}M{} {}L{} {}" stroke="black" stroke-width="2"/>"#,
                x - 6.0,
                y - 6.0,
                x + 6.0,
                y + 6.0,
                x - 6.0,
                y + 6.0,
                x + 6.0,
                y - 6.0
            );
        }
        s.push_str("</g>");
        // The legend, beside the plot where it covers no path.
        let gl = pr + 24.0;
        for (i, p) in self.paths.iter().enumerate() {
            let y = pt + 10.0 + 20.0 * i as f64;
            let _ = write!(
                s,
                r#"<polyline points="{gl},{y} {},{y}" stroke="{}" stroke-width="3"/><text x="{}" y="{}" font-size="{FONT}">{}</text>"#,
                gl + 30.0,
                colour(i).hex(),
                gl + 38.0,
                y + 4.0,
                escape(&p.label)
            );
        }
        // The replay: each path drawn again over 6 s, from a click on the
        // plot area.
        let _ = write!(
            s,
            r#"<g id="replay"><rect id="replay-area" x="{pl}" y="{pt}" width="{}" height="{}" fill="transparent"/>"#,
            pr - pl,
            pb - pt
        );
        for (i, p) in pixels.iter().enumerate().filter(|(_, p)| p.len() >= 2) {
            let c = colour(i);
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="rgb({},{},{})" stroke-width="4" pathLength="1" stroke-dasharray="1" stroke-dashoffset="1"><animate attributeName="stroke-dashoffset" from="1" to="0" dur="6s" begin="replay-area.click" fill="freeze"/></polyline>"#,
                points(p),
                c.0,
                c.1,
                c.2
            );
        }
        if !self.paths.is_empty() {
            let _ = write!(
                s,
                r#"<text x="{pr}" y="{}" font-size="{FONT}" text-anchor="end" fill="rgb(90,90,90)">click the map to replay the paths</text>"#,
                HEIGHT - 12.0
            );
        }
        s.push_str("</g></svg>");
        s.push('\n');
        s
    }

    /// Writes [`Surface::svg`] to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        write_file(path, &self.svg())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A bowl's surface: one image (a real PNG), its contours, two paths
    /// with their legend swatches and replays, and every text inside.
    #[test]
    fn a_surface_draws_its_map_contours_paths_and_replay() {
        let xs: Vec<f64> = (0..=30).map(|i| -1.0 + i as f64 / 15.0).collect();
        let values: Vec<Vec<f64>> = xs
            .iter()
            .map(|&y| xs.iter().map(|&x| x * x + 3.0 * y * y).collect())
            .collect();
        let levels = contour_levels(&values, 8, 0.0, true);
        assert_eq!(levels.len(), 8);
        let surface = Surface {
            title: "bowl".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            xs: xs.clone(),
            ys: xs,
            values,
            levels,
            minima: vec![(0.0, 0.0)],
            linear_colour: false,
            paths: (0..2)
                .map(|i| PathSeries {
                    label: format!("path {i}"),
                    points: vec![(-0.9, 0.8 - i as f64), (-0.3, 0.2), (0.0, 0.0)],
                })
                .collect(),
        };
        let svg = surface.svg();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let count = |tag: &str| doc.descendants().filter(|e| e.has_tag_name(tag)).count();
        assert_eq!(count("image"), 1);
        assert_eq!(count("animate"), 2);
        for i in 0..2 {
            let hex = colour(i).hex();
            let n = doc
                .descendants()
                .filter(|e| e.has_tag_name("polyline") && e.attribute("stroke") == Some(&hex))
                .count();
            assert_eq!(n, 2, "path {i}: its line and its legend swatch");
        }
        let png = colour_map_png(&surface.values, false);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (31, 31));
        let w = surface.width();
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            let x: f64 = t.attribute("x").unwrap().parse().unwrap();
            let size: f64 = t.attribute("font-size").unwrap().parse().unwrap();
            let tw = text_width(t.text().unwrap_or(""), size);
            let (l, r) = match t.attribute("text-anchor") {
                Some("middle") => (x - tw / 2.0, x + tw / 2.0),
                Some("end") => (x - tw, x),
                _ => (x, x + tw),
            };
            assert!(l >= 0.0 && r <= w, "{:?} leaves the picture", t.text());
        }
    }
}
