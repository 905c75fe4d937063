//! Checkpoints: one safetensors file holding the model, the optimizer state
//! and the run's metadata.
//!
//! Naming scheme (see [`names`]):
//! - Model tensors use PyTorch `nn.Sequential` names and layouts: linear layer
//!   `l` (0-based) sits at module index `2l` (activations take the odd
//!   indices), so its tensors are `"{2l}.weight"` with shape `[out, in]` and
//!   `"{2l}.bias"` with shape `[out]`: `0.weight` `[128, 784]`, `0.bias` `[128]`,
//!   `2.weight` `[64, 128]`, … . In Python,
//!   `safetensors.torch.load_file(path)` gives a state dict for the matching
//!   `nn.Sequential` (see [`names::OPTIM_PREFIX`] about `strict`).
//! - Optimizer buffers are extra F32 tensors named
//!   `"optim/{buffer}/{parameter}"`, e.g. `optim/exp_avg/0.weight`, with the
//!   parameter's shape; a buffer that is not one value per parameter
//!   (Adafactor's row and column moments) is one flat tensor
//!   `"optim/{buffer}"`.
//! - Everything else (config, epoch, step, RNG state) is string metadata in
//!   the header's `__metadata__`, under the keys in [`names`].
//!
//! Writes are atomic: a temporary file in the destination's directory is
//! written, fsynced, renamed over the destination, and the directory is
//! fsynced, so a crash leaves either the old file or the new one, never a mix.

pub mod error;
pub mod format;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use descent_core::Tensor;

pub use error::CheckpointError;

/// Tensor and metadata names shared by the writer and the reader.
pub mod names {
    /// Prefix of optimizer-state tensors: `optim/{buffer}/{parameter}`.
    ///
    /// PyTorch's `load_state_dict` is strict by default and rejects keys it
    /// does not know, so Python code loading a descent checkpoint that holds
    /// optimizer state keeps the model keys only:
    /// `{k: v for k, v in load_file(p).items() if not k.startswith("optim/")}`
    /// (or passes `strict=False`). A `/` never occurs in PyTorch parameter
    /// names, so the prefix cannot collide with a model tensor.
    pub const OPTIM_PREFIX: &str = "optim/";

    /// Metadata key: the file format and version, value [`FORMAT_VERSION`].
    pub const FORMAT: &str = "format";
    /// The value of [`FORMAT`] written by this version.
    pub const FORMAT_VERSION: &str = "descent-checkpoint-1";
    /// Metadata key: the run configuration, as JSON.
    pub const CONFIG: &str = "config";
    /// Metadata key: epochs completed.
    pub const EPOCH: &str = "epoch";
    /// Metadata key: optimizer steps taken.
    pub const STEP: &str = "step";
    /// Metadata key: the RNG state, as JSON.
    pub const RNG: &str = "rng";
    /// The optimizer buffer that holds the weights the gradient is taken
    /// at, when the model saved is another point: Schedule-Free's y, whose
    /// model is its average x (`optim/y/{param}`).
    pub const TRAIN_POINT: &str = "y";
    /// Metadata key: the scalars an optimizer carries between steps
    /// (NAdam's `mu_product`, ASGD's `eta` and `mu`), as a JSON object of
    /// their `f64` bit patterns; absent for the rules that carry none.
    pub const OPTIM_SCALARS: &str = "optim_scalars";

    // The model's tensor names are the network's own layout's
    // (`descent_nn::param_layout`, `descent_nn::sequential_name`): a
    // checkpoint writes the names it is given.

    /// The name of optimizer buffer `buffer` for parameter `param`:
    /// `"optim/{buffer}/{param}"`.
    pub fn optim(buffer: &str, param: &str) -> String {
        format!("{OPTIM_PREFIX}{buffer}/{param}")
    }

    /// The name of an optimizer buffer that is not one value per parameter
    /// (Adafactor's factored moments): `"optim/{buffer}"`, one flat tensor.
    pub fn optim_flat(buffer: &str) -> String {
        format!("{OPTIM_PREFIX}{buffer}")
    }
}

/// One tensor read from a checkpoint: its name and the core's owned,
/// line-aligned [`Tensor`] (so a weight read from a file is one `view()`
/// away from a GEMM operand).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The name in the file, e.g. `0.weight`.
    pub name: String,
    /// The values, row-major under the file's shape (as PyTorch's).
    pub tensor: Tensor,
}

impl NamedTensor {
    /// The shape, outermost first.
    pub fn shape(&self) -> &[usize] {
        self.tensor.shape()
    }

    /// The `∏ shape` values, row-major.
    pub fn data(&self) -> &[f32] {
        self.tensor.data()
    }
}

/// How strict [`load_checkpoint_with`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadOptions {
    /// Accept NaN and ±Inf values (`--allow-nonfinite`); rejected by default.
    pub allow_nonfinite: bool,
}

/// A checkpoint read and checked: tensors in file-header order, and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The file it was read from (named in later errors).
    pub path: PathBuf,
    /// Every tensor, in the order of the file's header.
    pub tensors: Vec<NamedTensor>,
    /// The `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The tensor called `name`, if present.
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The tensor called `name`, which must have exactly `shape`.
    ///
    /// Errors: [`CheckpointError::MissingTensor`] (listing the names present)
    /// or [`CheckpointError::ShapeMismatch`] ("tensor 0.weight has shape
    /// [64, 784] in file, model needs [128, 784]").
    pub fn expect_tensor(
        &self,
        name: &str,
        shape: &[usize],
    ) -> Result<&NamedTensor, CheckpointError> {
        let t = self
            .get(name)
            .ok_or_else(|| CheckpointError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
                shape: shape.to_vec(),
                present: self.present_names(),
            })?;
        if t.shape() != shape {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path.clone(),
                tensor: name.to_string(),
                in_file: t.shape().to_vec(),
                needed: shape.to_vec(),
            });
        }
        Ok(t)
    }

    /// Copies tensor `name` (which must have `shape`) into `out`, whose length
    /// must be `∏ shape`.
    pub fn copy_tensor(
        &self,
        name: &str,
        shape: &[usize],
        out: &mut [f32],
    ) -> Result<(), CheckpointError> {
        let t = self.expect_tensor(name, shape)?;
        if out.len() != t.data().len() {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path.clone(),
                tensor: name.to_string(),
                in_file: t.shape().to_vec(),
                needed: vec![out.len()],
            });
        }
        out.copy_from_slice(t.data());
        Ok(())
    }

    /// The model tensors: every tensor whose name does not start with
    /// [`names::OPTIM_PREFIX`].
    pub fn model_tensors(&self) -> impl Iterator<Item = &NamedTensor> {
        self.tensors
            .iter()
            .filter(|t| !t.name.starts_with(names::OPTIM_PREFIX))
    }

    /// The tensors whose name starts with `prefix`.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a NamedTensor> + 'a {
        self.tensors
            .iter()
            .filter(move |t| t.name.starts_with(prefix))
    }

    /// The metadata value under `key`, or [`CheckpointError::MissingMetadata`].
    pub fn meta(&self, key: &str) -> Result<&str, CheckpointError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| CheckpointError::MissingMetadata {
                path: self.path.clone(),
                key: key.to_string(),
            })
    }

    /// The metadata value under `key` parsed as `T`, or an error naming the
    /// key, the value and the parse failure.
    pub fn meta_parse<T>(&self, key: &str) -> Result<T, CheckpointError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let v = self.meta(key)?;
        v.parse()
            .map_err(|e: T::Err| CheckpointError::InvalidMetadata {
                path: self.path.clone(),
                key: key.to_string(),
                value: v.chars().take(200).collect(),
                detail: e.to_string(),
            })
    }

    /// Fails with [`CheckpointError::NonFinite`] on the first tensor (in file
    /// order) holding NaN or ±Inf, naming it, the first bad index and value,
    /// and how many bad values it holds.
    pub fn check_finite(&self) -> Result<(), CheckpointError> {
        for t in &self.tensors {
            let data = t.data();
            if let Some(index) = data.iter().position(|v| !v.is_finite()) {
                return Err(CheckpointError::NonFinite {
                    path: self.path.clone(),
                    tensor: t.name.clone(),
                    index,
                    value: data[index],
                    count: data.iter().filter(|v| !v.is_finite()).count(),
                });
            }
        }
        Ok(())
    }

    fn present_names(&self) -> String {
        if self.tensors.is_empty() {
            return "no tensors".to_string();
        }
        let names: Vec<&str> = self.tensors.iter().map(|t| t.name.as_str()).collect();
        names.join(", ")
    }
}

/// Reads and checks the checkpoint at `path`, rejecting non-finite values.
/// Same as [`load_checkpoint_with`] with default [`LoadOptions`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint, CheckpointError> {
    load_checkpoint_with(path, LoadOptions::default())
}

/// Reads and checks the checkpoint at `path`: the safetensors structure (see
/// [`mod@format`]), F32 dtypes, shapes against bytes, no duplicate names, and
/// unless `opts.allow_nonfinite`, that every value is finite.
pub fn load_checkpoint_with(path: &Path, opts: LoadOptions) -> Result<Checkpoint, CheckpointError> {
    // The whole file is read: its length is the real data length every header
    // field is checked against, so no allocation exceeds the file size.
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        action: "read the checkpoint",
        source,
    })?;
    parse_checkpoint(path, &bytes, opts)
}

/// [`load_checkpoint_with`] on bytes in memory; `path` names them in errors
/// (used by the tests and fuzz targets).
pub fn parse_checkpoint(
    path: &Path,
    bytes: &[u8],
    opts: LoadOptions,
) -> Result<Checkpoint, CheckpointError> {
    let (tensors, metadata) = format::parse(path, bytes)?;
    let c = Checkpoint {
        path: path.to_path_buf(),
        tensors,
        metadata,
    };
    if !opts.allow_nonfinite {
        c.check_finite()?;
    }
    Ok(c)
}

/// The bytes of a checkpoint holding `tensors` (in the given order) and
/// `metadata`, after checking each tensor: non-empty unique names, and
/// `data.len() == ∏ shape`. `path` only names the file in errors.
pub fn checkpoint_bytes(
    path: &Path,
    tensors: &[(&str, &[usize], &[f32])],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, CheckpointError> {
    let bad = |tensor: &str, detail: String| CheckpointError::InvalidTensor {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        detail,
    };
    let mut seen = std::collections::HashSet::new();
    for &(name, shape, data) in tensors {
        if name.is_empty() || name == format::METADATA_KEY {
            return Err(bad(name, "the name is empty or reserved".into()));
        }
        if !seen.insert(name) {
            return Err(bad(name, "the name is given twice".into()));
        }
        let elements = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if elements != Some(data.len()) {
            return Err(bad(
                name,
                format!(
                    "shape {} needs {} values but {} were given",
                    error::shape_text(shape),
                    elements.map_or("too many".to_string(), |e| e.to_string()),
                    data.len()
                ),
            ));
        }
    }
    let mut out = format::header_bytes(tensors, metadata);
    out.reserve(tensors.iter().map(|t| 4 * t.2.len()).sum());
    for &(_, _, data) in tensors {
        for v in data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

/// Writes a checkpoint atomically: the tensors (name, shape, values, in this
/// order) and the metadata go to a temporary file in `path`'s directory, which
/// is fsynced and renamed over `path`; then the directory is fsynced so the
/// rename itself survives a crash. On error `path` is untouched.
pub fn save_checkpoint(
    path: &Path,
    tensors: &[(&str, &[usize], &[f32])],
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let bytes = checkpoint_bytes(path, tensors, metadata)?;
    write_atomic(path, &bytes)
}

/// `path`'s directory (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` by a file holding `bytes`, atomically (see [`save_checkpoint`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let tmp = written_temporary(path, bytes)?;
    // On error the temporary is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| CheckpointError::Io {
        path: path.to_path_buf(),
        action: "rename the temporary file over it",
        source: e.error,
    })?;
    sync_dir(parent_dir(path)).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        action: "fsync its directory",
        source,
    })
}

/// Creates `path` holding `bytes` atomically if no file is there, and
/// returns `true`; returns `false`, writing nothing, if `path` exists. The
/// whole file is written to a temporary first and then hard-linked into
/// place, an operation that fails if the name exists (also on NFS), so of
/// two processes writing the same new file one wins and the other is told.
pub fn write_atomic_new(path: &Path, bytes: &[u8]) -> Result<bool, CheckpointError> {
    if path.exists() {
        return Ok(false);
    }
    let tmp = written_temporary(path, bytes)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(CheckpointError::Io {
                path: path.to_path_buf(),
                action: "link the temporary file into place",
                source: e.error,
            })
        }
    }
    sync_dir(parent_dir(path)).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        action: "fsync its directory",
        source,
    })?;
    Ok(true)
}

/// A temporary file beside `path` holding `bytes`, flushed and fsynced.
fn written_temporary(
    path: &Path,
    bytes: &[u8],
) -> Result<tempfile::NamedTempFile, CheckpointError> {
    let io = |action: &'static str| {
        move |source| CheckpointError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    // Hidden and suffixed, so a half-written temporary never looks like a checkpoint.
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{file_name}.");
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile creates 0600 files; a checkpoint should keep the mode of the
    // file it replaces, or get the usual 0644 (it holds nothing secret).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::metadata(path)
            .map(|m| m.permissions())
            .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
        builder.permissions(perms);
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(io("create a temporary file in its directory"))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        w.write_all(bytes).map_err(io("write the temporary file"))?;
        w.flush().map_err(io("write the temporary file"))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(io("fsync the temporary file"))?;
    Ok(tmp)
}

/// Fsyncs a directory so a rename inside it is durable (POSIX); a no-op where
/// directories cannot be opened as files.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Checks, before a run starts, that a checkpoint can be written at `path`:
/// its directory exists, is a directory, and accepts a new file (a temporary
/// is created and removed). Reports a read-only or missing directory before
/// any training rather than after.
pub fn check_writable(path: &Path) -> Result<(), CheckpointError> {
    let dir = parent_dir(path);
    let io = |action: &'static str| {
        move |source| CheckpointError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let meta = std::fs::metadata(dir).map_err(io("use its directory"))?;
    if !meta.is_dir() {
        return Err(CheckpointError::Io {
            path: path.to_path_buf(),
            action: "use its directory",
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    if path.is_dir() {
        return Err(CheckpointError::Io {
            path: path.to_path_buf(),
            action: "write it",
            source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory"),
        });
    }
    tempfile::Builder::new()
        .prefix(".descent-write-test.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(io("create a file in its directory"))
}
