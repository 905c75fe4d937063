//! The loader on the real MNIST files (`/work/shared/mnist`, i.e.
//! `../shared/mnist` from the workspace root). Skips with a note when absent.

mod common;

use descent_train::data::*;

#[test]
fn real_mnist_loads_with_known_counts_and_statistics() {
    let Some(dir) = common::real_mnist() else {
        return;
    };
    let m = Mnist::load(&dir, Normalize::None).unwrap();
    assert_eq!((m.train.n, m.train.rows, m.train.cols), (60_000, 28, 28));
    assert_eq!((m.test.n, m.test.rows, m.test.cols), (10_000, 28, 28));
    assert_eq!(m.train.images().len(), 60_000 * 784);
    // Per-class counts of the published MNIST sets.
    assert_eq!(
        m.train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        m.test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(&m.train.labels[..5], &[5, 0, 4, 1, 9]);
    // The Standard constants are the training set's pixel mean and std.
    let n = m.train.images().len() as f64;
    let mean = m.train.images().iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = m
        .train
        .images()
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!((mean - 0.1307).abs() < 1e-4, "mean {mean}");
    assert!((var.sqrt() - 0.3081).abs() < 1e-4, "std {}", var.sqrt());
    // Standard normalization gives mean ≈ 0, std ≈ 1 on the training set.
    let s = Mnist::load(&dir, Normalize::Standard).unwrap();
    let mean = s.train.images().iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    assert!(mean.abs() < 1e-3, "normalized mean {mean}");
}

#[test]
fn real_test_set_reads_the_same_through_gzip() {
    let Some(dir) = common::real_mnist() else {
        return;
    };
    let f = find_mnist(&dir).unwrap();
    let d = tempfile::tempdir().unwrap();
    let raw_i = std::fs::read(&f.test_images).unwrap();
    let raw_l = std::fs::read(&f.test_labels).unwrap();
    let gi = common::write(d.path(), "t10k-images-idx3-ubyte.gz", &common::gzip(&raw_i));
    let gl = common::write(d.path(), "t10k-labels-idx1-ubyte.gz", &common::gzip(&raw_l));
    let a = Dataset::load(&f.test_images, &f.test_labels, Normalize::Half).unwrap();
    let b = Dataset::load(&gi, &gl, Normalize::Half).unwrap();
    assert_eq!(a, b);
}
