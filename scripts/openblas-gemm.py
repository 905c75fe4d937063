#!/usr/bin/env python3
"""Times OpenBLAS's SGEMM through numpy, one thread, for `bench matmul`.

Usage: openblas-gemm.py ROUNDS MxKxN [MxKxN ...]

For each shape, C = A·B with A (m×k) and B (k×n) float32, C-contiguous,
written into a preallocated C (`np.matmul(a, b, out=c)`), each sample
~0.5 ms of calls, ROUNDS samples; prints one line per shape,
`m k n median_gflops`, after a first line naming the BLAS and its kernel
(threadpoolctl's `internal_api`, `version` and `architecture`).

numpy adds about a microsecond of Python per call, which the smallest
shapes feel; the figure is what a numpy user gets. Run it with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, so OpenBLAS picks its kernel
and blocking for this CPU itself (the bench does).
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def main():
    rounds = int(sys.argv[1])
    shapes = [tuple(int(x) for x in s.split("x")) for s in sys.argv[2:]]
    with threadpool_limits(limits=1, user_api="blas"):
        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if not blas:
            print("blas none")
            return
        b0 = blas[0]
        print(
            f"blas {b0.get('internal_api')} {b0.get('version')} {b0.get('architecture')} "
            f"threads {b0.get('num_threads')}"
        )
        rng = np.random.default_rng(0)
        for m, k, n in shapes:
            a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
            b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
            c = np.empty((m, n), dtype=np.float32)
            np.matmul(a, b, out=c)
            t = time.perf_counter()
            for _ in range(3):
                np.matmul(a, b, out=c)
            one = max((time.perf_counter() - t) / 3, 1e-9)
            reps = max(int(5e-4 / one), 1)
            samples = []
            for _ in range(rounds):
                t = time.perf_counter()
                for _ in range(reps):
                    np.matmul(a, b, out=c)
                samples.append((time.perf_counter() - t) / reps)
            print(f"{m} {k} {n} {2 * m * k * n / median(samples) / 1e9:.2f}")


if __name__ == "__main__":
    main()
