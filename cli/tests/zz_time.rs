use descent_cli::data::*;
#[test]
fn t() {
    let dir = std::path::Path::new("/work/shared/mnist");
    let mut v = vec![];
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let m = load_mnist(dir, Normalize::Standard).unwrap();
        v.push(t.elapsed().as_secs_f64());
        assert_eq!(m.train.n, 60000);
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("load_mnist raw median {:.3}s all {:?}", v[2], v);
    let d = tempfile::tempdir().unwrap();
    for f in [
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte",
        "t10k-images.idx3-ubyte",
        "t10k-labels.idx1-ubyte",
    ] {
        let b = std::fs::read(dir.join(f)).unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, &b).unwrap();
        std::fs::write(d.path().join(format!("{f}.gz")), e.finish().unwrap()).unwrap();
    }
    let mut v = vec![];
    for _ in 0..5 {
        let t = std::time::Instant::now();
        load_mnist(d.path(), Normalize::Standard).unwrap();
        v.push(t.elapsed().as_secs_f64());
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("load_mnist gz median {:.3}s all {:?}", v[2], v);
}
