//! MNIST from raw IDX files: find the four files, read and check them, scale
//! and normalize the pixels, and gather mini-batches.
//!
//! Legend: N = examples in a set, D = rows·cols = 784 pixels per image,
//! B = examples in a mini-batch.

pub mod error;
pub mod idx;
pub mod normalize;

use std::path::{Path, PathBuf};

use descent_core::par::split_mut;
use descent_core::AlignedVec;
use descent_core::Compute;

pub use error::{DataError, IdxKind, FETCH_COMMAND};
pub use idx::{parse_idx, read_idx, IdxFile};
pub use normalize::{Normalize, ParseNormalizeError};

/// Where MNIST is looked for when neither `--data` nor `DESCENT_DATA` is given.
pub const DEFAULT_DATA_DIR: &str = "data/mnist";

/// The environment variable that overrides [`DEFAULT_DATA_DIR`].
pub const DATA_ENV: &str = "DESCENT_DATA";

/// The data directory to use: the `--data` flag if given, else `$DESCENT_DATA`
/// if set and non-empty, else [`DEFAULT_DATA_DIR`].
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os(DATA_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// One set of examples (training or test), pixels already normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Pixels, (N, D) row-major: image `i` is `images[i·D .. (i+1)·D]`.
    /// Line-aligned: the whole set is the GEMMs' operand in full-batch GD.
    pub images: AlignedVec,
    /// Class of each image, each in 0..=9, (N).
    pub labels: Vec<u32>,
    /// N, the number of examples.
    pub n: usize,
    /// Image height in pixels (28 for MNIST).
    pub rows: usize,
    /// Image width in pixels (28 for MNIST).
    pub cols: usize,
}

impl Dataset {
    /// Builds a set from a decoded images file (`[N, rows, cols]`) and labels
    /// file (`[N]`), normalizing each pixel `p` to `(p/255 − mean)/std`.
    /// The paths name the files in errors.
    pub fn from_idx(
        images_path: &Path,
        images: &IdxFile,
        labels_path: &Path,
        labels: &IdxFile,
        normalize: Normalize,
    ) -> Result<Self, DataError> {
        let (n, rows, cols) = match images.dims[..] {
            [n, rows, cols] => (n, rows, cols),
            _ => {
                return Err(DataError::WrongDims {
                    path: images_path.to_path_buf(),
                    found: images.dims.len().min(255) as u8,
                    kind: IdxKind::Images,
                })
            }
        };
        let n_labels = match labels.dims[..] {
            [n] => n,
            _ => {
                return Err(DataError::WrongDims {
                    path: labels_path.to_path_buf(),
                    found: labels.dims.len().min(255) as u8,
                    kind: IdxKind::Labels,
                })
            }
        };
        // `IdxFile` has public fields, so a hand-built one may disagree with
        // its own dims; the readers never produce such a file.
        for (path, f) in [(images_path, images), (labels_path, labels)] {
            let expected = f.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if expected != Some(f.data.len()) {
                return Err(DataError::SizeMismatch {
                    path: path.to_path_buf(),
                    dims: format!("{:?}", f.dims),
                    expected: expected.map_or(u64::MAX, |e| e as u64),
                    actual: f.data.len() as u64,
                    exact: true,
                });
            }
        }
        if n != n_labels {
            return Err(DataError::CountMismatch {
                images: images_path.to_path_buf(),
                labels: labels_path.to_path_buf(),
                n_images: n,
                n_labels,
            });
        }
        idx::check_labels(labels_path, &labels.data)?;
        let table = normalize.table();
        let pixels: AlignedVec = images.data.iter().map(|&p| table[p as usize]).collect();
        Ok(Dataset {
            images: pixels,
            labels: labels.data.iter().map(|&l| u32::from(l)).collect(),
            n,
            rows,
            cols,
        })
    }

    /// Reads, checks and normalizes one images file and its labels file.
    pub fn load(
        images_path: &Path,
        labels_path: &Path,
        normalize: Normalize,
    ) -> Result<Self, DataError> {
        let images = read_idx(images_path, IdxKind::Images)?;
        let labels = read_idx(labels_path, IdxKind::Labels)?;
        Self::from_idx(images_path, &images, labels_path, &labels, normalize)
    }

    /// D = rows·cols, the pixels per image (the model's input width).
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// N, the number of examples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the set holds no example (never the case for a loaded set).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The D pixels of image `i`.
    ///
    /// # Panics
    /// If `i ≥ N`.
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.images[i * d..(i + 1) * d]
    }

    /// Gathers the examples `idx` into a mini-batch without allocating:
    /// `x[b·D .. (b+1)·D] = image(idx[b])` and `y[b] = labels[idx[b]]` for
    /// b in 0..B, where B = `idx.len()`.
    ///
    /// # Panics
    /// If `x.len() != B·D`, `y.len() != B`, or an index is ≥ N. The indices
    /// come from the trainer's own permutation, never from input files, so a
    /// violation is a bug in the caller.
    /// The images are copied on `cx`'s threads, each a slice of the batch
    /// (the labels by the caller's).
    pub fn gather(&self, cx: &Compute, idx: &[usize], x: &mut [f32], y: &mut [u32]) {
        let d = self.dim();
        assert_eq!(x.len(), idx.len() * d, "gather: x must hold B·D floats");
        assert_eq!(y.len(), idx.len(), "gather: y must hold B labels");
        for (yr, &i) in y.iter_mut().zip(idx) {
            *yr = self.labels[i];
        }
        // Parts of at least 8 rows (25 KB of MNIST): a smaller copy is not
        // worth a hand-off.
        split_mut(cx.pool(), idx.len(), 8, [(x, d)], &|r, [x]| {
            for (&i, xr) in idx[r].iter().zip(x.chunks_exact_mut(d)) {
                xr.copy_from_slice(self.image(i));
            }
        });
    }

    /// The first `n − held_out` examples and the last `held_out`, as two
    /// sets (copies): a training set and a validation split held out from
    /// it, so that tuning never reads the test set. `held_out` is clamped
    /// to `0..=n`.
    pub fn split(&self, held_out: usize) -> (Dataset, Dataset) {
        let d = self.dim();
        let k = self.n - held_out.min(self.n);
        let part = |r: std::ops::Range<usize>| Dataset {
            images: self.images[r.start * d..r.end * d]
                .iter()
                .copied()
                .collect(),
            labels: self.labels[r.clone()].to_vec(),
            n: r.len(),
            rows: self.rows,
            cols: self.cols,
        };
        (part(0..k), part(k..self.n))
    }

    /// The per-class counts of the labels, `counts[c] = #{i : labels[i] = c}`.
    pub fn class_counts(&self) -> [usize; 10] {
        let mut c = [0usize; 10];
        for &l in &self.labels {
            // Loaded labels are checked to be ≤ 9.
            c[l as usize] += 1;
        }
        c
    }
}

/// The four MNIST files found in a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistFiles {
    /// `train-images-idx3-ubyte` (or `.idx3-ubyte`, or `.gz`).
    pub train_images: PathBuf,
    /// `train-labels-idx1-ubyte`.
    pub train_labels: PathBuf,
    /// `t10k-images-idx3-ubyte`.
    pub test_images: PathBuf,
    /// `t10k-labels-idx1-ubyte`.
    pub test_labels: PathBuf,
}

/// The names one file may have, in order of preference: the canonical name
/// (`-idx3-ubyte`), the dotted one some mirrors use (`.idx3-ubyte`), then the
/// same two compressed.
fn candidates(stem: &str, idx: &str) -> [String; 4] {
    [
        format!("{stem}-{idx}-ubyte"),
        format!("{stem}.{idx}-ubyte"),
        format!("{stem}-{idx}-ubyte.gz"),
        format!("{stem}.{idx}-ubyte.gz"),
    ]
}

/// Finds the four MNIST files in `dir` under either naming, raw or `.gz`
/// (raw preferred when both are present).
pub fn find_mnist(dir: &Path) -> Result<MnistFiles, DataError> {
    if !dir.exists() {
        return Err(DataError::MissingDir {
            dir: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(DataError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    let find = |stem: &str, idx: &str, what: &'static str| {
        let names = candidates(stem, idx);
        names
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| DataError::MissingFile {
                dir: dir.to_path_buf(),
                what,
                tried: names.join(", "),
            })
    };
    Ok(MnistFiles {
        train_images: find("train-images", "idx3", "training images")?,
        train_labels: find("train-labels", "idx1", "training labels")?,
        test_images: find("t10k-images", "idx3", "test images")?,
        test_labels: find("t10k-labels", "idx1", "test labels")?,
    })
}

/// MNIST: the training and test sets, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The training set (60 000 examples in real MNIST).
    pub train: Dataset,
    /// The test set (10 000 examples in real MNIST).
    pub test: Dataset,
    /// The files read.
    pub files: MnistFiles,
}

impl Mnist {
    /// Finds, reads, checks and normalizes the four files in `dir`; the two
    /// sets must have images of the same size.
    pub fn load(dir: &Path, normalize: Normalize) -> Result<Self, DataError> {
        let files = find_mnist(dir)?;
        let train = Dataset::load(&files.train_images, &files.train_labels, normalize)?;
        let test = Dataset::load(&files.test_images, &files.test_labels, normalize)?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(DataError::ImageSizeMismatch {
                train: files.train_images.clone(),
                test: files.test_images.clone(),
                train_rows: train.rows,
                train_cols: train.cols,
                test_rows: test.rows,
                test_cols: test.cols,
            });
        }
        Ok(Mnist { train, test, files })
    }
}
