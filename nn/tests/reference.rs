//! A fixed tiny net whose weights are written here: loss and every
//! gradient equal reference numbers derived independently in f64.
//!
//! The numbers come from this plain-Python script (no framework; torch is
//! not installed here), run with `python3`:
//!
//! ```python
//! import math
//! W0 = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.6]]
//! b0 = [0.01, -0.02]
//! W2 = [[0.7, -0.8], [0.9, 1.0]]
//! b2 = [0.05, -0.05]
//! X = [[1.0, 2.0, -1.0], [0.5, -1.5, 2.0], [-1.0, 0.5, 0.25]]
//! Y = [1, 0, 1]
//! B = len(X)
//! H, Z = [], []
//! for x in X:
//!     h = [max(0.0, sum(W0[o][i] * x[i] for i in range(3)) + b0[o]) for o in range(2)]
//!     z = [sum(W2[o][i] * h[i] for i in range(2)) + b2[o] for o in range(2)]
//!     H.append(h); Z.append(z)
//! loss, dZ = 0.0, []
//! for z, y in zip(Z, Y):
//!     m = max(z); s = sum(math.exp(v - m) for v in z)
//!     loss += (math.log(s) - (z[y] - m)) / B
//!     dZ.append([(math.exp(z[j] - m) / s - (j == y)) / B for j in range(2)])
//! dW2 = [[sum(dZ[r][o] * H[r][i] for r in range(B)) for i in range(2)] for o in range(2)]
//! db2 = [sum(dZ[r][o] for r in range(B)) for o in range(2)]
//! dH = [[sum(dZ[r][o] * W2[o][i] for o in range(2)) * (H[r][i] > 0) for i in range(2)] for r in range(B)]
//! dW0 = [[sum(dH[r][o] * X[r][i] for r in range(B)) for i in range(3)] for o in range(2)]
//! db0 = [sum(dH[r][o] for r in range(B)) for o in range(2)]
//! print("loss", repr(loss))
//! for n, v in [("0.weight", dW0), ("0.bias", db0), ("2.weight", dW2), ("2.bias", db2)]:
//!     flat = [a for row in v for a in row] if isinstance(v[0], list) else v
//!     print(n, [float("%.9g" % a) for a in flat])
//! ```
//!
//! Its output (hidden rows: [0, 0], [0.96, 0.23], [0, 0.78], so the first
//! row has both ReLUs off and the third one of them):
//!
//! ```text
//! loss 0.654121922452087
//! 0.weight [0.0207956105, -0.0623868314, 0.0831824419, 0.31525605, -0.625529261, 0.716618088]
//! 0.bias [0.0415912209, 0.246225432]
//! 2.weight [-0.19963786, 0.00767817016, 0.19963786, -0.00767817016]
//! 2.bias [0.0382011556, -0.0382011556]
//! ```

use descent_core::Compute;
use descent_nn::{Activation, Mlp};

const X: [f32; 9] = [1.0, 2.0, -1.0, 0.5, -1.5, 2.0, -1.0, 0.5, 0.25];
const Y: [u32; 3] = [1, 0, 1];

fn tiny_net() -> Mlp {
    let mut net = Mlp::new(&[3, 2, 2], Activation::Relu, 0).unwrap();
    #[rustfmt::skip]
    let params = [
        0.1, -0.2, 0.3, -0.4, 0.5, 0.6, // 0.weight [2, 3]
        0.01, -0.02,                    // 0.bias [2]
        0.7, -0.8, 0.9, 1.0,            // 2.weight [2, 2]
        0.05, -0.05,                    // 2.bias [2]
    ];
    net.params_mut().copy_from_slice(&params);
    net
}

fn check(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        // f32 arithmetic on numbers of order 1: a few ulps.
        assert!(
            (g as f64 - w).abs() <= 1e-6 * (1.0 + w.abs()),
            "{what}[{k}]: got {g}, reference {w}"
        );
    }
}

#[test]
fn tiny_net_matches_hand_derived_reference() {
    let mut net = tiny_net();
    net.zero_grad();
    let loss = net.loss_and_backward(&Compute::serial(), &X, &Y).unwrap();
    assert!(
        (loss as f64 - 0.654121922452087).abs() < 1e-6,
        "loss {loss}"
    );
    let want: [(&str, &[f64]); 4] = [
        (
            "0.weight",
            &[
                0.0207956105,
                -0.0623868314,
                0.0831824419,
                0.31525605,
                -0.625529261,
                0.716618088,
            ],
        ),
        ("0.bias", &[0.0415912209, 0.246225432]),
        (
            "2.weight",
            &[-0.19963786, 0.00767817016, 0.19963786, -0.00767817016],
        ),
        ("2.bias", &[0.0382011556, -0.0382011556]),
    ];
    for (name, w) in want {
        let t = net.layout().iter().find(|t| t.name == name).unwrap();
        check(&net.grads()[t.range()], w, name);
    }
    // The logits the forward stored: Z from the script.
    check(
        net.logits(),
        &[0.05, -0.05, 0.538, 1.044, -0.574, 0.73],
        "logits",
    );
}

#[test]
fn backward_accumulates_until_zero_grad() {
    let mut net = tiny_net();
    net.zero_grad();
    net.loss_and_backward(&Compute::serial(), &X, &Y).unwrap();
    let once = net.grads().to_vec();
    net.loss_and_backward(&Compute::serial(), &X, &Y).unwrap();
    for (&g2, &g1) in net.grads().iter().zip(&once) {
        // Not bit-exact: the bias sums add rows onto g instead of onto 0.
        assert!((g2 - 2.0 * g1).abs() <= 1e-7, "{g2} vs 2·{g1}");
    }
    net.zero_grad();
    assert!(net.grads().iter().all(|&g| g == 0.0));
}
