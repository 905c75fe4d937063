//! MNIST from raw IDX files: find the four files, read and check them, scale
//! and normalize the pixels, and gather mini-batches.
//!
//! Legend: N = examples in a set, D = rows·cols = 784 pixels per image,
//! B = examples in a mini-batch.

pub mod error;
pub mod idx;
pub mod normalize;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// One set of examples (training or test).
///
/// The pixels are kept as the IDX file's bytes (47 MB for MNIST's training
/// set) with the 256 values they normalize to; the `f32` images (4× that)
/// are made the first time something asks for the whole set
/// ([`Dataset::images`]: full-batch GD, evaluation, a landscape). Training
/// at B < N never does: [`Dataset::gather`] normalizes the batch's rows
/// straight from the bytes, reading a quarter of the memory a float copy
/// would.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The raw pixels (N, D) and how they normalize; `None` for a set made
    /// from floats ([`Dataset::from_images`]).
    pixels: Option<(Vec<u8>, Normalize)>,
    /// The normalized pixels, (N, D) row-major, line-aligned (the whole set
    /// is the GEMMs' operand in full-batch GD): made on first use.
    images: OnceLock<AlignedVec>,
    /// Class of each image, each in 0..=9, (N).
    pub labels: Vec<u32>,
    /// N, the number of examples.
    pub n: usize,
    /// Image height in pixels (28 for MNIST).
    pub rows: usize,
    /// Image width in pixels (28 for MNIST).
    pub cols: usize,
}

/// Two sets are equal when their examples are: the same normalized images
/// (compared as bytes and table where both have them) and labels.
impl PartialEq for Dataset {
    fn eq(&self, o: &Self) -> bool {
        let same_pixels = match (&self.pixels, &o.pixels, self.images.get(), o.images.get()) {
            (Some(a), Some(b), None, None) => a == b,
            _ => self.images() == o.images(),
        };
        (self.n, self.rows, self.cols) == (o.n, o.rows, o.cols)
            && self.labels == o.labels
            && same_pixels
    }
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
        Ok(Dataset {
            pixels: Some((images.data.clone(), normalize)),
            images: OnceLock::new(),
            labels: labels.data.iter().map(|&l| u32::from(l)).collect(),
            n,
            rows,
            cols,
        })
    }

    /// A set from raw pixels (N, D = rows·cols, row-major), normalized by
    /// `normalize`, and their labels (N).
    ///
    /// # Panics
    /// If the lengths disagree (`pixels.len() != N·D`).
    pub fn from_pixels(
        pixels: Vec<u8>,
        labels: Vec<u32>,
        rows: usize,
        cols: usize,
        normalize: Normalize,
    ) -> Self {
        let n = labels.len();
        assert_eq!(pixels.len(), n * rows * cols, "from_pixels: N·D bytes");
        Dataset {
            pixels: Some((pixels, normalize)),
            images: OnceLock::new(),
            labels,
            n,
            rows,
            cols,
        }
    }

    /// A set from normalized images (N, D = rows·cols) already in floats,
    /// and their labels (N).
    ///
    /// # Panics
    /// If the lengths disagree (`images.len() != N·D`).
    pub fn from_images(images: AlignedVec, labels: Vec<u32>, rows: usize, cols: usize) -> Self {
        let n = labels.len();
        assert_eq!(images.len(), n * rows * cols, "from_images: N·D floats");
        Dataset {
            pixels: None,
            images: OnceLock::from(images),
            labels,
            n,
            rows,
            cols,
        }
    }

    /// The normalized images, (N, D) row-major: made from the pixels the
    /// first time (4·N·D bytes), then kept.
    pub fn images(&self) -> &[f32] {
        self.images.get_or_init(|| {
            let (px, normalize) = self.pixels.as_ref().expect("a set has pixels or images");
            let table = normalize.table();
            px.iter().map(|&p| table[p as usize]).collect()
        })
    }

    /// The largest magnitude a gathered batch can hold: the largest of the
    /// 256 values the pixels normalize to, for a set that is gathered from
    /// its bytes; infinite for a set whose float images exist (made from
    /// floats, or made whole and perhaps edited since), which are not
    /// looked at.
    pub fn abs_max(&self) -> f32 {
        match (&self.pixels, self.images.get()) {
            (Some((_, normalize)), None) => {
                normalize.table().iter().fold(0.0f32, |m, v| m.max(v.abs()))
            }
            _ => f32::INFINITY,
        }
    }

    /// The normalized images, writable (a test that poisons a set). Every
    /// later read, batches included, sees the edit.
    pub fn images_mut(&mut self) -> &mut [f32] {
        self.images();
        self.images.get_mut().expect("made just above")
    }

    /// The bytes of the raw pixels kept (0 for a set made from floats) and
    /// of the normalized images made so far.
    pub fn resident_bytes(&self) -> usize {
        self.pixels.as_ref().map_or(0, |(p, _)| p.len())
            + self.images.get().map_or(0, |v| 4 * v.len())
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
        &self.images()[i * d..(i + 1) * d]
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
                match (self.images.get(), &self.pixels) {
                    // Each byte through the table that made the images: the
                    // same floats, from a quarter of the memory.
                    (None, Some((px, normalize))) => {
                        // The images' own formula to the same bits, without
                        // its two divides (which bound the loop: 1.5× slower
                        // at B = 64, `bench small_batch`, gather/B=64).
                        normalize.apply_row(&px[i * d..(i + 1) * d], xr);
                    }
                    _ => xr.copy_from_slice(self.image(i)),
                }
            }
        });
    }

    /// Asks the cache for the examples `idx` ahead of their
    /// [`Dataset::gather`]: the rows a gather will read (the bytes, or the
    /// floats when the set keeps those) are prefetched into L2. The trainer
    /// calls it with the next step's indices, so that a step's gather reads
    /// L2 instead of waiting on ~13 DRAM misses a row. Indices ≥ N are
    /// skipped: a hint never panics.
    pub fn prefetch(&self, idx: &[usize]) {
        let d = self.dim();
        for &i in idx.iter().filter(|&&i| i < self.n) {
            match (self.images.get(), &self.pixels) {
                (None, Some((px, _))) => descent_core::prefetch::prefetch(&px[i * d..(i + 1) * d]),
                (Some(images), _) => descent_core::prefetch::prefetch(&images[i * d..(i + 1) * d]),
                (None, None) => {}
            }
        }
    }

    /// The first `n − held_out` examples and the last `held_out`, as two
    /// sets (copies): a training set and a validation split held out from
    /// it, so that tuning never reads the test set. `held_out` is clamped
    /// to `0..=n`.
    pub fn split(&self, held_out: usize) -> (Dataset, Dataset) {
        let d = self.dim();
        let k = self.n - held_out.min(self.n);
        let part = |r: std::ops::Range<usize>| {
            let labels = self.labels[r.clone()].to_vec();
            let floats = || {
                self.images()[r.start * d..r.end * d]
                    .iter()
                    .copied()
                    .collect()
            };
            match (&self.pixels, self.images.get()) {
                (Some((px, normalize)), None) => Dataset {
                    pixels: Some((px[r.start * d..r.end * d].to_vec(), *normalize)),
                    images: OnceLock::new(),
                    labels,
                    n: r.len(),
                    rows: self.rows,
                    cols: self.cols,
                },
                _ => Dataset::from_images(floats(), labels, self.rows, self.cols),
            }
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
