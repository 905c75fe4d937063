//! # descent-report
//!
//! Everything descent draws or writes for a person to read, in one chart
//! system: SVG written by hand, so every label is ours and renders the same
//! with no fonts, no script and no plotting library.
//!
//! - [`chart`]: line charts (loss per step, accuracy per epoch, sweeps),
//!   with log axes, integer axes and shaded bands, and the frame (grid,
//!   ticks, axis labels) every picture shares;
//! - [`landscape`]: a surface over a 2-D window as a colour map (an
//!   embedded PNG) with contour lines, optimizer paths with their start
//!   and end, minima, and a replay of the paths on a click;
//! - [`roofline`]: a profile's phases on the machine's roofline;
//! - [`profile`]: a profile's tables and its report directory;
//! - [`page`]: tables (text, Markdown, HTML) and a report's `index.html`.
//!
//! Why not plotters: the line charts had outgrown it first (exact tick
//! labels, legends outside the plot, bands), and the landscape needed an
//! image and an animation it cannot draw; one hand-written system costs
//! fewer lines than one and a half, and `ARCHITECTURE.md` gives the count.

pub mod chart;
pub mod landscape;
pub mod page;
pub mod profile;
pub mod roofline;

use std::path::PathBuf;

/// A picture or page could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {message}")]
pub struct ReportError {
    /// The file being written.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// One coloured line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#RRGGBB`.
    pub fn hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }
}

/// The colour of series `i`: a qualitative palette (Tableau 10) that stays
/// distinguishable for ten series.
pub fn colour(i: usize) -> Rgb {
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
    Rgb(r, g, b)
}

/// The line style of series `i`, so that series sharing a colour (every
/// tenth) still differ: solid for the first ten, dashed for the next ten,
/// dotted after. An SVG `stroke-dasharray` attribute (empty when solid).
pub fn dash(i: usize) -> &'static str {
    match i / 10 {
        0 => "",
        1 => r#" stroke-dasharray="7 3""#,
        _ => r#" stroke-dasharray="2 2""#,
    }
}

/// Escapes text for XML and HTML, in element text and in attribute values
/// (either quote): `& < > " '`.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_both_quotes() {
        assert_eq!(
            escape(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
        assert_eq!(colour(1).hex(), "#FF7F0E");
        assert_eq!(colour(11), colour(1));
    }
}
