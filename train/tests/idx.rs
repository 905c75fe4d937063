//! The IDX reader and MNIST loader on small synthetic files: every valid form
//! loads with the right values, every malformed one is the right typed error
//! whose message names the file and the problem.

mod common;

use descent_core::Compute;
use std::path::Path;
use std::time::Instant;

use common::*;
use descent_train::data::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Reads `bytes` written under `name` as `kind` and returns the error.
fn err_of(name: &str, bytes: &[u8], kind: IdxKind) -> (DataError, String) {
    let d = tmp();
    let p = write(d.path(), name, bytes);
    let e = read_idx(&p, kind).expect_err("malformed file must be rejected");
    let msg = e.to_string();
    assert!(msg.contains(name), "message must name the file: {msg}");
    assert_eq!(e.path(), p.as_path());
    // The in-memory parser must agree with the file reader.
    let e2 = parse_idx(&p, bytes, kind).unwrap_err();
    assert_eq!(e2.to_string(), msg);
    (e, msg)
}

#[test]
fn valid_sets_load_under_every_naming_and_compression() {
    for gz in [false, true] {
        let d = tmp();
        write_set(d.path(), 7, 3, 4, 5, gz);
        let m = Mnist::load(d.path(), Normalize::None).unwrap();
        assert_eq!((m.train.n, m.train.rows, m.train.cols), (7, 4, 5));
        assert_eq!((m.test.n, m.test.dim()), (3, 20));
        assert_eq!(m.train.images().len(), 7 * 20);
        assert_eq!(m.train.labels, vec![0, 1, 2, 3, 4, 5, 6]);
        for i in 0..7 {
            for k in 0..20 {
                let p = ((7 * i + 3 * k) % 256) as f32 / 255.0;
                assert_eq!(m.train.image(i)[k], p);
            }
        }
        assert_eq!(
            m.files.train_images.extension().is_some_and(|e| e == "gz"),
            gz
        );
    }
    // Dotted names (as in some mirrors and the PyPI package).
    let d = tmp();
    write(d.path(), "train-images.idx3-ubyte", &images_bytes(2, 3, 3));
    write(d.path(), "train-labels.idx1-ubyte", &labels_bytes(2));
    write(
        d.path(),
        "t10k-images.idx3-ubyte.gz",
        &gzip(&images_bytes(1, 3, 3)),
    );
    write(d.path(), "t10k-labels.idx1-ubyte", &labels_bytes(1));
    let m = Mnist::load(d.path(), Normalize::Half).unwrap();
    assert_eq!((m.train.n, m.test.n), (2, 1));
    assert_eq!(m.train.images()[0], -1.0); // pixel 0 → (0 − 0.5)/0.5
}

#[test]
fn raw_is_preferred_over_gz_when_both_exist() {
    let d = tmp();
    write_set(d.path(), 2, 2, 2, 2, false);
    write_set(d.path(), 2, 2, 2, 2, true);
    let f = find_mnist(d.path()).unwrap();
    assert!(f.train_images.ends_with("train-images-idx3-ubyte"));
}

#[test]
fn normalization_is_applied_per_pixel() {
    let d = tmp();
    write_set(d.path(), 3, 1, 2, 2, false);
    let raw = Mnist::load(d.path(), Normalize::None).unwrap();
    for n in Normalize::ALL {
        let m = Mnist::load(d.path(), n).unwrap();
        let (mean, std) = n.mean_std();
        for (a, b) in m.train.images().iter().zip(raw.train.images()) {
            assert!((a - (b - mean) / std).abs() < 1e-6);
        }
    }
}

#[test]
fn gather_copies_the_indexed_rows() {
    let d = tmp();
    write_set(d.path(), 12, 1, 3, 2, false);
    let m = Mnist::load(d.path(), Normalize::Standard).unwrap();
    let idx = [11usize, 0, 5, 5];
    let mut x = vec![f32::NAN; idx.len() * 6];
    let mut y = vec![99u32; idx.len()];
    m.train.gather(&Compute::threads(2), &idx, &mut x, &mut y);
    for (b, &i) in idx.iter().enumerate() {
        assert_eq!(&x[b * 6..(b + 1) * 6], m.train.image(i));
        assert_eq!(y[b], m.train.labels[i]);
    }
    assert_eq!(y, vec![1, 0, 5, 5]);
}

#[test]
#[should_panic(expected = "gather: x must hold")]
fn gather_rejects_a_wrong_buffer() {
    let d = tmp();
    write_set(d.path(), 2, 1, 2, 2, false);
    let m = Mnist::load(d.path(), Normalize::None).unwrap();
    m.train
        .gather(&Compute::serial(), &[0, 1], &mut [0.0; 7], &mut [0; 2]);
}

#[test]
fn missing_directory_prints_the_fetch_command() {
    let d = tmp();
    let missing = d.path().join("nope");
    let e = Mnist::load(&missing, Normalize::None).unwrap_err();
    assert!(matches!(e, DataError::MissingDir { .. }));
    let msg = e.to_string();
    assert!(msg.contains("scripts/fetch-mnist.sh"), "{msg}");
    assert!(msg.contains("nope"), "{msg}");
    // A file instead of a directory.
    let f = write(d.path(), "afile", b"x");
    let e = Mnist::load(&f, Normalize::None).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

#[test]
fn missing_file_lists_the_names_tried() {
    let d = tmp();
    write_set(d.path(), 2, 2, 2, 2, false);
    std::fs::remove_file(d.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let e = Mnist::load(d.path(), Normalize::None).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            DataError::MissingFile {
                what: "test labels",
                ..
            }
        ),
        "{msg}"
    );
    for n in ["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte.gz"] {
        assert!(msg.contains(n), "{msg}");
    }
    assert!(msg.contains("scripts/fetch-mnist.sh"), "{msg}");
}

#[test]
fn wrong_magic() {
    let mut b = images_bytes(2, 2, 2);
    b[0] = 0x12;
    let (e, msg) = err_of("train-images-idx3-ubyte", &b, IdxKind::Images);
    assert!(
        matches!(
            e,
            DataError::BadMagic {
                found: 0x1200_0803,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("not an IDX file") && msg.contains("0x12000803"),
        "{msg}"
    );
}

#[test]
fn unknown_and_unsupported_type_codes() {
    let mut b = labels_bytes(3);
    b[2] = 0x07;
    let (e, msg) = err_of("l-idx1-ubyte", &b, IdxKind::Labels);
    assert!(matches!(e, DataError::UnknownType { code: 7, .. }), "{msg}");
    assert!(msg.contains("unknown IDX type code 0x07"), "{msg}");
    b[2] = 0x0d;
    let (e, msg) = err_of("l-idx1-ubyte", &b, IdxKind::Labels);
    assert!(
        matches!(e, DataError::UnsupportedType { name: "f32", .. }),
        "{msg}"
    );
    assert!(msg.contains("not supported"), "{msg}");
}

#[test]
fn wrong_number_of_dimensions() {
    // A labels file given where images are expected.
    let (e, msg) = err_of("train-images-idx3-ubyte", &labels_bytes(4), IdxKind::Images);
    assert!(matches!(e, DataError::WrongDims { found: 1, .. }), "{msg}");
    assert!(msg.contains("1 dimension(s), expected 3"), "{msg}");
    assert!(msg.contains("looks like a labels file"), "{msg}");
    let (_, msg) = err_of("lab", &images_bytes(1, 2, 2), IdxKind::Labels);
    assert!(msg.contains("looks like an images file"), "{msg}");
}

#[test]
fn truncated_header() {
    let b = images_bytes(2, 2, 2);
    for cut in [0, 3, 4, 9, 15] {
        let (e, msg) = err_of("img", &b[..cut], IdxKind::Images);
        assert!(
            matches!(e, DataError::TruncatedHeader { needed: 16, .. }),
            "{cut}: {msg}"
        );
        assert!(msg.contains("ends inside the IDX header"), "{msg}");
    }
}

#[test]
fn size_disagrees_with_file_length() {
    let b = images_bytes(3, 2, 2);
    let (e, msg) = err_of("img", &b[..b.len() - 1], IdxKind::Images);
    assert!(
        matches!(
            e,
            DataError::SizeMismatch {
                expected: 12,
                actual: 11,
                exact: true,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("3 × 2 × 2 = 12") && msg.contains("truncated"),
        "{msg}"
    );
    let mut long = b.clone();
    long.extend_from_slice(&[1, 2, 3]);
    let (e, msg) = err_of("img", &long, IdxKind::Images);
    assert!(
        matches!(e, DataError::SizeMismatch { actual: 15, .. }),
        "{msg}"
    );
    assert!(msg.contains("trailing data"), "{msg}");
    // The same through gzip: short is exact, long is a lower bound.
    let (e, msg) = err_of("img.gz", &gzip(&b[..b.len() - 2]), IdxKind::Images);
    assert!(
        matches!(
            e,
            DataError::SizeMismatch {
                actual: 10,
                exact: true,
                ..
            }
        ),
        "{msg}"
    );
    let (e, msg) = err_of("img.gz", &gzip(&long), IdxKind::Images);
    assert!(
        matches!(
            e,
            DataError::SizeMismatch {
                actual: 13,
                exact: false,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("at least 13"), "{msg}");
}

#[test]
fn absurd_header_fails_fast_without_allocating() {
    // 2³¹ images of 28×28 claimed by a 1 KB file.
    let mut b = idx_header(0x08, &[1 << 31, 28, 28]);
    b.resize(1024, 0);
    let t = Instant::now();
    let (e, msg) = err_of("img", &b, IdxKind::Images);
    assert!(matches!(e, DataError::SizeMismatch { .. }), "{msg}");
    let (e, msg) = err_of("img.gz", &gzip(&b), IdxKind::Images);
    assert!(matches!(e, DataError::ImpossibleGzipSize { .. }), "{msg}");
    assert!(msg.contains("cannot decompress"), "{msg}");
    // All three dims at u32::MAX overflow u64.
    let mut b = idx_header(0x08, &[u32::MAX, u32::MAX, u32::MAX]);
    b.resize(64, 0);
    let (e, _) = err_of("img", &b, IdxKind::Images);
    assert!(matches!(e, DataError::SizeMismatch { .. }));
    // Generous bound: these reads must not touch gigabytes.
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn image_and_label_counts_must_match() {
    let d = tmp();
    write_set(d.path(), 5, 2, 2, 2, false);
    write(d.path(), "train-labels-idx1-ubyte", &labels_bytes(4));
    let e = Mnist::load(d.path(), Normalize::None).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                n_images: 5,
                n_labels: 4,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("train-images-idx3-ubyte") && msg.contains("train-labels-idx1-ubyte"));
}

#[test]
fn label_out_of_range() {
    let d = tmp();
    write_set(d.path(), 5, 2, 2, 2, false);
    let mut l = labels_bytes(5);
    l[8 + 3] = 10;
    write(d.path(), "train-labels-idx1-ubyte", &l);
    let e = Mnist::load(d.path(), Normalize::None).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 3,
                label: 10,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("train-labels-idx1-ubyte") && msg.contains("label 10 at index 3"));
}

#[test]
fn corrupt_gzip_streams() {
    let good = gzip(&images_bytes(4, 3, 3));
    // Flip a byte of the CRC-32 trailer: the data inflates but fails the check.
    let mut crc = good.clone();
    let k = crc.len() - 6;
    crc[k] ^= 0xff;
    let (e, msg) = err_of("img.gz", &crc, IdxKind::Images);
    assert!(matches!(e, DataError::CorruptGzip { .. }), "{msg}");
    assert!(msg.contains("corrupt gzip"), "{msg}");
    // Truncated stream.
    let (e, msg) = err_of("img.gz", &good[..good.len() - 10], IdxKind::Images);
    assert!(matches!(e, DataError::CorruptGzip { .. }), "{msg}");
    // Damaged deflate data.
    let mut bad = good.clone();
    for b in &mut bad[10..14] {
        *b = 0xff;
    }
    let (e, msg) = err_of("img.gz", &bad, IdxKind::Images);
    assert!(
        matches!(
            e,
            DataError::CorruptGzip { .. }
                | DataError::SizeMismatch { .. }
                | DataError::BadMagic { .. }
        ),
        "{msg}"
    );
    // A `.gz` name on raw data.
    let (e, msg) = err_of("img.gz", &images_bytes(1, 2, 2), IdxKind::Images);
    assert!(matches!(e, DataError::CorruptGzip { .. }), "{msg}");
    assert!(msg.contains("does not start with bytes 1f 8b"), "{msg}");
}

#[test]
fn compressed_file_without_gz_name() {
    let (e, msg) = err_of(
        "train-images-idx3-ubyte",
        &gzip(&images_bytes(2, 2, 2)),
        IdxKind::Images,
    );
    assert!(matches!(e, DataError::CompressedNotGz { .. }), "{msg}");
    assert!(
        msg.contains("gzip-compressed") && msg.contains(".gz"),
        "{msg}"
    );
}

#[test]
fn empty_sets_and_images_are_rejected() {
    let (e, _) = err_of("img", &images_bytes(0, 2, 2), IdxKind::Images);
    assert!(matches!(e, DataError::NoImages { .. }));
    let (e, msg) = err_of("img", &idx_header(0x08, &[1, 0, 28]), IdxKind::Images);
    assert!(
        matches!(
            e,
            DataError::EmptyImage {
                rows: 0,
                cols: 28,
                ..
            }
        ),
        "{msg}"
    );
}

#[test]
fn train_and_test_image_sizes_must_match() {
    let d = tmp();
    write_set(d.path(), 2, 2, 2, 2, false);
    write(d.path(), "t10k-images-idx3-ubyte", &images_bytes(2, 3, 3));
    let e = Mnist::load(d.path(), Normalize::None).unwrap_err();
    assert!(matches!(e, DataError::ImageSizeMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains("2×2") && e.to_string().contains("3×3"),
        "{e}"
    );
}

#[test]
fn unreadable_path_is_an_io_error_naming_it() {
    let d = tmp();
    // A directory where the file should be.
    std::fs::create_dir(d.path().join("img")).unwrap();
    let e = read_idx(&d.path().join("img"), IdxKind::Images).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    assert!(e.to_string().contains("img"));
    let e = read_idx(Path::new("/nonexistent/x-idx3-ubyte"), IdxKind::Images).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x-idx3-ubyte"), "{e}");
}

#[test]
fn hand_built_idx_inconsistent_with_its_dims_is_rejected() {
    let p = Path::new("hand");
    let images = IdxFile {
        dims: vec![2, 2, 2],
        data: vec![0; 7],
    };
    let labels = IdxFile {
        dims: vec![2],
        data: vec![0; 2],
    };
    let e = Dataset::from_idx(p, &images, p, &labels, Normalize::None).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::SizeMismatch {
                expected: 8,
                actual: 7,
                ..
            }
        ),
        "{e}"
    );
}

/// A set keeps its pixels as bytes: a batch gathered from them is the bits
/// of the same rows of the float images, before and after the images are
/// made, on one thread and on three; the images are made only when asked
/// for; a split keeps bytes; an edit of the images reaches the batches.
#[test]
fn batches_come_from_the_bytes_with_the_images_bits() {
    let d = tmp();
    write_set(d.path(), 50, 10, 28, 28, false);
    let m = Mnist::load(d.path(), Normalize::Standard).unwrap();
    let t = &m.train;
    assert_eq!(t.resident_bytes(), 50 * 784, "only the bytes until asked");
    let idx = [7usize, 0, 49, 7, 13, 21, 2, 8, 9, 40, 33];
    let gather = |set: &Dataset, threads: usize| {
        let (mut x, mut y) = (vec![0.0f32; idx.len() * 784], vec![0u32; idx.len()]);
        set.gather(&Compute::threads(threads), &idx, &mut x, &mut y);
        (x, y)
    };
    let (from_bytes, labels) = gather(t, 1);
    assert_eq!(gather(t, 3).0, from_bytes);
    assert_eq!(t.resident_bytes(), 50 * 784, "a gather makes no images");
    for (b, &i) in idx.iter().enumerate() {
        let row: Vec<u32> = t.image(i).iter().map(|v| v.to_bits()).collect();
        let got: Vec<u32> = from_bytes[b * 784..(b + 1) * 784]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(got, row, "row {i}");
        assert_eq!(labels[b], t.labels[i]);
    }
    assert_eq!(
        t.resident_bytes(),
        5 * 50 * 784,
        "the images, once asked for"
    );
    assert_eq!(gather(t, 1).0, from_bytes);
    // A split's parts gather the same rows from their own bytes.
    let fresh = Mnist::load(d.path(), Normalize::Standard).unwrap().train;
    let (a, b) = fresh.split(20);
    assert_eq!(
        (a.resident_bytes(), b.resident_bytes()),
        (30 * 784, 20 * 784)
    );
    assert_eq!(a.image(3), t.image(3));
    assert_eq!(b.image(0), t.image(30));
    assert_eq!(fresh, *t, "equal whether or not the images were made");
    // An edit of the images is what the next batch sees.
    let mut edited = fresh.clone();
    edited.images_mut()[7 * 784] = f32::NAN;
    assert!(gather(&edited, 1).0[0].is_nan());
    assert_ne!(edited, fresh);
}
