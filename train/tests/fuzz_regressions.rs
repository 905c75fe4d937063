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

use descent_train::checkpoint::{parse_checkpoint, LoadOptions};
use descent_train::data::{parse_idx, IdxKind};

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

/// Seeds that are well-formed IDX though named as malformed cases: a labels
/// file (read as labels), an out-of-range label (checked by the loader, not
/// the IDX reader).
const IDX_LEVEL_VALID: [&str; 2] = ["labels-as-images", "label-out-of-range"];

/// Reads `bytes` under `name` as both kinds and returns how many kinds
/// accepted it. `valid` is the kind it must load as, if any; every error must
/// name the file.
fn replay_idx(name: &str, bytes: &[u8], valid: Option<IdxKind>) -> usize {
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
                    valid != Some(kind),
                    "{name}: valid {kind} seed rejected: {msg}"
                );
            }
        }
    }
    ok
}

/// What a seed named `name` (without `.gz`) must load as, read uncompressed:
/// `Some(kind)` for a valid seed, `None` for a malformed one (which then
/// loads as neither kind, unless it is one of [`IDX_LEVEL_VALID`]).
fn expect(name: &str) -> Option<IdxKind> {
    is_valid_seed(name).then(|| seed_kind(name))
}

/// Checks the count from [`replay_idx`] for a seed whose payload is `base`.
fn check_count(shown_as: &str, base: &str, ok: usize) {
    if expect(base).is_none() && !IDX_LEVEL_VALID.contains(&base) {
        assert_eq!(ok, 0, "{shown_as}: malformed seed accepted");
    }
}

#[test]
fn idx_raw_seeds_replay() {
    let Some(files) = seeds("idx_raw") else {
        return;
    };
    let mut valid = 0;
    for (name, bytes) in &files {
        let ok = replay_idx(name, bytes, expect(name));
        check_count(name, name, ok);
        valid += usize::from(expect(name).is_some());
    }
    assert!(valid >= 4, "only {valid} valid seeds");
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
        if name.ends_with(".gz") {
            // A compressed seed loads exactly as its payload does raw.
            let ok = replay_idx(&gz_name, bytes, expect(base));
            check_count(&gz_name, base, ok);
        } else if name.starts_with("gz-") {
            // Corrupt streams never load (data after the member: see
            // `data_after_the_gzip_member_is_refused`).
            let ok = replay_idx(&gz_name, bytes, None);
            if !TRAILING.contains(&name.as_str()) {
                assert_eq!(ok, 0, "{gz_name}: corrupt gzip stream accepted");
            }
        } else {
            // A raw IDX payload: "not gzip data" under a .gz name.
            assert_eq!(replay_idx(&gz_name, bytes, None), 0, "{gz_name}");
            let ok = replay_idx(name, bytes, expect(name));
            check_count(name, name, ok);
        }
    }
}

/// Seeds that are a valid gzip member followed by more bytes.
const TRAILING: [&str; 2] = ["gz-two-members", "gz-trailing-junk"];

/// Regression for a finding of the fuzzing work (not a crash; fixed): `read_gz`
/// decoded the first gzip member only and never looked at what followed it, so a `.gz` file with
/// junk after the member, or with a second member, loaded as if the extra
/// bytes were not there. `gunzip -c` decodes a two-member file to both
/// payloads (an IDX file with trailing data, which the raw reader refuses)
/// and warns "trailing garbage ignored" (exit status 2) on junk.
#[test]
fn data_after_the_gzip_member_is_refused() {
    let Some(files) = seeds("idx_gzip") else {
        return;
    };
    let accepted: Vec<String> = files
        .iter()
        .filter(|(n, _)| TRAILING.contains(&n.as_str()))
        .map(|(n, b)| (format!("{n}.gz"), b))
        .filter(|(n, b)| parse_idx(Path::new(n), b, IdxKind::Images).is_ok())
        .map(|(n, _)| n)
        .collect();
    assert!(
        accepted.is_empty(),
        "bytes after the gzip member were ignored in {accepted:?}"
    );
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
                assert_eq!(
                    t.data().len(),
                    t.shape().iter().product::<usize>(),
                    "{name}"
                );
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
