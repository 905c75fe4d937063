//! Where each parameter tensor lies in the flat buffer, for the rules that
//! treat matrices as matrices (Adafactor's factored moments, Muon's
//! orthogonalised step). The elementwise rules never look.

use std::ops::Range;

/// One parameter tensor of the flat buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// A row-major `rows × cols` matrix (a layer's weights, `[out, in]` as
    /// PyTorch's `nn.Linear`) starting at `start`.
    Matrix {
        /// Its first element's index in the flat buffer.
        start: usize,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A vector (a bias) of `len` elements starting at `start`.
    Vector {
        /// Its first element's index in the flat buffer.
        start: usize,
        /// Elements.
        len: usize,
    },
}

impl Block {
    /// The block's elements in the flat buffer.
    pub fn range(&self) -> Range<usize> {
        match *self {
            Block::Matrix { start, rows, cols } => start..start + rows * cols,
            Block::Vector { start, len } => start..start + len,
        }
    }

    /// Its number of elements.
    pub fn len(&self) -> usize {
        self.range().len()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The block of a tensor of `shape` at `start`: a matrix for two
    /// dimensions, a vector otherwise (as torch's optimizers tell them by
    /// `ndim`).
    pub fn of_shape(start: usize, shape: &[usize]) -> Block {
        match *shape {
            [rows, cols] => Block::Matrix { start, rows, cols },
            _ => Block::Vector {
                start,
                len: shape.iter().product(),
            },
        }
    }
}

/// Checks that `blocks` tile `0..n` in order, without gaps or overlaps.
pub(crate) fn tiles(blocks: &[Block], n: usize) -> bool {
    let mut at = 0;
    for b in blocks {
        if b.range().start != at {
            return false;
        }
        at = b.range().end;
    }
    at == n
}

/// `blocks`, checked to tile `0..n` for their own n (the blocks an
/// optimizer is bound to); the error names `optimizer`.
pub(crate) fn checked(optimizer: &'static str, blocks: &[Block]) -> crate::Result<Vec<Block>> {
    let n = blocks.iter().map(Block::len).sum();
    if !tiles(blocks, n) {
        return Err(crate::OptimError::LengthMismatch {
            optimizer,
            what: "parameter blocks (gaps or overlaps)",
            expected: n,
            got: blocks.last().map_or(0, |b| b.range().end),
        });
    }
    Ok(blocks.to_vec())
}

/// Errors unless `blocks` tile a buffer of `n` (the parameters stepped
/// against the blocks bound).
pub(crate) fn covers(optimizer: &'static str, blocks: &[Block], n: usize) -> crate::Result<()> {
    if tiles(blocks, n) {
        Ok(())
    } else {
        Err(crate::OptimError::LengthMismatch {
            optimizer,
            what: "params (vs the bound blocks)",
            expected: blocks.last().map_or(0, |b| b.range().end),
            got: n,
        })
    }
}
