//! Output files shared by every report (`compare`, `sweep`, `landscape`,
//! `profile`): tables as text, Markdown and HTML, and a self-contained
//! `index.html` (inline CSS, no scripts, images
//! by relative path) that any browser opens offline.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::escape;

/// A table: header and rows of already formatted cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The columns `cols` of this table, in that order (a wide table split
    /// in two reads better than one that leaves the page).
    pub fn columns(&self, cols: &[usize]) -> Table {
        let pick = |row: &Vec<String>| cols.iter().map(|&c| row[c].clone()).collect();
        Table {
            header: pick(&self.header),
            rows: self.rows.iter().map(pick).collect(),
        }
    }

    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// GitHub-flavoured Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "| {} |", self.header.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(self.header.len()));
        for r in &self.rows {
            let _ = writeln!(s, "| {} |", r.join(" | "));
        }
        s
    }

    /// Aligned plain text for the terminal.
    pub fn text(&self) -> String {
        let cols = self.header.len();
        let mut w = vec![0; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut s = String::new();
        for (k, r) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = w[i] - c.chars().count();
                    if i == 0 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect();
            let _ = writeln!(s, "{}", line.join("  "));
            if k == 0 {
                let _ = writeln!(
                    s,
                    "{}",
                    w.iter()
                        .map(|&n| "-".repeat(n))
                        .collect::<Vec<_>>()
                        .join("  ")
                );
            }
        }
        s
    }

    /// An HTML `<table>`, cells escaped.
    pub fn html(&self) -> String {
        let mut s = String::from("<table>\n<tr>");
        for h in &self.header {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr>\n");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", escape(c));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
        s
    }
}

/// A net's widths as people write them: `784-128-64-10`.
pub fn widths(sizes: &[usize]) -> String {
    let w: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    w.join("-")
}

/// The command line that is running, for report titles.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut parts = vec!["descent".to_string()];
    parts.extend(args.into_iter().skip(1).map(
        |a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a
            }
        },
    ));
    parts.join(" ")
}

/// Writes `dir/index.html`: the command as title, the tables, then each
/// image (file names relative to `dir`, which must exist) with a caption.
/// Returns the path written.
pub fn write_index(
    dir: &Path,
    command: &str,
    intro: &str,
    tables: &[(&str, &Table)],
    images: &[(&str, &str)],
) -> std::io::Result<PathBuf> {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }}\n\
         code {{ background: #f4f4f4; padding: 0.2em 0.4em; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}\n\
         th {{ background: #f0f0f0; }} td:first-child, th:first-child {{ text-align: left; }}\n\
         figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}\n\
         </style>\n</head>\n<body>\n<h1>descent</h1>\n<p><code>{t}</code></p>\n<p>{i}</p>\n",
        t = escape(command),
        i = escape(intro)
    );
    for (title, table) in tables {
        let _ = write!(s, "<h2>{}</h2>\n{}", escape(title), table.html());
    }
    for (file, caption) in images {
        let _ = writeln!(
            s,
            "<figure><img src=\"{f}\" alt=\"{c}\"><figcaption>{c}</figcaption></figure>",
            f = escape(file),
            c = escape(caption)
        );
    }
    s.push_str("</body>\n</html>\n");
    let path = dir.join("index.html");
    std::fs::write(&path, s)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_render_in_three_formats() {
        let mut t = Table::new(&["optimizer", "acc"]);
        t.rows.push(vec!["adam".into(), "97.1%".into()]);
        t.rows.push(vec!["<b>".into(), "1".into()]);
        assert!(t
            .markdown()
            .starts_with("| optimizer | acc |\n|---|---|\n| adam | 97.1% |"));
        let text = t.text();
        assert!(text.lines().nth(2).unwrap().starts_with("adam"));
        assert!(t.html().contains("<td>&lt;b&gt;</td>"));
    }

    #[test]
    fn index_references_the_images_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let t = Table::new(&["a"]);
        let p = write_index(
            dir.path(),
            "descent x",
            "intro",
            &[("T", &t)],
            &[("loss.svg", "Loss")],
        )
        .unwrap();
        let html = std::fs::read_to_string(p).unwrap();
        assert!(html.contains("src=\"loss.svg\""));
        assert!(!html.contains("<script"));
    }
}
