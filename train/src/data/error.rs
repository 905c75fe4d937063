//! The one error type of the data layer.
//!
//! Every variant names the file (or directory) it is about and says what is
//! wrong in words a user can act on; none of the readers panics on bad input.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The command printed whenever MNIST is missing, so the user can copy it.
pub const FETCH_COMMAND: &str = "scripts/fetch-mnist.sh";

/// What an IDX file is expected to hold: it decides the magic number and the
/// number of dimensions the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxKind {
    /// `0x00000803`: `n × rows × cols` unsigned bytes.
    Images,
    /// `0x00000801`: `n` unsigned bytes.
    Labels,
}

impl IdxKind {
    /// The magic number of an MNIST file of this kind (type code 0x08 = u8).
    pub fn magic(self) -> u32 {
        0x0000_0800 | u32::from(self.ndims())
    }

    /// The number of dimensions in the header of a file of this kind.
    pub fn ndims(self) -> u8 {
        match self {
            IdxKind::Images => 3,
            IdxKind::Labels => 1,
        }
    }
}

impl fmt::Display for IdxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        })
    }
}

/// Everything that can go wrong while finding, reading or checking MNIST.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data directory is not there at all.
    #[error(
        "MNIST data directory `{}` does not exist\n  fetch MNIST with: {FETCH_COMMAND} {}",
        .dir.display(), .dir.display()
    )]
    MissingDir { dir: PathBuf },

    /// The data "directory" is a file.
    #[error("MNIST data path `{}` is not a directory", .dir.display())]
    NotADirectory { dir: PathBuf },

    /// One of the four files is missing under both naming conventions.
    #[error(
        "MNIST {what} file not found in `{}` (looked for {tried})\n  fetch MNIST with: {FETCH_COMMAND} {}",
        .dir.display(), .dir.display()
    )]
    MissingFile {
        dir: PathBuf,
        /// e.g. "training images".
        what: &'static str,
        /// The file names tried, comma-separated.
        tried: String,
    },

    /// An I/O error from the operating system (permissions, a directory where
    /// a file was expected, a disk error…).
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The first two bytes of the magic number are not zero: not an IDX file.
    #[error(
        "{}: not an IDX file: magic number is 0x{found:08x}, expected 0x{:08x} (MNIST {kind})",
        .path.display(), .kind.magic()
    )]
    BadMagic {
        path: PathBuf,
        found: u32,
        kind: IdxKind,
    },

    /// Byte 2 of the magic is a type code IDX does not define.
    #[error(
        "{}: unknown IDX type code 0x{code:02x} in magic number 0x{magic:08x} (IDX defines 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)",
        .path.display()
    )]
    UnknownType { path: PathBuf, code: u8, magic: u32 },

    /// Byte 2 of the magic is a valid IDX type, but MNIST is stored as u8 and
    /// descent reads nothing else.
    #[error(
        "{}: IDX type code 0x{code:02x} ({name}) is valid IDX but not supported: descent reads unsigned bytes (type 0x08) only",
        .path.display()
    )]
    UnsupportedType {
        path: PathBuf,
        code: u8,
        name: &'static str,
    },

    /// Byte 3 of the magic (the number of dimensions) does not fit the kind.
    #[error(
        "{}: IDX header has {found} dimension(s), expected {} for an MNIST {kind} file (magic 0x{:08x}){}",
        .path.display(), .kind.ndims(), .kind.magic(), swapped_hint(*.kind, *.found)
    )]
    WrongDims {
        path: PathBuf,
        found: u8,
        kind: IdxKind,
    },

    /// The file (or decompressed stream) ends before the header does.
    #[error(
        "{}: file ends inside the IDX header: {len} byte(s) of data, the header needs {needed}",
        .path.display()
    )]
    TruncatedHeader {
        path: PathBuf,
        len: u64,
        needed: u64,
    },

    /// A dimension is zero where MNIST needs a positive size.
    #[error("{}: image size {rows}×{cols} in the IDX header: both must be positive", .path.display())]
    EmptyImage { path: PathBuf, rows: u32, cols: u32 },

    /// The sizes in the header do not multiply to the length of the data.
    #[error(
        "{}: IDX header says {dims} = {expected} byte(s) of data, but the file holds {}{actual} ({})",
        .path.display(),
        if *.exact { "" } else { "at least " },
        if .actual < .expected { "truncated" } else { "trailing data after the last item" }
    )]
    SizeMismatch {
        path: PathBuf,
        /// The header's sizes, e.g. "60000 × 28 × 28".
        dims: String,
        expected: u64,
        actual: u64,
        /// False when `actual` is a lower bound (a gzip stream with so much
        /// trailing data that counting all of it was not worth it).
        exact: bool,
    },

    /// A gzip file too small to possibly decompress to what its header claims;
    /// caught before anything is allocated or decompressed.
    #[error(
        "{}: IDX header says {dims} = {expected} byte(s) of data, but a gzip file of {compressed} bytes cannot decompress to more than {max} (truncated or corrupt header)",
        .path.display()
    )]
    ImpossibleGzipSize {
        path: PathBuf,
        dims: String,
        expected: u64,
        compressed: u64,
        max: u64,
    },

    /// The gzip stream is damaged (bad checksum, bad deflate data, truncated).
    #[error("{}: corrupt gzip stream: {detail}", .path.display())]
    CorruptGzip { path: PathBuf, detail: String },

    /// The file starts with the gzip magic bytes but is not named `*.gz`.
    #[error(
        "{}: file is gzip-compressed (starts with bytes 1f 8b) but its name does not end in `.gz`; rename it to `{}.gz` or decompress it with `gunzip -c`",
        .path.display(), .path.display()
    )]
    CompressedNotGz { path: PathBuf },

    /// A label outside 0..=9.
    #[error("{}: label {label} at index {index} is out of range (MNIST labels are 0..=9)", .path.display())]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u8,
    },

    /// The images file and its labels file disagree on the number of items.
    #[error(
        "{} holds {n_images} images but {} holds {n_labels} labels; they must match",
        .images.display(), .labels.display()
    )]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        n_images: usize,
        n_labels: usize,
    },

    /// An images file with no images: nothing could be trained or evaluated.
    #[error("{}: the IDX header says 0 images; the set must not be empty", .path.display())]
    NoImages { path: PathBuf },

    /// Training and test images are of different sizes.
    #[error(
        "{} holds {train_rows}×{train_cols} images but {} holds {test_rows}×{test_cols}; they must match",
        .train.display(), .test.display()
    )]
    ImageSizeMismatch {
        train: PathBuf,
        test: PathBuf,
        train_rows: usize,
        train_cols: usize,
        test_rows: usize,
        test_cols: usize,
    },
}

/// A hint for the most common cause of a wrong dimension count: the images and
/// labels files were swapped (or renamed wrongly).
fn swapped_hint(kind: IdxKind, found: u8) -> &'static str {
    match (kind, found) {
        (IdxKind::Images, 1) => "; this looks like a labels file",
        (IdxKind::Labels, 3) => "; this looks like an images file",
        _ => "",
    }
}

impl DataError {
    /// The file or directory the error is about (for images/labels mismatches,
    /// the images file).
    pub fn path(&self) -> &std::path::Path {
        use DataError::*;
        match self {
            MissingDir { dir } | NotADirectory { dir } | MissingFile { dir, .. } => dir,
            Io { path, .. }
            | BadMagic { path, .. }
            | UnknownType { path, .. }
            | UnsupportedType { path, .. }
            | WrongDims { path, .. }
            | TruncatedHeader { path, .. }
            | EmptyImage { path, .. }
            | SizeMismatch { path, .. }
            | ImpossibleGzipSize { path, .. }
            | CorruptGzip { path, .. }
            | CompressedNotGz { path }
            | LabelOutOfRange { path, .. }
            | NoImages { path } => path,
            CountMismatch { images, .. } => images,
            ImageSizeMismatch { train, .. } => train,
        }
    }
}
