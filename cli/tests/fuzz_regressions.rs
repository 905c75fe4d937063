//! Fuzz regressions in the normal suite (no fuzzer needed): the committed
//! seed corpora of `fuzz/corpus/<target>/` replayed through the readers.
//!
//! Seeds are named by what they are: `valid-*` and `real-*` files must load,
//! every other one is a malformed case (from `tests/idx.rs` and
//! `tests/checkpoint.rs`) that must be a typed error naming the file, never a
//! panic. Inputs the fuzzers find that crash a reader are added to the seed
//! directory of their target with a name saying what they break, and so
//! replayed here from then on.

use std::path::{Path, PathBuf};

use descent_cli::checkpoint::{parse_checkpoint, LoadOptions};
use descent_cli::data::{parse_idx, IdxKind};

/// The seed files of one fuzz target, sorted, or `None` when the fuzz
/// directory is not there (e.g. a packaged crate).
fn seeds(target: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("note: {} is missing; nothing to replay", dir.display());
        return None;
    };
    let mut files: Vec<(String, Vec<u8>)> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p: PathBuf| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seed", dir.display());
    Some(files)
}

fn is_valid_seed(name: &str) -> bool {
    name.starts_with("valid-") || name.starts_with("real-")
}

/// The kind a valid IDX seed holds, from its name.
fn seed_kind(name: &str) -> IdxKind {
    if name.contains("labels") {
        IdxKind::Labels
    } else {
        IdxKind::Images
    }
}

/// Reads `bytes` under `name` as both kinds; a valid seed must load as its own
/// kind, and every error must name the file.
fn replay_idx(name: &str, bytes: &[u8], malformed_must_fail: bool) -> usize {
    let path = Path::new(name);
    let mut ok = 0;
    for kind in [IdxKind::Images, IdxKind::Labels] {
        match parse_idx(path, bytes, kind) {
            Ok(f) => {
                assert_eq!(f.data.len(), f.dims.iter().product::<usize>(), "{name}");
                ok += 1;
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(name),
                    "{name}: message must name the file: {msg}"
                );
                assert!(
                    !(is_valid_seed(name) && kind == seed_kind(name)),
                    "{name}: valid {kind} seed rejected: {msg}"
                );
            }
        }
    }
    if malformed_must_fail && !is_valid_seed(name) {
        // Malformed seeds that are still well-formed IDX at this level: a
        // labels file read as labels, an out-of-range label (checked by the
        // loader, not the IDX reader).
        let allowed = ["labels-as-images", "label-out-of-range"];
        let base = name.trim_end_matches(".gz");
        assert!(
            ok == 0 || allowed.contains(&base),
            "{name}: malformed seed accepted"
        );
    }
    ok
}

#[test]
fn idx_raw_seeds_replay() {
    let Some(files) = seeds("idx_raw") else {
        return;
    };
    let valid = files
        .iter()
        .filter(|(n, b)| replay_idx(n, b, true) > 0 && is_valid_seed(n))
        .count();
    assert!(valid >= 4, "only {valid} valid seeds loaded");
}

#[test]
fn idx_gzip_seeds_replay() {
    let Some(files) = seeds("idx_gzip") else {
        return;
    };
    for (name, bytes) in &files {
        // Each seed read the two ways the fuzz target reads it: as a `.gz`
        // file, and as a raw IDX payload.
        let base = name.trim_end_matches(".gz");
        let gz_name = format!("{base}.gz");
        let as_gz = replay_idx(&gz_name, bytes, false);
        if name.ends_with(".gz") {
            // A gzip-compressed seed: it loads exactly when its payload does.
            let ok = if is_valid_seed(name) {
                1
            } else {
                usize::from(["labels-as-images", "label-out-of-range"].contains(&base))
            };
            assert_eq!(as_gz, ok, "{gz_name}");
        } else if name.starts_with("gz-") {
            // Corrupt streams never load (data after the member: see
            // `data_after_the_gzip_member_is_refused`).
            if !TRAILING.contains(&name.as_str()) {
                assert_eq!(as_gz, 0, "{gz_name}: corrupt gzip stream accepted");
            }
        } else {
            // Raw IDX under a .gz name: "not gzip data".
            assert_eq!(as_gz, 0, "{gz_name}");
            replay_idx(name, bytes, true);
        }
    }
}

/// Seeds that are a valid gzip member followed by more bytes.
const TRAILING: [&str; 2] = ["gz-two-members", "gz-trailing-junk"];

/// Finding of the fuzzing work (not a crash): `read_gz` decodes the first
/// gzip member only and never looks at what follows it, so a `.gz` file with
/// junk after the member, or with a second member, loads as if the extra
/// bytes were not there. `gunzip -c` decodes a two-member file to both
/// payloads (an IDX file with trailing data, which the raw reader refuses)
/// and warns "trailing garbage ignored" (exit status 2) on junk.
#[test]
#[ignore = "finding for the lead: read_gz ignores bytes after the first gzip member (fails until fixed)"]
fn data_after_the_gzip_member_is_refused() {
    let Some(files) = seeds("idx_gzip") else {
        return;
    };
    for (name, bytes) in files.iter().filter(|(n, _)| TRAILING.contains(&n.as_str())) {
        let gz_name = format!("{name}.gz");
        let r = parse_idx(Path::new(&gz_name), bytes, IdxKind::Images);
        assert!(
            r.is_err(),
            "{gz_name}: bytes after the gzip member were ignored"
        );
    }
}

#[test]
fn checkpoint_seeds_replay() {
    let Some(files) = seeds("checkpoint") else {
        return;
    };
    for (name, bytes) in &files {
        let path = Path::new(name);
        let strict = parse_checkpoint(path, bytes, LoadOptions::default());
        if is_valid_seed(name) {
            let c = strict.unwrap_or_else(|e| panic!("{name}: valid seed rejected: {e}"));
            for t in &c.tensors {
                assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{name}");
            }
        } else {
            let e = strict.expect_err(name);
            let msg = e.to_string();
            assert!(
                msg.contains(name),
                "{name}: message must name the file: {msg}"
            );
        }
        // The lenient options accept exactly the non-finite seeds in addition.
        let lenient = parse_checkpoint(
            path,
            bytes,
            LoadOptions {
                allow_nonfinite: true,
            },
        );
        assert_eq!(
            lenient.is_ok(),
            is_valid_seed(name) || name.starts_with("nonfinite-"),
            "{name}"
        );
    }
}
