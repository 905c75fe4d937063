//! Writes the seed corpora in `fuzz/corpus/<target>/` (committed; rerun only to
//! change them): small truncations of the real MNIST files, small valid files,
//! and every malformed case of `train/tests/idx.rs` and `train/tests/checkpoint.rs`.
//!
//! ```text
//! cd fuzz && cargo run --example make_seeds -- [MNIST_DIR]   # default ../../shared/mnist
//! ```
//!
//! The real files are 47 MB; a seed keeps the first images (or labels) of
//! each with the header's count patched to match, so it is a valid IDX file of
//! about 1.6 KB holding real pixels.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use descent_train::checkpoint::{checkpoint_bytes, names};
use flate2::write::GzEncoder;
use flate2::Compression;

fn idx_header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

/// As `cli/tests/common`: pixel (i, k) = (7i + 3k) mod 256.
fn images_bytes(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = idx_header(0x08, &[n, rows, cols]);
    for i in 0..n as usize {
        for k in 0..(rows * cols) as usize {
            v.push(((7 * i + 3 * k) % 256) as u8);
        }
    }
    v
}

fn labels_bytes(n: u32) -> Vec<u8> {
    let mut v = idx_header(0x08, &[n]);
    v.extend((0..n).map(|i| (i % 10) as u8));
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The first `n` items of a real IDX file, its count patched to `n`.
fn real_prefix(path: &Path, n: u32) -> Option<Vec<u8>> {
    let b = std::fs::read(path).ok()?;
    let ndims = usize::from(b[3]);
    let header = 4 + 4 * ndims;
    let item: usize = (1..ndims)
        .map(|i| u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .product();
    let mut v = b[..header + n as usize * item].to_vec();
    v[4..8].copy_from_slice(&n.to_be_bytes());
    Some(v)
}

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

struct Corpus(PathBuf);

impl Corpus {
    fn new(root: &Path, target: &str) -> Self {
        let d = root.join(target);
        std::fs::create_dir_all(&d).unwrap();
        Corpus(d)
    }
    fn put(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).unwrap();
    }
}

fn idx_seeds(mnist: &Path, raw: &Corpus, gz: &Corpus) {
    let mut valid: Vec<(String, Vec<u8>)> = vec![
        ("valid-images-2x2x2".into(), images_bytes(2, 2, 2)),
        ("valid-images-3x4x5".into(), images_bytes(3, 4, 5)),
        ("valid-labels-7".into(), labels_bytes(7)),
        ("valid-labels-0".into(), labels_bytes(0)),
    ];
    let real = [
        ("train-images.idx3-ubyte", 2),
        ("t10k-images.idx3-ubyte", 2),
        ("train-labels.idx1-ubyte", 100),
        ("t10k-labels.idx1-ubyte", 100),
    ];
    for (file, n) in real {
        match real_prefix(&mnist.join(file), n) {
            Some(b) => valid.push((format!("real-{file}-first{n}"), b)),
            None => eprintln!(
                "note: {} not found; no real seed from it",
                mnist.join(file).display()
            ),
        }
    }
    for (name, b) in &valid {
        raw.put(name, b);
        gz.put(name, b);
        gz.put(&format!("{name}.gz"), &gzip(b));
    }

    // The malformed cases of train/tests/idx.rs.
    let mut bad: Vec<(String, Vec<u8>)> = Vec::new();
    let mut b = images_bytes(2, 2, 2);
    b[0] = 0x12;
    bad.push(("bad-magic".into(), b));
    let mut b = labels_bytes(3);
    b[2] = 0x07;
    bad.push(("unknown-type-07".into(), b.clone()));
    b[2] = 0x0d;
    bad.push(("unsupported-type-f32".into(), b));
    bad.push(("labels-as-images".into(), labels_bytes(4)));
    let full = images_bytes(2, 2, 2);
    for cut in [0, 3, 4, 9, 15] {
        bad.push((format!("truncated-header-{cut}"), full[..cut].to_vec()));
    }
    let b = images_bytes(3, 2, 2);
    bad.push(("size-short-by-1".into(), b[..b.len() - 1].to_vec()));
    bad.push(("size-short-by-2".into(), b[..b.len() - 2].to_vec()));
    let mut long = b.clone();
    long.extend_from_slice(&[1, 2, 3]);
    bad.push(("size-trailing-3".into(), long));
    let mut b = idx_header(0x08, &[1 << 31, 28, 28]);
    b.resize(1024, 0);
    bad.push(("absurd-2pow31-images".into(), b));
    let mut b = idx_header(0x08, &[u32::MAX, u32::MAX, u32::MAX]);
    b.resize(64, 0);
    bad.push(("dims-overflow-u64".into(), b));
    bad.push(("no-images".into(), images_bytes(0, 2, 2)));
    bad.push(("empty-image-0x28".into(), idx_header(0x08, &[1, 0, 28])));
    let mut l = labels_bytes(5);
    l[8 + 3] = 10;
    bad.push(("label-out-of-range".into(), l));
    for (name, b) in &bad {
        raw.put(name, b);
        gz.put(name, b);
        gz.put(&format!("{name}.gz"), &gzip(b));
    }
    raw.put("gzip-under-raw-name", &gzip(&images_bytes(2, 2, 2)));

    // Corrupt gzip streams (the gzip-only cases of train/tests/idx.rs).
    let good = gzip(&images_bytes(4, 3, 3));
    let mut crc = good.clone();
    let k = crc.len() - 6;
    crc[k] ^= 0xff;
    gz.put("gz-bad-crc", &crc);
    gz.put("gz-truncated-stream", &good[..good.len() - 10]);
    let mut damaged = good.clone();
    for b in &mut damaged[10..14] {
        *b = 0xff;
    }
    gz.put("gz-damaged-deflate", &damaged);
    let mut isize = good.clone();
    let k = isize.len() - 1;
    isize[k] ^= 0x01;
    gz.put("gz-bad-isize", &isize);
    let mut two = good.clone();
    two.extend_from_slice(&good);
    gz.put("gz-two-members", &two);
    let mut trailing = good;
    trailing.extend_from_slice(b"junk");
    gz.put("gz-trailing-junk", &trailing);
}

fn checkpoint_seeds(fixture: &Path, c: &Corpus) {
    // Valid files: descent's writer, the safetensors crate, Python.
    let mut meta = BTreeMap::new();
    meta.insert(names::FORMAT.to_string(), names::FORMAT_VERSION.to_string());
    meta.insert(names::EPOCH.to_string(), "3".to_string());
    meta.insert(names::STEP.to_string(), "1407".to_string());
    meta.insert(
        names::CONFIG.to_string(),
        r#"{"optimizer":"adam","lr":0.001,"hidden":[4],"batch":64,"seed":1}"#.to_string(),
    );
    meta.insert(
        names::RNG.to_string(),
        r#"{"seed":1,"word_pos":"4096"}"#.to_string(),
    );
    let w0: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let b0 = [0.5, -0.5, 1e-30, -0.0];
    let w1 = [f32::MIN_POSITIVE; 8];
    let b1 = [f32::MAX, f32::MIN];
    let t: Vec<(String, Vec<usize>, Vec<f32>)> = vec![
        (descent_nn::sequential_name(0, "weight"), vec![4, 3], w0.clone()),
        (descent_nn::sequential_name(0, "bias"), vec![4], b0.to_vec()),
        (descent_nn::sequential_name(1, "weight"), vec![2, 4], w1.to_vec()),
        (descent_nn::sequential_name(1, "bias"), vec![2], b1.to_vec()),
        (names::optim("exp_avg", "0.weight"), vec![4, 3], w0),
    ];
    let refs: Vec<(&str, &[usize], &[f32])> = t
        .iter()
        .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))
        .collect();
    let p = Path::new("seed");
    c.put(
        "valid-descent-sample",
        &checkpoint_bytes(p, &refs, &meta).unwrap(),
    );
    c.put(
        "valid-empty",
        &checkpoint_bytes(p, &[], &BTreeMap::new()).unwrap(),
    );
    let z = [
        ("e", &[0usize, 3][..], &[][..]),
        ("x", &[1][..], &[2.0f32][..]),
    ];
    c.put(
        "valid-zero-element",
        &checkpoint_bytes(p, &z, &meta).unwrap(),
    );
    let data = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let v =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &data).unwrap();
    c.put(
        "valid-safetensors-crate",
        &safetensors::serialize([("0.weight", v)], None).unwrap(),
    );
    match std::fs::read(fixture) {
        Ok(b) => c.put("valid-python-written", &b),
        Err(e) => eprintln!("note: {}: {e}; no Python seed", fixture.display()),
    }

    // The malformed cases of train/tests/checkpoint.rs.
    c.put("too-short", &[1, 2, 3]);
    for n in [u64::MAX, 1 << 40, 100_000_001] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        c.put(&format!("header-too-large-{n}"), &b);
    }
    let mut b = 1000u64.to_le_bytes().to_vec();
    b.extend_from_slice(&[b' '; 100]);
    c.put("header-past-end", &b);
    let mut b = craft("{\"a\": 1}", &[]);
    b[10] = 0xff;
    c.put("header-not-utf8", &b);
    for (i, h) in ["{", "not json", "[1, 2]", "{\"a\": 1} x"]
        .iter()
        .enumerate()
    {
        c.put(&format!("header-not-json-{i}"), &craft(h, &[]));
    }
    c.put(
        "entry-no-dtype",
        &craft(
            r#"{"0.weight": {"shape": [1], "data_offsets": [0, 4]}}"#,
            &[0; 4],
        ),
    );
    c.put(
        "entry-negative-dim",
        &craft(
            r#"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
            &[0; 4],
        ),
    );
    c.put(
        "metadata-not-strings",
        &craft(r#"{"__metadata__": {"epoch": 3}}"#, &[]),
    );
    let dup = r#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#;
    c.put("duplicate-tensor", &craft(dup, &[0; 4]));
    for dt in ["F16", "F64", "I64", "NOPE"] {
        let h = format!(r#"{{"w": {{"dtype": "{dt}", "shape": [2], "data_offsets": [0, 8]}}}}"#);
        c.put(&format!("dtype-{dt}"), &craft(&h, &[0; 8]));
    }
    c.put(
        "shape-vs-bytes",
        &craft(
            r#"{"0.bias": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#,
            &[0; 8],
        ),
    );
    c.put(
        "shape-overflow",
        &craft(
            r#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}}"#,
            &[0; 8],
        ),
    );
    c.put(
        "offsets-reversed",
        &craft(
            r#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}"#,
            &[0; 8],
        ),
    );
    let t = |name: &str, s: u64, e: u64| {
        format!(
            r#""{name}": {{"dtype": "F32", "shape": [{}], "data_offsets": [{s}, {e}]}}"#,
            (e - s) / 4
        )
    };
    c.put(
        "gap-between",
        &craft(
            &format!("{{{}, {}}}", t("a", 0, 4), t("b", 8, 12)),
            &[0; 12],
        ),
    );
    c.put(
        "gap-before-first",
        &craft(&format!("{{{}}}", t("a", 4, 8)), &[0; 8]),
    );
    c.put(
        "overlap",
        &craft(
            &format!("{{{}, {}}}", t("b", 4, 12), t("a", 0, 8)),
            &[0; 12],
        ),
    );
    c.put(
        "trailing-bytes",
        &craft(&format!("{{{}}}", t("a", 0, 4)), &[0; 7]),
    );
    c.put(
        "tensor-past-end",
        &craft(&format!("{{{}}}", t("a", 0, 16)), &[0; 8]),
    );
    let h = r#"{"0.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}"#;
    for (name, bad) in [
        ("nan", f32::NAN),
        ("inf", f32::INFINITY),
        ("neg-inf", f32::NEG_INFINITY),
    ] {
        c.put(
            &format!("nonfinite-{name}"),
            &craft(h, &f32_bytes(&[1.0, 2.0, bad, bad])),
        );
    }
}

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mnist = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../../shared/mnist"));
    let root = here.join("corpus");
    idx_seeds(
        &mnist,
        &Corpus::new(&root, "idx_raw"),
        &Corpus::new(&root, "idx_gzip"),
    );
    let fixture = here.join("../train/tests/fixtures/python_written.safetensors");
    checkpoint_seeds(&fixture, &Corpus::new(&root, "checkpoint"));
    // Structured target: a few byte strings for `arbitrary` to start from.
    let rt = Corpus::new(&root, "checkpoint_roundtrip");
    for (i, len) in [16usize, 64, 256, 1024].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..len).map(|k| ((k * 37 + i * 11) % 251) as u8).collect();
        rt.put(&format!("pattern-{len}"), &bytes);
    }
    println!("seeds written under {}", root.display());
}
