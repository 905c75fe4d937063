//! Studies: `compare --plan`, `compare --shard K/N`, `run-one` and `report`
//! on a small synthetic set, through the real binary. A sharded study run
//! as concurrent processes must equal the one-process study in every
//! metric record but the timings. (Unix: signals and process groups.)

#![cfg(unix)]

#[path = "../../train/tests/common/mod.rs"]
mod common;
mod run;

use run::{descent, ok, s};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The study of every test below: three optimizers (gd among them) × two
/// seeds, two epochs of a 300-example set, one thread a run.
fn study_args<'a>(data: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "compare",
        "--data",
        s(data),
        "--optimizers",
        "sgd,adam,gd",
        "--seeds",
        "0,1",
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--threads",
        "1",
        "--quiet",
        "--out",
        s(out),
    ]
}

/// Every stored result of a study directory, by file name, as stored.
fn records_with_timings(dir: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("runs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // A run in progress keeps its place beside the results, and a
        // writer killed mid-write leaves its hidden temporary: neither is
        // a result.
        if name.ends_with(".safetensors")
            || name.ends_with(".steps.json")
            || (name.starts_with('.') && name.ends_with(".tmp"))
        {
            continue;
        }
        assert!(
            name.ends_with(".json") && !name.starts_with('.'),
            "a stray file in runs/: {name}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        out.insert(name, v);
    }
    out
}

/// [`records_with_timings`] with the timings (seconds, throughput, peak
/// RSS) removed: what must be bit-identical between two executions of the
/// same study.
fn records(dir: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut out = records_with_timings(dir);
    for v in out.values_mut() {
        let r = v["result"].as_object_mut().unwrap();
        r.remove("seconds");
        r.remove("peak_rss");
        for s in r["history"]["steps"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("seconds");
        }
        for e in r["history"]["epochs"].as_array_mut().unwrap() {
            let e = e.as_object_mut().unwrap();
            e.remove("seconds");
            e.remove("examples_per_sec");
        }
        for e in r["history"]["evals"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("seconds");
        }
    }
    out
}

#[test]
fn the_plan_is_deterministic() {
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 300, 100, 8, 8, false);
    let out = tempfile::tempdir().unwrap();
    let a = ok(&[study_args(data.path(), out.path()), vec!["--plan"]].concat());
    // Another thread count does not change a run's numbers, so not its id.
    let mut other = study_args(data.path(), out.path());
    let t = other.iter().position(|&a| a == "--threads").unwrap();
    other[t + 1] = "2";
    other.push("--plan");
    let b = ok(&other);
    assert_eq!(a, b);
    let lines: Vec<&str> = a.lines().collect();
    assert_eq!(lines.len(), 6, "{a}");
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    for id in &ids {
        assert!(
            id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        6,
        "every seed of every optimizer has its own id"
    );
    assert!(
        lines[0].contains("\tsgd/s0\t") && lines[3].contains("\tsgd/s1\t"),
        "{a}"
    );
    // Nothing ran.
    assert_eq!(
        std::fs::read_dir(out.path().join("runs")).unwrap().count(),
        0
    );
}

#[test]
fn three_concurrent_shards_equal_one_process() {
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 300, 100, 8, 8, false);
    let one = tempfile::tempdir().unwrap();
    ok(&study_args(data.path(), one.path()));

    // Three processes at once, each its slice.
    let sharded = tempfile::tempdir().unwrap();
    let procs: Vec<_> = (1..=3)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_descent"))
                .args(study_args(data.path(), sharded.path()))
                .args(["--shard", &format!("{k}/3")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in procs {
        let out = p.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("ran 2 run(s)"), "{text}");
    }
    // Before the report, nothing but the results and the plan.
    assert!(!sharded.path().join("summary.md").exists());
    let report = ok(&["report", s(sharded.path())]);
    assert!(!report.contains("no result yet"), "{report}");
    assert_eq!(records(one.path()), records(sharded.path()));
    assert_eq!(records(one.path()).len(), 6);
    // Each run's model is kept beside its result, and is the same model
    // however the study was run.
    for id in records(one.path()).keys() {
        let model = |d: &Path| {
            let p = d.join("runs").join(id.replace(".json", ".safetensors"));
            descent_cli::checkpoint::load_checkpoint(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .tensors
        };
        assert_eq!(model(one.path()), model(sharded.path()), "{id}");
    }
    // The two reports give the same table but for the timing columns.
    let table = |d: &Path| {
        let md = std::fs::read_to_string(d.join("summary.md")).unwrap();
        md.split("## Cost")
            .next()
            .unwrap()
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(one.path()), table(sharded.path()));
}

#[test]
fn a_rerun_resumes_and_a_report_names_the_missing_runs() {
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 300, 100, 8, 8, false);
    let dir = tempfile::tempdir().unwrap();
    ok(&[study_args(data.path(), dir.path()), vec!["--shard", "2/3"]].concat());
    // Four runs are missing; the report says which and leaves them out.
    let report = ok(&["report", s(dir.path())]);
    assert!(
        report.contains("4 of the 6 runs have no result yet"),
        "{report}"
    );
    assert!(
        report.contains("sgd/s0") && report.contains("gd/s1"),
        "{report}"
    );
    let before = records(dir.path());
    // The same command without --shard runs only the four.
    let stdout = ok(&study_args(data.path(), dir.path()));
    assert_eq!(stdout.matches("done already").count(), 2, "{stdout}");
    let after = records(dir.path());
    assert_eq!(after.len(), 6);
    for (id, r) in &before {
        assert_eq!(&after[id], r, "a finished run is never rewritten");
    }
    let one = tempfile::tempdir().unwrap();
    ok(&study_args(data.path(), one.path()));
    assert_eq!(records(one.path()), after);
}

#[test]
fn each_run_has_its_own_peak_rss() {
    let data = tempfile::tempdir().unwrap();
    // Enough images that gd's full-batch activations dominate (2000 × 784
    // inputs, hidden 256: ~15 MB of floats a layer).
    common::write_set(data.path(), 2000, 100, 28, 28, false);
    let dir = tempfile::tempdir().unwrap();
    ok(&[
        "compare",
        "--data",
        s(data.path()),
        "--optimizers",
        "sgd,gd",
        "--epochs",
        "1",
        "--hidden",
        "256",
        "--threads",
        "1",
        "--quiet",
        "--out",
        s(dir.path()),
    ]);
    let mut rss = BTreeMap::new();
    for (_, v) in records_with_timings(dir.path()) {
        let r = &v["result"];
        rss.insert(
            r["label"].as_str().unwrap().to_string(),
            r["peak_rss"].as_u64().expect("Linux reports a peak RSS"),
        );
    }
    assert!(rss["sgd"] < rss["gd"], "{rss:?}");
}

#[test]
fn bad_study_input_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    common::write_set(data.path(), 300, 100, 8, 8, false);
    let dir = tempfile::tempdir().unwrap();
    for bad in ["0/3", "4/3", "3", "a/b"] {
        let out = descent(&[study_args(data.path(), dir.path()), vec!["--shard", bad]].concat());
        assert_eq!(out.status.code(), Some(2), "--shard {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--shard") && err.contains("K/N"), "{err}");
    }
    // No plan: the report names the file it looked for.
    let out = descent(&["report", s(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plan.json"), "{err}");
    // An id that is not in the plan.
    ok(&[study_args(data.path(), dir.path()), vec!["--plan"]].concat());
    let out = descent(&["run-one", "0123456789abcdef", "--study", s(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no run `0123456789abcdef`"), "{err}");
    // A damaged result is named, not skipped or overwritten.
    let id = ok(&[study_args(data.path(), dir.path()), vec!["--plan"]].concat())
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    let path = dir.path().join("runs").join(format!("{id}.json"));
    std::fs::write(&path, "{ not json").unwrap();
    let out = descent(&["report", s(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{id}.json")), "{err}");
}

/// A study stopped again and again, by SIGINT to its process group (as
/// Ctrl-C does: the parent and the run's child both get it) or by SIGKILL,
/// at spread moments, then finished by the same command: it ends with the
/// results of a study never stopped, bit for bit but the timings, and no
/// result file is ever half-written.
#[test]
fn a_study_stopped_many_times_resumes_to_the_same_results() {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let data = tempfile::tempdir().unwrap();
    // 2048 examples in batches of 4: 512 steps an epoch, three epochs a run.
    common::write_set(data.path(), 2048, 100, 8, 8, false);
    let args = |out: &Path| -> Vec<String> {
        let mut v: Vec<String> = study_args(data.path(), out)
            .into_iter()
            .map(String::from)
            .collect();
        let e = v.iter().position(|a| a == "--epochs").unwrap();
        v[e + 1] = "3".into();
        // Evaluations between epochs' ends too: they must survive the
        // stops as the step records do.
        v.extend([
            "--batch-size".into(),
            "4".into(),
            "--eval-every".into(),
            "100".into(),
        ]);
        v
    };
    let one = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(args(one.path()))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let whole = start.elapsed();

    // Studies stopped again and again until at least 20 stops have been
    // seen in all; each study, once finished, must equal the uninterrupted
    // one. A study that finishes in few stops (a slow moment of the host
    // inflated `whole`) is followed by another with shorter waits.
    let (mut stops, mut studies) = (0, 0);
    let mut scale = whole;
    let mut seed = 12345u64;
    while stops < 20 {
        assert!(studies < 8, "only {stops} stops in {studies} studies");
        studies += 1;
        let dir = tempfile::tempdir().unwrap();
        let mut finished = false;
        for trial in 0..120 {
            let mut child = Command::new(env!("CARGO_BIN_EXE_descent"))
                .args(args(dir.path()))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap();
            // A pseudo-random moment within 1% to 4% of the whole study's
            // time (each attempt also pays the process starts again).
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let frac = 0.01 + 0.03 * ((seed >> 33) as f64 / (1u64 << 31) as f64);
            std::thread::sleep(scale.mul_f64(frac));
            let signal = if trial % 4 == 3 {
                libc::SIGKILL
            } else {
                libc::SIGINT
            };
            // SAFETY: kill(2) on the process group of our own child.
            unsafe { libc::kill(-(child.id() as libc::pid_t), signal) };
            let status = child.wait().unwrap();
            // The children of a killed parent are in its group: wait them
            // out before the next attempt touches their files.
            let t = Instant::now();
            // SAFETY: kill with signal 0 only asks whether the group exists.
            while unsafe { libc::kill(-(child.id() as libc::pid_t), 0) } == 0 {
                assert!(t.elapsed() < Duration::from_secs(60), "the group lingers");
                std::thread::sleep(Duration::from_millis(10));
            }
            if status.success() {
                finished = true;
                break;
            }
            stops += 1;
            if signal == libc::SIGINT {
                // 130 once the handler is installed; killed by the signal
                // if it came while the process was starting.
                use std::os::unix::process::ExitStatusExt;
                assert!(
                    status.code() == Some(130) || status.signal() == Some(libc::SIGINT),
                    "trial {trial}: {status:?}"
                );
            }
            // Every result on disk is whole (once the plan has made runs/).
            if dir.path().join("runs").exists() {
                records(dir.path());
            }
        }
        if !finished {
            let status = Command::new(env!("CARGO_BIN_EXE_descent"))
                .args(args(dir.path()))
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
        assert_eq!(records(one.path()), records(dir.path()), "study {studies}");
        scale = scale.mul_f64(0.5);
    }
    println!(
        "{stops} stops in {studies} studies; each resumed study equals the uninterrupted one ({whole:?} uninterrupted)"
    );
}
