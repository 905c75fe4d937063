#!/usr/bin/env bash
# Epoch times of `descent train` on 1 and 2 threads, interleaved with
# PyTorch's same loop (scripts/pytorch-epoch.py) when PYTHON names a Python
# with torch. Prints each run's epoch seconds (the training steps, as
# `descent train` reports them); take medians over the rounds.
#
#   scripts/threads-epoch.sh ROUNDS [extra `descent train` flags…]
#   OPTS="sgd adam" EPOCHS=3 PYTHON=/tmp/pt/bin/python scripts/threads-epoch.sh 3
#   OPTS=sgd EPOCHS=2 scripts/threads-epoch.sh 3 --hidden 1024,1024 --batch-size 256
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin descent >&2
rounds=${1:?rounds}
shift
data=${DATA:-data/mnist}
for _ in $(seq "$rounds"); do
    for o in ${OPTS:-sgd adam}; do
        for t in 1 2; do
            secs=$(target/release/descent train --optimizer "$o" --epochs "${EPOCHS:-3}" --quiet \
                --threads "$t" --data "$data" "$@" | grep -o '[0-9.]* s ' | tr -d ' s' | tr '\n' ' ')
            echo "descent $o threads=$t: $secs"
            if [ -n "${PYTHON:-}" ]; then
                pt=$("$PYTHON" scripts/pytorch-epoch.py --data "$data" --threads "$t" \
                    --epochs "${EPOCHS:-3}" --optimizers "$o" | grep -i median | grep -o '[0-9.]* s$')
                echo "pytorch $o threads=$t: median $pt"
            fi
        done
    done
done
