#!/usr/bin/env bash
# GPU check of the llama.cpp backend: build with CUDA, run the model tests, then the benchmark
# with every layer on the GPU. Run from the workspace root on a machine with an NVIDIA GPU and
# the CUDA toolkit (nvcc) installed.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
cargo test --release --features cuda -p agentry-core
cargo run --release --features cuda -p agentry-core --example bench_model -- smollm2-135m 8 999
