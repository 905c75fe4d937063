//! End to end: the `descent` binary on small synthetic IDX sets written to a
//! temporary directory (raw and gzip). Runs the real process, so exit codes
//! and messages are what a user sees.

// The IDX builders live with the data reader's own tests.
#[path = "../../train/tests/common/mod.rs"]
mod common;
mod run;

use run::{descent, ok, s};

use std::path::{Path, PathBuf};
use std::process::Command;

use descent_cli::checkpoint::load_checkpoint;

/// A small MNIST-shaped set: 8×8 images (64 inputs), 300 train, 100 test.
fn small_set(gz: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write_set(dir.path(), 300, 100, 8, 8, gz);
    dir
}

const SMALL: [&str; 6] = [
    "--hidden",
    "16",
    "--batch-size",
    "32",
    "--quiet",
    "--eval-batch-size",
];

fn train_args<'a>(data: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["train", "--data", s(data)];
    v.extend(SMALL);
    v.push("50");
    v.extend(extra);
    v
}

/// Every tensor (model and optimizer state) of two checkpoints, bit for bit.
fn assert_same_tensors(a: &Path, b: &Path) {
    let (ca, cb) = (load_checkpoint(a).unwrap(), load_checkpoint(b).unwrap());
    assert_eq!(ca.tensors.len(), cb.tensors.len());
    for (ta, tb) in ca.tensors.iter().zip(&cb.tensors) {
        assert_eq!(ta.name, tb.name);
        assert_eq!(ta.shape(), tb.shape());
        let (ba, bb): (Vec<u32>, Vec<u32>) = (
            ta.data().iter().map(|v| v.to_bits()).collect(),
            tb.data().iter().map(|v| v.to_bits()).collect(),
        );
        assert!(
            ba == bb,
            "tensor {} differs between {} and {}",
            ta.name,
            a.display(),
            b.display()
        );
    }
    for key in ["epoch", "step"] {
        assert_eq!(ca.metadata.get(key), cb.metadata.get(key), "metadata {key}");
    }
}

#[test]
fn trains_on_raw_and_gzip_files_and_the_metrics_parse() {
    for gz in [false, true] {
        let data = small_set(gz);
        let out = tempfile::tempdir().unwrap();
        let jsonl = out.path().join("m.jsonl");
        let csv = out.path().join("m.csv");
        ok(&train_args(
            data.path(),
            &["--epochs", "2", "--metrics", s(&jsonl)],
        ));
        ok(&train_args(
            data.path(),
            &["--epochs", "2", "--optimizer", "adam", "--metrics", s(&csv)],
        ));
        let text = std::fs::read_to_string(&jsonl).unwrap();
        let recs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let steps = recs.iter().filter(|r| r["kind"] == "step").count();
        let epochs: Vec<&serde_json::Value> =
            recs.iter().filter(|r| r["kind"] == "epoch").collect();
        // ⌈300 / 32⌉ = 10 steps per epoch.
        assert_eq!(steps, 20, "gz={gz}");
        assert_eq!(epochs.len(), 2);
        let acc = epochs[1]["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        let csv_text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = csv_text.lines();
        let cols = lines.next().unwrap().split(',').count();
        assert_eq!(csv_text.lines().count(), 1 + 20 + 2);
        assert!(lines.all(|l| l.split(',').count() == cols));
    }
}

/// The accuracy train prints for its last epoch is the one `eval` finds in
/// the saved model: for Schedule-Free, both are at its averaged weights x
/// (the model saved), not at y, where it takes gradients.
#[test]
fn checkpoint_round_trips_through_eval() {
    let data = small_set(false);
    for opt in ["sgd", "schedule-free-adamw"] {
        let out = tempfile::tempdir().unwrap();
        let ck = out.path().join("model.safetensors");
        let train_out = ok(&train_args(
            data.path(),
            &["--optimizer", opt, "--epochs", "2", "--save", s(&ck)],
        ));
        let acc_train = train_out
            .lines()
            .rfind(|l| l.contains("test acc"))
            .and_then(|l| l.split("test acc").nth(1))
            .map(|r| r.split('%').next().unwrap().trim().to_string())
            .unwrap();
        let eval_out = ok(&["eval", "--model", s(&ck), "--data", s(data.path())]);
        assert!(
            eval_out.contains(&format!("accuracy {acc_train}%")),
            "{opt}: train: {acc_train}%, eval: {eval_out}"
        );
        let c = load_checkpoint(&ck).unwrap();
        assert_eq!(c.get("0.weight").unwrap().shape(), [16, 64]);
        assert_eq!(c.get("2.weight").unwrap().shape(), [10, 16]);
        // Schedule-Free keeps y, the point it steps, beside the model x.
        assert_eq!(
            c.get("optim/y/0.weight").is_some(),
            opt == "schedule-free-adamw",
            "{opt}"
        );
    }
}

#[test]
fn resume_equals_an_uninterrupted_run_bit_for_bit() {
    let data = small_set(true);
    // NAdam and ASGD carry scalars between steps (ASGD with t₀ = 0
    // averages from step 3, so its μ moves), Rprop starts a slot at lr,
    // Schedule-Free saves x as the model and y as state, Adafactor's state
    // is flat buffers of their own lengths.
    for opt in [
        &["momentum"][..],
        &["adam"],
        &["rmsprop"],
        &["random-search"],
        &["nadam"],
        &["asgd", "--t0", "0"],
        &["rprop"],
        &["schedule-free-adamw"],
        &["adafactor"],
        &["muon"],
        &[
            "lbfgs",
            "--line-search",
            "strong-wolfe",
            "--history-size",
            "5",
        ],
    ] {
        let out = tempfile::tempdir().unwrap();
        let full: PathBuf = out.path().join("full.safetensors");
        let part: PathBuf = out.path().join("part.safetensors");
        let run = |epochs: &str, to: &PathBuf| {
            let mut a: Vec<&str> = vec!["--optimizer"];
            a.extend(opt);
            a.extend(["--epochs", epochs, "--save", s(to)]);
            ok(&train_args(data.path(), &a));
        };
        run("3", &full);
        run("1", &part);
        ok(&train_args(
            data.path(),
            &["--resume", s(&part), "--epochs", "3", "--save", s(&part)],
        ));
        assert_same_tensors(&full, &part);
    }
}

/// Any thread count gives the same bits: weights, optimizer state and every
/// metric, for 1 to 4 threads (more than this machine's cores is allowed,
/// with a warning) and for 0, every core.
#[test]
fn every_thread_count_gives_the_same_bits() {
    threads_give_the_same_bits(None, None, "64");
}

/// The same under other CPUs' GEMM configurations, forced with
/// `DESCENT_CACHES` and `DESCENT_KERNEL`: Zen 3's blocking (the 6 × 16
/// kernel, kc 256, 352 with A packed: the blocking whose thread split once
/// broke the bits), the tiny caches' small blocks and Sapphire Rapids'. At
/// least two of them are foreign to any machine this runs on.
#[test]
fn every_thread_count_gives_the_same_bits_under_foreign_blockings() {
    for (caches, kernel) in [
        ("zen3", "f32x8"),
        ("tiny", "f32x16"),
        ("sapphire-rapids", "f32x16"),
    ] {
        threads_give_the_same_bits(Some(caches), Some(kernel), "300");
    }
}

/// `descent info` shows the configuration the environment forces, and the
/// table of what every known CPU would run; a value it cannot read is
/// refused, naming the variable.
#[test]
fn info_shows_forced_and_known_configurations() {
    let o = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["info", "--caches", "all"])
        .env("DESCENT_CACHES", "zen3")
        .env("DESCENT_KERNEL", "f32x8")
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("GEMM kernel: ")
            && out.contains("f32x8, 6×16 tile; kc 256 (352 packed A), mc 144, nc 4096"),
        "{out}"
    );
    assert!(out.contains("forced by DESCENT_CACHES"), "{out}");
    for row in [
        "zen1",
        "zen5",
        "skylake-sp",
        "sapphire-rapids",
        "this machine",
    ] {
        assert!(out.contains(row), "{row}: {out}");
    }
    assert!(
        out.contains("192 (256) / 384 / 5440"),
        "Zen 5's 12×32 blocks: {out}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["info"])
        .env("DESCENT_KERNEL", "f32x4")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("DESCENT_KERNEL=\"f32x4\": the kernels are f32x8 and f32x16"),
        "{err}"
    );
    let o = descent(&["info", "--caches", "l1d=32K"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--caches: l2=SIZE is missing"), "{err}");
}

/// Trains for 1–4 threads and 0 (every core), with the GEMM configuration
/// forced by `caches` and `kernel` where given, and checks that every run
/// wrote the same bits. A batch of 300 makes the first layer's dW (k = 300,
/// n = 784) cross the packing threshold and kc when split on 4 threads.
fn threads_give_the_same_bits(caches: Option<&str>, kernel: Option<&str>, batch: &str) {
    let descent = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_descent"));
        cmd.args(args)
            .env_remove("DESCENT_CACHES")
            .env_remove("DESCENT_KERNEL");
        if let Some(c) = caches {
            cmd.env("DESCENT_CACHES", c);
        }
        if let Some(k) = kernel {
            cmd.env("DESCENT_KERNEL", k);
        }
        cmd.output().unwrap()
    };
    // 28×28 inputs and the default 128,64 hidden layers: the GEMMs are large
    // enough to be split across threads.
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 600, 64, 28, 28, false);
    let out = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut runs = Vec::new();
    for threads in ["1", "2", "3", "4", "0"] {
        let (ck, m) = (
            out.path().join(format!("t{threads}.st")),
            out.path().join(format!("t{threads}.jsonl")),
        );
        let args = [
            "train",
            "--data",
            s(data.path()),
            "--epochs",
            "2",
            "--optimizer",
            "adam",
            "--clip-norm",
            "0.5",
            "--batch-size",
            batch,
            "--threads",
            threads,
            "--quiet",
            "--save",
            s(&ck),
            "--metrics",
            s(&m),
        ];
        let o = descent(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let t: usize = threads.parse().unwrap();
        let warned = String::from_utf8_lossy(&o.stderr).contains(&format!(
            "warning: --threads {t} is more than the {cores} cores"
        ));
        assert_eq!(warned, t > cores, "threads {t}, {cores} cores");
        runs.push((ck, m));
    }
    // Every record but the timings.
    let records = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("seconds");
                o.remove("examples_per_sec");
                v.to_string()
            })
            .collect()
    };
    let (ck1, m1) = &runs[0];
    for (ck, m) in &runs[1..] {
        assert_same_tensors(ck1, ck);
        assert_eq!(
            records(m1),
            records(m),
            "{caches:?} {kernel:?}: {}",
            m.display()
        );
    }
}

#[test]
fn malformed_files_give_their_message_and_a_nonzero_exit() {
    // (what, how to corrupt the set, a piece of the expected message)
    type Case = (&'static str, Box<dyn Fn(&Path)>, &'static str);
    let cases: [Case; 4] = [
        (
            "wrong magic",
            Box::new(|d: &Path| {
                let mut b = common::images_bytes(300, 8, 8);
                b[3] = 0x02;
                common::write(d, "train-images-idx3-ubyte", &b);
            }),
            "dimension",
        ),
        (
            "label > 9",
            Box::new(|d: &Path| {
                let mut b = common::labels_bytes(300);
                b[8 + 5] = 12;
                common::write(d, "train-labels-idx1-ubyte", &b);
            }),
            "label 12 at index 5",
        ),
        (
            "truncated images",
            Box::new(|d: &Path| {
                let b = common::images_bytes(300, 8, 8);
                common::write(d, "train-images-idx3-ubyte", &b[..b.len() - 7]);
            }),
            "train-images-idx3-ubyte",
        ),
        (
            "count mismatch",
            Box::new(|d: &Path| {
                common::write(d, "t10k-labels-idx1-ubyte", &common::labels_bytes(99));
            }),
            "t10k",
        ),
    ];
    for (what, corrupt, needle) in cases {
        let data = small_set(false);
        corrupt(data.path());
        let out = descent(&train_args(data.path(), &["--epochs", "1"]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err:?} lacks {needle:?}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    // A missing directory prints the fetch command.
    let out = descent(&["train", "--data", "/nonexistent/mnist", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fetch-mnist.sh"));
}

#[test]
fn bad_flags_are_reported_before_training() {
    let data = small_set(false);
    for (args, needle) in [
        (vec!["--optimizer", "adam", "--beta1", "1.5"], "beta1"),
        (vec!["--optimizer", "sgd", "--beta1", "0.5"], "--beta1"),
        (vec!["--lr=-1"], "lr"),
        (
            vec!["--optimizer", "nesterov", "--momentum", "0"],
            "nesterov",
        ),
        (vec!["--hidden", "0"], "--hidden"),
        // 10¹⁰ weights: refused before any allocation (it used to abort
        // with "memory allocation of … bytes failed", exit 134).
        (vec!["--hidden", "100000,100000"], "bytes available"),
    ] {
        let out = descent(&train_args(data.path(), &args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            String::from_utf8_lossy(&out.stdout).is_empty(),
            "{args:?} trained before failing"
        );
    }
}

#[test]
fn an_absurd_lr_exits_3_and_leaves_the_checkpoint_loadable() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let ck = out.path().join("ck.safetensors");
    ok(&train_args(
        data.path(),
        &["--epochs", "1", "--save", s(&ck)],
    ));
    let before = std::fs::read(&ck).unwrap();
    let run = descent(&train_args(
        data.path(),
        &[
            "--epochs",
            "2",
            "--init",
            s(&ck),
            "--lr",
            "1e30",
            "--save",
            s(&ck),
        ],
    ));
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(err.contains("diverged at epoch 1, step"), "{err}");
    assert_eq!(
        std::fs::read(&ck).unwrap(),
        before,
        "the checkpoint was touched"
    );
    load_checkpoint(&ck).unwrap();
    // skip-step keeps going and counts what it dropped.
    let run = descent(&train_args(
        data.path(),
        &[
            "--epochs",
            "1",
            "--lr",
            "1e30",
            "--on-divergence",
            "skip-step",
        ],
    ));
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stdout).contains("steps skipped"));
}

/// `--seeds`: each optimizer runs once per seed; the table gives the mean
/// and (min–max), the CSV names each seed's run, the charts carry bands.
#[test]
fn compare_with_seeds_reports_the_spread() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let cmp = out.path().join("cmp");
    let stdout = ok(&[
        "compare",
        "--data",
        s(data.path()),
        "--optimizers",
        "sgd,adam",
        "--seeds",
        "3,4",
        "--target-acc",
        "1",
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--quiet",
        "--out",
        s(&cmp),
    ]);
    assert!(stdout.contains("adam/s4 epoch"), "{stdout}");
    let summary = std::fs::read_to_string(cmp.join("summary.md")).unwrap();
    let row = summary
        .lines()
        .find(|l| l.starts_with("| adam "))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(row.contains("| 3,4 |"), "{row}");
    // The test accuracy: mean (min–max), the mean between the two.
    let acc = row.split('|').nth(7).unwrap().trim();
    let nums: Vec<f64> = acc
        .split(['(', ')', '–', '%', ' '])
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(nums.len(), 3, "{acc}");
    assert!(nums[1] <= nums[0] && nums[0] <= nums[2], "{acc}");
    // Every run reaches 1% after its first epoch: 300 examples in batches
    // of 64 are 5 steps; Adam keeps 2 floats of state per parameter.
    let cost = summary.split("## Cost").nth(1).unwrap();
    let cost_row = cost.lines().find(|l| l.starts_with("| adam ")).unwrap();
    let cells: Vec<&str> = cost_row.split('|').map(str::trim).collect();
    assert_eq!(&cells[2..4], ["5", "300"], "{cost_row}");
    assert!(cells[5].ends_with("(2×)"), "{cost_row}");
    assert!(summary.contains("steps to 1%"), "{summary}");
    let csv = std::fs::read_to_string(cmp.join("metrics.csv")).unwrap();
    for run in ["sgd/s3", "sgd/s4", "adam/s3", "adam/s4"] {
        assert!(
            csv.lines().any(|l| l.starts_with(&format!("{run},"))),
            "{run}"
        );
    }
    for svg in ["loss.svg", "accuracy.svg"] {
        let text = std::fs::read_to_string(cmp.join(svg)).unwrap();
        assert_eq!(
            text.matches("<polygon").count(),
            2,
            "{svg}: one band per optimizer"
        );
    }
}

/// `--tune-lr` chooses each lr on the validation split, runs the
/// comparison at it and reports the search.
#[test]
fn compare_with_tune_lr_reports_the_search() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let cmp = out.path().join("cmp");
    let stdout = ok(&[
        "compare",
        "--data",
        s(data.path()),
        "--optimizers",
        "sgd,adam,random-search",
        "--tune-lr",
        "--tune-points",
        "3",
        "--validation",
        "60",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--quiet",
        "--out",
        s(&cmp),
    ]);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("tune") && l.contains("adam: lr")),
        "{stdout}"
    );
    let summary = std::fs::read_to_string(cmp.join("summary.md")).unwrap();
    let chosen = |run: &str| -> String {
        let section = summary.split("## Learning rates").nth(1).unwrap();
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| {run} ")))
            .unwrap_or_else(|| panic!("{summary}"));
        // run | steps a point | lr tried | lr chosen
        row.split('|').nth(4).unwrap().trim().to_string()
    };
    // The comparison ran adam at the lr the search chose.
    let adam_row = summary.lines().find(|l| l.starts_with("| adam ")).unwrap();
    assert_eq!(adam_row.split('|').nth(2).unwrap().trim(), chosen("adam"));
    assert!(cmp.join("tune.svg").exists());
    let html = std::fs::read_to_string(cmp.join("index.html")).unwrap();
    assert!(html.contains("tune.svg"));
    // --lr would be overridden: refused.
    let o = descent(&[
        "compare",
        "--data",
        s(data.path()),
        "--tune-lr",
        "--lr",
        "adam=0.1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lr: cannot be combined with --tune-lr"));
}

/// Every `<text>` of `svg` lies inside its view box, its width estimated
/// generously (`chart::text_width`) from its anchor; rotated labels run
/// vertically around their anchor.
fn assert_texts_inside(name: &str, svg: &str) {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    let root = doc.root_element();
    let (w, h) = match root.attribute("viewBox") {
        Some(vb) => {
            let v: Vec<f64> = vb.split_whitespace().map(|x| x.parse().unwrap()).collect();
            (v[2], v[3])
        }
        None => (
            root.attribute("width").unwrap().parse().unwrap(),
            root.attribute("height").unwrap().parse().unwrap(),
        ),
    };
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let num = |a: &str| {
            t.attribute(a)
                .and_then(|v| v.trim_end_matches("px").parse::<f64>().ok())
        };
        let (x, y) = (num("x").unwrap_or(0.0), num("y").unwrap_or(0.0));
        let size = num("font-size").unwrap_or(12.0);
        let text = t.text().unwrap_or("");
        let tw = descent_report::chart::text_width(text, size);
        let (l, r) = match t.attribute("text-anchor") {
            Some("middle") => (x - tw / 2.0, x + tw / 2.0),
            Some("end") => (x - tw, x),
            _ => (x, x + tw),
        };
        let (l, r, top, bottom) = if t.attribute("transform").is_some() {
            (x - size, x + size, y - tw / 2.0, y + tw / 2.0)
        } else {
            (l, r, y - size, y + size / 3.0)
        };
        assert!(
            l >= 0.0 && r <= w && top >= 0.0 && bottom <= h,
            "{name}: {text:?} at ({x}, {y}) leaves the {w}×{h} picture"
        );
    }
}

#[test]
fn compare_sweep_and_landscape_write_their_reports() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let cmp = out.path().join("cmp");
    ok(&[
        "compare",
        "--data",
        s(data.path()),
        "--optimizers",
        "sgd,adam,gd",
        "--batch-sizes",
        "1,32",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--quiet",
        "--out",
        s(&cmp),
        "--x",
        "examples",
    ]);
    let sweep = out.path().join("sweep");
    let sweep_out = ok(&[
        "sweep",
        "--data",
        s(data.path()),
        "--optimizer",
        "sgd",
        "--lr",
        "1e-3,1e30",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--quiet",
        "--out",
        s(&sweep),
    ]);
    assert!(sweep_out.contains("diverged"), "{sweep_out}");
    let land = out.path().join("land");
    ok(&[
        "landscape",
        "--function",
        "beale",
        "--optimizers",
        "sgd,adam",
        "--out",
        s(&land),
    ]);
    for (dir, runs) in [(&cmp, 5usize), (&sweep, 0), (&land, 2)] {
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        // Every file index.html references exists.
        for src in html.split("src=\"").skip(1) {
            let f = src.split('"').next().unwrap();
            assert!(
                dir.join(f).exists(),
                "{} references missing {f}",
                dir.display()
            );
        }
        assert!(!html.contains("<script"));
        if runs > 0 {
            let svg = std::fs::read_to_string(dir.join(if dir == &land {
                "landscape.svg"
            } else {
                "loss.svg"
            }))
            .unwrap();
            assert!(
                svg.starts_with("<svg") || svg.starts_with("<?xml"),
                "not an SVG"
            );
            assert!(svg.trim_end().ends_with("</svg>"));
        }
    }
    // The landscape SVG is well-formed XML with one coloured path per
    // optimizer (the two-point legend swatches are paths too: ≥ 2 each).
    let svg = std::fs::read_to_string(land.join("landscape.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("landscape.svg is XML");
    for i in 0..2 {
        let hex = descent_report::colour(i).hex();
        let n = doc
            .descendants()
            .filter(|e| e.has_tag_name("polyline") && e.attribute("stroke") == Some(hex.as_str()))
            .count();
        assert!(n >= 2, "optimizer {i} ({hex}) has {n} polylines");
    }
    // The colour map is one embedded PNG under the contours, and every
    // path has a replay that starts on a click (no script).
    let images: Vec<_> = doc
        .descendants()
        .filter(|e| e.has_tag_name("image"))
        .collect();
    assert_eq!(images.len(), 1);
    assert!(images[0]
        .attribute("href")
        .unwrap()
        .starts_with("data:image/png;base64,iVBORw0KGgo"));
    let replays = doc
        .descendants()
        .filter(|e| e.has_tag_name("animate") && e.attribute("begin") == Some("replay-area.click"))
        .count();
    assert_eq!(replays, 2);
    assert!(!svg.contains("<script"));
    for f in ["loss.svg", "accuracy.svg"] {
        let text = std::fs::read_to_string(cmp.join(f)).unwrap();
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_texts_inside(f, &text);
    }
    // Every SVG every report wrote, the landscape's included.
    for dir in [&cmp, &sweep, &land] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "svg") {
                assert_texts_inside(
                    &p.display().to_string(),
                    &std::fs::read_to_string(&p).unwrap(),
                );
            }
        }
    }
    let summary = std::fs::read_to_string(cmp.join("summary.md")).unwrap();
    for run in ["sgd/b1", "sgd/b32", "adam/b1", "adam/b32", "| gd |"] {
        assert!(summary.contains(run), "{run} missing from {summary}");
    }
}

#[test]
fn metrics_record_the_lr_each_step_used() {
    // Linear warm-up from lr/3 over 10 steps: step 1 must report lr/3 (the
    // lr it ran with), and the lr must rise until step 10.
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let m = out.path().join("m.jsonl");
    ok(&train_args(
        data.path(),
        &[
            "--epochs",
            "2",
            "--lr",
            "0.3",
            "--warmup",
            "10",
            "--metrics",
            s(&m),
        ],
    ));
    let lrs: Vec<f64> = std::fs::read_to_string(&m)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "step")
        .map(|r| r["lr"].as_f64().unwrap())
        .collect();
    assert!((lrs[0] - 0.1).abs() < 1e-6, "step 1 ran with {}", lrs[0]);
    assert!(lrs[..10].windows(2).all(|w| w[1] > w[0]), "{lrs:?}");
    assert!((lrs[12] - 0.3).abs() < 1e-6, "after warm-up: {}", lrs[12]);
}

#[test]
fn profile_writes_a_table_json_and_a_roofline_on_a_tiny_set() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("profile");
    let start = std::time::Instant::now();
    let stdout = ok(&[
        "profile",
        "--data",
        s(data.path()),
        "--hidden",
        "16",
        "--batch-size",
        "32",
        "--steps",
        "10",
        "--warmup-steps",
        "2",
        "--threads",
        "1",
        "--compare",
        "matrixmultiply",
        "--out",
        s(&dir),
    ]);
    let secs = start.elapsed().as_secs_f64();
    assert!(secs < 20.0, "profile took {secs:.1} s");
    for want in [
        "CPU: ",
        "GEMM kernel: ",
        "forward 1",
        "softmax-CE",
        "relu′ 1",
        "dW 1",
        "update",
        "step (unprobed)",
        "FLOP floor",
        "FMA peak f32x8",
        "DRAM",
        "matrixmultiply µs",
    ] {
        assert!(stdout.contains(want), "no {want:?} in\n{stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("profile.json")).unwrap()).unwrap();
    let phases = json["phases"].as_array().unwrap();
    // 64-16-10: gather, 2 forward, loss, 2 dW, 2 db, 1 dX, 1 relu′, and
    // the update (the optimizer's norm and its fused step).
    assert_eq!(phases.len(), 11);
    assert_eq!(json["sizes"], serde_json::json!([64, 16, 10]));
    assert!(json["peaks"].as_array().unwrap().len() >= 2);
    assert!(json["step"]["median"].as_f64().unwrap() > 0.0);
    let mm = phases
        .iter()
        .filter(|p| p["matrixmultiply"].is_object())
        .count();
    assert_eq!(mm, 5, "every GEMM compared");
    let svg = std::fs::read_to_string(dir.join("roofline.svg")).unwrap();
    assert_texts_inside("roofline.svg", &svg);
    for name in [
        "forward 1",
        "dW 2",
        "softmax-CE",
        "update",
        "eval",
        "L1 ",
        "peak",
    ] {
        assert!(svg.contains(name), "roofline.svg has no {name:?}");
    }
    assert!(std::fs::read_to_string(dir.join("profile.md"))
        .unwrap()
        .contains("| forward 1 |"));
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("roofline.svg") && html.contains("Phases of one step: time"));

    // Bad flags name themselves, before any step runs.
    let bad = descent(&["profile", "--data", s(data.path()), "--steps", "0"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--steps"));
    let file = out.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let under_file = file.join("profile");
    let bad = descent(&["profile", "--data", s(data.path()), "--out", s(&under_file)]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--out") && !under_file.exists(), "{err}");
}

#[test]
fn landscape_of_the_network_writes_its_surface_lines_and_paths() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (
        out.path().join("a.safetensors"),
        out.path().join("b.safetensors"),
    );
    ok(&train_args(
        data.path(),
        &["--epochs", "2", "--save", s(&a)],
    ));
    ok(&train_args(
        data.path(),
        &["--epochs", "2", "--seed", "1", "--save", s(&b)],
    ));
    let d = s(data.path());
    // The surface around a model, and the line between two.
    let surf = out.path().join("surface");
    let pair = format!("{},{}", s(&a), s(&b));
    let text = ok(&[
        "landscape",
        "--data",
        d,
        "--model",
        s(&a),
        "--grid",
        "5",
        "--examples",
        "100",
        "--interpolate",
        &pair,
        "--line-points",
        "5",
        "--threads",
        "2",
        "--out",
        s(&surf),
    ]);
    assert!(
        text.contains("points/s") && text.contains("roofline floor"),
        "{text}"
    );
    let csv = std::fs::read_to_string(surf.join("surface.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "alpha,beta,loss,accuracy");
    assert_eq!(rows.len(), 1 + 25);
    assert!(
        rows.iter().any(|r| r.starts_with("0,0,")),
        "the centre is on the grid"
    );
    let lines = std::fs::read_to_string(surf.join("interpolation.csv")).unwrap();
    assert_eq!(lines.lines().count(), 1 + 5);
    assert!(lines.lines().nth(2).unwrap().contains(",0,"), "{lines}");
    for f in [
        "surface.svg",
        "accuracy.svg",
        "interpolation.svg",
        "index.html",
    ] {
        assert!(surf.join(f).is_file(), "{f}");
    }
    // Paths on the PCA plane, with the lines from the start and between.
    let paths = out.path().join("paths");
    let text = ok(&[
        "landscape",
        "--data",
        d,
        "--optimizers",
        "sgd,adam",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--batch-size",
        "32",
        "--eval-batch-size",
        "50",
        "--grid",
        "5",
        "--examples",
        "100",
        "--record-every",
        "2",
        "--out",
        s(&paths),
    ]);
    assert!(text.contains("explained variance"), "{text}");
    let csv = std::fs::read_to_string(paths.join("paths.csv")).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "optimizer,step,alpha,beta,loss,plane_loss"
    );
    // 300 examples at batch 32: 10 steps, recorded at 0, 2, …, 10.
    assert_eq!(csv.lines().filter(|l| l.starts_with("sgd,")).count(), 6);
    let lines = std::fs::read_to_string(paths.join("interpolation.csv")).unwrap();
    for p in ["init → sgd", "init → adam", "sgd ↔ adam"] {
        assert!(lines.contains(p), "{p}");
    }
    for f in ["surface.svg", "path-loss.svg", "index.html"] {
        assert!(paths.join(f).is_file(), "{f}");
    }
    // Bad flags name themselves.
    for (args, flag) in [
        (vec!["--model", s(&a), "--grid", "4"], "--grid"),
        (vec!["--model", s(&a), "--function", "beale"], "--function"),
        (vec!["--interpolate", s(&a)], "--interpolate"),
    ] {
        let mut v = vec!["landscape", "--data", d];
        v.extend(args);
        let o = descent(&v);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
    }
}

/// `--eval-every N`: time to an accuracy is known to N steps. On 300
/// examples in batches of 32 (10 steps an epoch) with N = 3, a target
/// every run reaches at once is reached at step 3, not at the epoch's 10,
/// and the accuracy chart is drawn against steps.
#[test]
fn compare_with_eval_every_times_accuracy_in_steps() {
    let data = small_set(false);
    let out = tempfile::tempdir().unwrap();
    let cmp = out.path().join("cmp");
    ok(&[
        "compare",
        "--data",
        s(data.path()),
        "--optimizers",
        "sgd,adam",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--eval-every",
        "3",
        "--target-acc",
        "1",
        "--hidden",
        "16",
        "--quiet",
        "--out",
        s(&cmp),
    ]);
    let summary = std::fs::read_to_string(cmp.join("summary.md")).unwrap();
    let cost = summary.split("## Cost").nth(1).unwrap();
    for run in ["sgd", "adam"] {
        let row = cost
            .lines()
            .find(|l| l.starts_with(&format!("| {run} ")))
            .unwrap_or_else(|| panic!("{cost}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(&cells[2..4], ["3", "96"], "{row}");
    }
    let svg = std::fs::read_to_string(cmp.join("accuracy.svg")).unwrap();
    assert!(
        svg.contains("optimizer steps"),
        "the accuracy chart's x axis"
    );
    // 0 is not a number of steps.
    let bad = descent(&[
        "compare",
        "--data",
        s(data.path()),
        "--eval-every",
        "0",
        "--out",
        s(&cmp),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--eval-every"));
}
