#!/usr/bin/env bash
# The Wan transformer benchmark (release build): forward pass on the `bench` preset at 4,096 and 16,384 tokens (any
# count from 256 with --tokens) as GFLOP/s next to the machine's sgemm ceiling (cblas_sgemm on a square 2048^3
# product and on the forward's own shapes, OpenBLAS on 1 and N threads, measured right after each forward), the
# forward's CPU use, a second forward with the same prompt, peak resident memory at 1,024 / 4,096 / 16,384 tokens,
# and diffusers' time on the same config and threads when torch and diffusers are installed.
# Usage: scripts/bench-model.sh [bench-model options, e.g. --threads 2 --tokens 720,1024,4096 --rounds 2;
# --profile 256,720,4096 for time per operation with each one's critical path; --kernels for the kernel table;
# see .build/release/bench-model --help]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
swift build -c release --product bench-model
extra=()
if python3 -c "import torch, diffusers" >/dev/null 2>&1; then
    extra=(--pytorch-script scripts/bench_model_torch.py)
else
    echo "bench-model.sh: torch/diffusers not importable; skipping the PyTorch comparison" >&2
fi
exec .build/release/bench-model "${extra[@]}" "$@"
