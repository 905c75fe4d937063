//! Checkpoints: round trips, atomic writes, and every rejection case on
//! hand-crafted safetensors bytes, each asserting the message names the file
//! and the tensor.

use std::collections::BTreeMap;
use std::path::Path;

use descent_train::checkpoint::{names, *};

const FILE: &str = "ckpt.safetensors";

/// A safetensors file from a literal header (unpadded) and data section.
fn craft(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

fn f32_bytes(vals: &[f32]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn parse(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    parse_checkpoint(Path::new(FILE), bytes, LoadOptions::default())
}

/// Parses `bytes`, which must fail; checks the message names the file (and
/// `tensor` if given) and returns the error and message.
fn reject(bytes: &[u8], tensor: Option<&str>) -> (CheckpointError, String) {
    let e = parse(bytes).expect_err("must be rejected");
    let msg = e.to_string();
    assert!(msg.contains(FILE), "{msg}");
    if let Some(t) = tensor {
        assert!(msg.contains(t), "message must name tensor {t}: {msg}");
    }
    (e, msg)
}

fn meta() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert(names::FORMAT.into(), names::FORMAT_VERSION.into());
    m.insert(names::EPOCH.into(), "3".into());
    m.insert(
        names::CONFIG.into(),
        r#"{"optimizer":"adam","lr":0.001}"#.into(),
    );
    m
}

/// A small two-layer model plus one optimizer buffer.
fn sample() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let w0: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    vec![
        (
            descent_nn::sequential_name(0, "weight"),
            vec![4, 3],
            w0.clone(),
        ),
        (
            descent_nn::sequential_name(0, "bias"),
            vec![4],
            vec![0.5, -0.5, 1e-30, -0.0],
        ),
        (
            descent_nn::sequential_name(1, "weight"),
            vec![2, 4],
            vec![f32::MIN_POSITIVE; 8],
        ),
        (
            descent_nn::sequential_name(1, "bias"),
            vec![2],
            vec![f32::MAX, f32::MIN],
        ),
        (names::optim("exp_avg", "0.weight"), vec![4, 3], w0),
    ]
}

fn refs(t: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<(&str, &[usize], &[f32])> {
    t.iter()
        .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))
        .collect()
}

#[test]
fn round_trip_keeps_order_values_and_metadata() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(FILE);
    let t = sample();
    save_checkpoint(&p, &refs(&t), &meta()).unwrap();
    let c = load_checkpoint(&p).unwrap();
    assert_eq!(c.tensors.len(), t.len());
    for (got, (n, s, v)) in c.tensors.iter().zip(&t) {
        assert_eq!((&got.name, got.shape()), (n, s.as_slice()));
        let a: Vec<u32> = got.data().iter().map(|x| x.to_bits()).collect();
        let b: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        assert_eq!(a, b, "{n} must round-trip bit for bit");
    }
    assert_eq!(c.metadata, meta());
    assert_eq!(c.meta_parse::<u64>(names::EPOCH).unwrap(), 3);
    assert_eq!(c.model_tensors().count(), 4);
    assert_eq!(c.with_prefix(names::OPTIM_PREFIX).count(), 1);
    assert_eq!(
        c.expect_tensor("0.weight", &[4, 3]).unwrap().data().len(),
        12
    );
    let mut out = [0.0f32; 2];
    c.copy_tensor("2.bias", &[2], &mut out).unwrap();
    assert_eq!(out, [f32::MAX, f32::MIN]);
}

#[test]
fn written_files_are_deterministic_padded_and_read_by_the_safetensors_crate() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let t = sample();
    save_checkpoint(&a, &refs(&t), &meta()).unwrap();
    save_checkpoint(&b, &refs(&t), &meta()).unwrap();
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ba, bb);
    let n = u64::from_le_bytes(ba[..8].try_into().unwrap());
    assert_eq!(
        n % 8,
        0,
        "header is padded to 8 bytes like the reference writer"
    );
    let st = safetensors::SafeTensors::deserialize(&ba).unwrap();
    let w = st.tensor("0.weight").unwrap();
    assert_eq!(w.dtype(), safetensors::Dtype::F32);
    assert_eq!(w.shape(), &[4, 3]);
    assert_eq!(w.data(), &f32_bytes(&t[0].2)[..]);
    let (_, md) = safetensors::SafeTensors::read_metadata(&ba).unwrap();
    assert_eq!(md.metadata().as_ref().unwrap()["epoch"], "3");
}

#[test]
fn files_written_by_the_safetensors_crate_load() {
    let data = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let v =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &data).unwrap();
    let bytes = safetensors::serialize([("0.weight", v)], None).unwrap();
    let c = parse(&bytes).unwrap();
    assert_eq!(
        c.expect_tensor("0.weight", &[2, 3]).unwrap().data(),
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    assert!(c.metadata.is_empty());
}

#[test]
fn save_is_atomic_and_leaves_no_temporaries() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(FILE);
    let t = sample();
    save_checkpoint(&p, &refs(&t), &meta()).unwrap();
    let before = std::fs::read(&p).unwrap();
    // A bad tensor: rejected before anything is written; the old file survives.
    let bad = [("0.weight", &[4usize, 4][..], &[0.0f32; 3][..])];
    let e = save_checkpoint(&p, &bad, &meta()).unwrap_err();
    assert!(
        e.to_string().contains("0.weight") && e.to_string().contains("needs 16 values"),
        "{e}"
    );
    let dup = [
        ("x", &[1usize][..], &[0.0f32][..]),
        ("x", &[1][..], &[0.0][..]),
    ];
    assert!(save_checkpoint(&p, &dup, &meta())
        .unwrap_err()
        .to_string()
        .contains("twice"));
    assert_eq!(std::fs::read(&p).unwrap(), before);
    // Overwrite with new content.
    let small = [("0.bias", &[1usize][..], &[7.0f32][..])];
    save_checkpoint(&p, &small, &BTreeMap::new()).unwrap();
    assert_eq!(load_checkpoint(&p).unwrap().tensors[0].data(), [7.0]);
    let entries: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        vec![std::ffi::OsString::from(FILE)],
        "no temporary left behind"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&p),
            0o644,
            "new checkpoints are 0644, not tempfile's 0600"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        save_checkpoint(&p, &small, &BTreeMap::new()).unwrap();
        assert_eq!(mode(&p), 0o640, "an overwritten checkpoint keeps its mode");
    }
}

#[test]
fn missing_output_directory_is_reported_before_and_at_save() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("no/such/dir").join(FILE);
    let e = check_writable(&p).unwrap_err();
    assert!(e.to_string().contains("no/such/dir"), "{e}");
    let e = save_checkpoint(&p, &[], &meta()).unwrap_err();
    assert!(matches!(e, CheckpointError::Io { .. }), "{e}");
    check_writable(&d.path().join(FILE)).unwrap();
    // The path is a directory.
    assert!(check_writable(d.path()).is_err());
}

#[cfg(unix)]
#[test]
fn read_only_directory_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"x").is_ok() {
        eprintln!("note: running with permission to write a 0555 directory (root?); skipping");
        return;
    }
    let e = check_writable(&ro.join(FILE)).unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot create a file in its directory"),
        "{e}"
    );
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn too_short_and_absurd_or_past_end_header_lengths() {
    let (e, _) = reject(&[1, 2, 3], None);
    assert!(matches!(e, CheckpointError::TooShort { len: 3, .. }));
    for n in [u64::MAX, 1 << 40, 100_000_001] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        let (e, msg) = reject(&b, None);
        assert!(matches!(e, CheckpointError::HeaderTooLarge { .. }), "{msg}");
        assert!(msg.contains("absurd"), "{msg}");
    }
    let mut b = 1000u64.to_le_bytes().to_vec();
    b.extend_from_slice(&[b' '; 100]);
    let (e, msg) = reject(&b, None);
    assert!(
        matches!(
            e,
            CheckpointError::HeaderPastEnd {
                header_len: 1000,
                file_len: 108,
                ..
            }
        ),
        "{msg}"
    );
}

#[test]
fn header_not_utf8_or_not_json() {
    let mut b = craft("{\"a\": 1}", &[]);
    b[10] = 0xff;
    let (e, _) = reject(&b, None);
    assert!(matches!(e, CheckpointError::HeaderNotUtf8 { .. }));
    for h in ["{", "not json", "[1, 2]", "{\"a\": 1} x"] {
        let (e, msg) = reject(&craft(h, &[]), None);
        assert!(
            matches!(e, CheckpointError::HeaderNotJson { .. }),
            "{h}: {msg}"
        );
    }
    // The crate rejects these too (its own errors are less specific).
    assert!(safetensors::SafeTensors::deserialize(&craft("[1]", &[])).is_err());
}

#[test]
fn malformed_entries_and_metadata() {
    let (e, msg) = reject(
        &craft(
            r#"{"0.weight": {"shape": [1], "data_offsets": [0, 4]}}"#,
            &[0; 4],
        ),
        Some("0.weight"),
    );
    assert!(
        matches!(e, CheckpointError::BadEntry { .. }) && msg.contains("dtype"),
        "{msg}"
    );
    let (e, _) = reject(
        &craft(
            r#"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
            &[0; 4],
        ),
        Some("w"),
    );
    assert!(matches!(e, CheckpointError::BadEntry { .. }));
    let (e, msg) = reject(&craft(r#"{"__metadata__": {"epoch": 3}}"#, &[]), None);
    assert!(matches!(e, CheckpointError::BadMetadata { .. }), "{msg}");
}

#[test]
fn duplicated_tensor_is_rejected_though_the_crate_accepts_it() {
    let h = r#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#;
    let b = craft(h, &[0; 4]);
    // safetensors 0.8 keeps the last entry silently.
    assert!(safetensors::SafeTensors::deserialize(&b).is_ok());
    let (e, msg) = reject(&b, Some("w"));
    assert!(
        matches!(e, CheckpointError::DuplicateTensor { .. }),
        "{msg}"
    );
    assert!(msg.contains("more than once"), "{msg}");
}

#[test]
fn dtype_other_than_f32() {
    for dt in ["F16", "F64", "I64", "NOPE"] {
        let h = format!(r#"{{"w": {{"dtype": "{dt}", "shape": [2], "data_offsets": [0, 8]}}}}"#);
        let (e, msg) = reject(&craft(&h, &[0; 8]), Some("w"));
        assert!(
            matches!(e, CheckpointError::UnsupportedDtype { .. }),
            "{msg}"
        );
        assert!(
            msg.contains(dt) && msg.contains("F32 tensors only"),
            "{msg}"
        );
    }
}

#[test]
fn shape_disagreeing_with_bytes() {
    let h = r#"{"0.bias": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#;
    let (e, msg) = reject(&craft(h, &[0; 8]), Some("0.bias"));
    assert!(
        matches!(e, CheckpointError::ShapeBytesMismatch { needed: 12, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("[3] = 3 F32 value(s) = 12 bytes") && msg.contains("hold 8 bytes"),
        "{msg}"
    );
    // A shape whose product overflows.
    let h =
        r#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}}"#;
    let (e, _) = reject(&craft(h, &[0; 8]), Some("w"));
    assert!(matches!(e, CheckpointError::ShapeBytesMismatch { .. }));
    let h = r#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}"#;
    let (e, _) = reject(&craft(h, &[0; 8]), Some("w"));
    assert!(matches!(e, CheckpointError::ReversedOffsets { .. }));
}

#[test]
fn gaps_overlaps_trailing_bytes_and_data_past_the_end() {
    let t = |name: &str, s: u64, e: u64| {
        format!(
            r#""{name}": {{"dtype": "F32", "shape": [{}], "data_offsets": [{s}, {e}]}}"#,
            (e - s) / 4
        )
    };
    // Gap between a and b.
    let h = format!("{{{}, {}}}", t("a", 0, 4), t("b", 8, 12));
    let b = craft(&h, &[0; 12]);
    assert!(
        safetensors::SafeTensors::deserialize(&b).is_err(),
        "the crate rejects gaps too"
    );
    let (e, msg) = reject(&b, Some("b"));
    assert!(
        matches!(
            e,
            CheckpointError::OffsetGap {
                start: 8,
                expected: 4,
                ..
            }
        ),
        "{msg}"
    );
    // Gap before the first tensor.
    let (e, _) = reject(&craft(&format!("{{{}}}", t("a", 4, 8)), &[0; 8]), Some("a"));
    assert!(matches!(e, CheckpointError::OffsetGap { .. }));
    // Overlap: b starts inside a; listed in reverse order to show sorting.
    let h = format!("{{{}, {}}}", t("b", 4, 12), t("a", 0, 8));
    let (e, msg) = reject(&craft(&h, &[0; 12]), Some("b"));
    assert!(matches!(e, CheckpointError::OffsetOverlap { .. }), "{msg}");
    assert!(msg.contains("inside tensor a"), "{msg}");
    // Trailing bytes.
    let b = craft(&format!("{{{}}}", t("a", 0, 4)), &[0; 7]);
    assert!(
        safetensors::SafeTensors::deserialize(&b).is_err(),
        "the crate rejects trailing bytes too"
    );
    let (e, msg) = reject(&b, None);
    assert!(
        matches!(e, CheckpointError::TrailingBytes { extra: 3, .. }),
        "{msg}"
    );
    // A tensor past the end of the data.
    let (e, msg) = reject(
        &craft(&format!("{{{}}}", t("a", 0, 16)), &[0; 8]),
        Some("a"),
    );
    assert!(matches!(e, CheckpointError::TensorPastEnd { .. }), "{msg}");
}

#[test]
fn non_finite_values_are_rejected_unless_allowed() {
    let h = r#"{"0.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}"#;
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let b = craft(h, &f32_bytes(&[1.0, 2.0, bad, bad]));
        let (e, msg) = reject(&b, Some("0.weight"));
        assert!(
            matches!(
                e,
                CheckpointError::NonFinite {
                    index: 2,
                    count: 2,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(msg.contains("--allow-nonfinite"), "{msg}");
        let c = parse_checkpoint(
            Path::new(FILE),
            &b,
            LoadOptions {
                allow_nonfinite: true,
            },
        )
        .unwrap();
        assert_eq!(c.tensors[0].data()[2].to_bits(), bad.to_bits());
        assert!(c.check_finite().is_err());
    }
}

#[test]
fn expect_tensor_names_the_tensor_and_both_shapes() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(FILE);
    save_checkpoint(&p, &refs(&sample()), &meta()).unwrap();
    let c = load_checkpoint(&p).unwrap();
    let e = c.expect_tensor("0.weight", &[128, 784]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("tensor 0.weight has shape [4, 3] in file, model needs [128, 784]"),
        "{msg}"
    );
    assert!(msg.contains(FILE));
    let e = c.expect_tensor("4.weight", &[10, 64]).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CheckpointError::MissingTensor { .. }));
    assert!(
        msg.contains("tensor 4.weight is missing") && msg.contains("0.weight, 0.bias"),
        "{msg}"
    );
    let e = c.meta("rng").unwrap_err();
    assert!(e.to_string().contains("`rng` is missing"), "{e}");
    let e = c.meta_parse::<u64>(names::CONFIG).unwrap_err();
    assert!(
        matches!(e, CheckpointError::InvalidMetadata { .. }) && e.to_string().contains("`config`"),
        "{e}"
    );
}

#[test]
fn empty_checkpoint_round_trips() {
    let b = checkpoint_bytes(Path::new(FILE), &[], &BTreeMap::new()).unwrap();
    let c = parse(&b).unwrap();
    assert!(c.tensors.is_empty() && c.metadata.is_empty());
    // Zero-element tensors are legal safetensors.
    let z = [
        ("e", &[0usize, 3][..], &[][..]),
        ("x", &[1][..], &[2.0f32][..]),
    ];
    let c = parse(&checkpoint_bytes(Path::new(FILE), &z, &meta()).unwrap()).unwrap();
    assert_eq!(c.tensors[0].shape(), [0, 3]);
    assert_eq!(c.tensors[1].data(), [2.0]);
}

/// A file written by Python's `safetensors.numpy.save_file` (0.8.0, numpy
/// 2.4.6), as PyTorch's `safetensors.torch.save_file` writes them: tensors
/// ordered by the Python writer, `{"format": "pt"}` metadata. Made with:
/// ```python
/// import numpy as np
/// from safetensors.numpy import save_file
/// t = {"0.weight": (np.arange(12, dtype=np.float32) * 0.5 - 2).reshape(3, 4),
///      "0.bias": np.array([1, -1, 0.25], dtype=np.float32),
///      "2.weight": (np.arange(6, dtype=np.float32) / 3).reshape(2, 3),
///      "2.bias": np.array([1e-3, -7], dtype=np.float32)}
/// save_file(t, "python_written.safetensors", metadata={"format": "pt"})
/// ```
#[test]
fn file_written_by_python_safetensors_loads() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_written.safetensors");
    let c = load_checkpoint(&p).unwrap();
    let w0: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
    assert_eq!(c.expect_tensor("0.weight", &[3, 4]).unwrap().data(), w0);
    assert_eq!(
        c.expect_tensor("0.bias", &[3]).unwrap().data(),
        [1.0, -1.0, 0.25]
    );
    let w2: Vec<f32> = (0..6).map(|i| i as f32 / 3.0).collect();
    assert_eq!(c.expect_tensor("2.weight", &[2, 3]).unwrap().data(), w2);
    assert_eq!(
        c.expect_tensor("2.bias", &[2]).unwrap().data(),
        [1e-3, -7.0]
    );
    assert_eq!(c.meta("format").unwrap(), "pt");
}

/// Writes a checkpoint for the Python cross-check in the notes
/// (`DESCENT_PY_OUT=/tmp/x.safetensors cargo test -p descent-train --test
/// checkpoint -- --ignored`); Python must read it with
/// `safetensors.numpy.load_file` and find the same shapes and values.
#[test]
#[ignore = "writes a file for the manual Python cross-check"]
fn write_file_for_python() {
    let Some(out) = std::env::var_os("DESCENT_PY_OUT") else {
        eprintln!("note: set DESCENT_PY_OUT to a path");
        return;
    };
    let w0: Vec<f32> = (0..128 * 784)
        .map(|i| ((i % 1000) as f32 - 500.0) * 1e-3)
        .collect();
    let b0: Vec<f32> = (0..128).map(|i| i as f32 * 0.01).collect();
    let m0: Vec<f32> = w0.iter().map(|v| v * 0.5).collect();
    let t = [
        ("0.weight", &[128usize, 784][..], &w0[..]),
        ("0.bias", &[128][..], &b0[..]),
        ("optim/exp_avg/0.weight", &[128, 784][..], &m0[..]),
    ];
    save_checkpoint(Path::new(&out), &t, &meta()).unwrap();
}

/// `write_atomic_new`: of many writers of one new file exactly one wins,
/// the file holds the winner's whole bytes, and no temporary is left.
#[test]
fn write_atomic_new_lets_one_writer_win() {
    use descent_train::checkpoint::write_atomic_new;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let wins: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u8)
            .map(|i| {
                let path = &path;
                s.spawn(move || write_atomic_new(path, &vec![i; 100_000]).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(wins.iter().filter(|&&w| w).count(), 1, "{wins:?}");
    let winner = wins.iter().position(|&w| w).unwrap() as u8;
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, vec![winner; 100_000]);
    // A later writer is refused and changes nothing.
    assert!(!write_atomic_new(&path, b"late").unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporaries left: {names:?}");
}
