//! A small owned [`Tensor`]: contiguous, row-major `f32` and a shape, its
//! first element on a cache line ([`AlignedVec`]). Its 2-D views are the
//! strided [`MatRef`] / [`MatMut`] of [`crate::view`].

use crate::buffer::AlignedVec;
use crate::error::{CoreError, Result};
use crate::view::{MatMut, MatRef};

/// An owned, contiguous, row-major `f32` tensor of any rank, whose first
/// element starts a 64-byte cache line (see [`AlignedVec`] for why).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    data: AlignedVec,
    shape: Vec<usize>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            data: AlignedVec::zeros(shape.iter().product()),
            shape: shape.to_vec(),
        }
    }

    /// `data` as a row-major tensor of `shape` (copied into line-aligned
    /// storage); errors if the element count disagrees.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Self> {
        Self::from_aligned(data.into(), shape)
    }

    /// `data` as a row-major tensor of `shape`, without a copy; errors if
    /// the element count disagrees.
    pub fn from_aligned(data: AlignedVec, shape: &[usize]) -> Result<Self> {
        let needed: usize = shape.iter().product();
        if data.len() != needed {
            return Err(CoreError::BadLength {
                what: "Tensor::from_vec",
                shape: shape.to_vec(),
                needed,
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            shape: shape.to_vec(),
        })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// The elements, row-major, writable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// The elements as a `Vec` (a copy: a `Vec` cannot take over aligned
    /// storage).
    pub fn into_vec(self) -> Vec<f32> {
        self.data.to_vec()
    }
    /// Gives the buffer back, without a copy.
    pub fn into_aligned(self) -> AlignedVec {
        self.data
    }

    /// Same elements, new shape with the same element count.
    pub fn reshape(self, shape: &[usize]) -> Result<Self> {
        Self::from_aligned(self.data, shape)
    }

    fn check_2d(&self, op: &'static str) -> Result<[usize; 2]> {
        match *self.shape.as_slice() {
            [r, c] => Ok([r, c]),
            _ => Err(CoreError::ShapeMismatch {
                op,
                left_name: "tensor",
                left: self.shape.clone(),
                right_name: "a 2-D shape",
                right: vec![],
            }),
        }
    }

    /// A 2-D tensor as a matrix view (errors for other ranks).
    pub fn view(&self) -> Result<MatRef<'_>> {
        let [r, c] = self.check_2d("Tensor::view")?;
        MatRef::row_major(&self.data, r, c)
    }

    /// A 2-D tensor as a writable matrix view (errors for other ranks).
    pub fn view_mut(&mut self) -> Result<MatMut<'_>> {
        let [r, c] = self.check_2d("Tensor::view_mut")?;
        MatMut::row_major(&mut self.data, r, c)
    }
}

impl MatRef<'_> {
    /// A contiguous row-major copy.
    pub fn to_tensor(&self) -> Tensor {
        let out = (0..self.rows())
            .flat_map(|i| (0..self.cols()).map(move |j| (i, j)))
            .map(|(i, j)| self.get(i, j))
            .collect();
        Tensor {
            data: out,
            shape: vec![self.rows(), self.cols()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_starts_on_a_line() {
        for shape in [&[0usize][..], &[3, 5], &[64, 784], &[7]] {
            let t = Tensor::zeros(shape);
            assert_eq!(t.data().as_ptr() as usize % 64, 0, "{shape:?}");
            let c = Tensor::from_vec(vec![1.5; t.len()], shape).unwrap();
            assert_eq!(c.data().as_ptr() as usize % 64, 0, "{shape:?}");
            assert!(c.data().iter().all(|&x| x == 1.5));
        }
    }

    #[test]
    fn transpose_is_a_view() {
        let t = Tensor::from_vec((0..6).map(|x| x as f32).collect(), &[2, 3]).unwrap();
        let v = t.view().unwrap();
        let vt = v.t();
        assert_eq!(vt.shape(), [3, 2]);
        assert!(std::ptr::eq(vt.data(), v.data()));
        assert_eq!(vt.get(2, 1), v.get(1, 2));
        assert_eq!(vt.to_tensor().data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn length_errors_print_shape_and_count() {
        let e = Tensor::from_vec(vec![0.0; 5], &[2, 3])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[2, 3]") && e.contains('5') && e.contains('6'),
            "{e}"
        );
    }

    #[test]
    fn views_are_bounds_checked() {
        let d = vec![0.0; 10];
        assert!(MatRef::new(&d, 2, 5, 5, 1).is_ok());
        let e = MatRef::new(&d, 3, 5, 5, 1).unwrap_err().to_string();
        assert!(e.contains("3x5"), "{e}");
        assert!(MatRef::new(&d, 0, 100, 1000, 1).is_ok());
    }
}
