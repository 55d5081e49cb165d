#!/usr/bin/env bash
# GPU check of the llama.cpp backend: build with CUDA, run the model tests,
# then the model benchmark with every layer on the GPU. Run from anywhere in
# the repository on a machine with an NVIDIA GPU and the CUDA toolkit (nvcc).
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader
cargo test --release --features cuda -p agentry-core
cargo build --release --features cuda --bin agentry
target/release/agentry doctor --model smollm2-135m
target/release/agentry generate --gpu-layers 999 --max-tokens 48 "Say hello from the GPU."
target/release/agentry bench model --model smollm2-135m --threads "$(nproc)" --gpu-layers 999
