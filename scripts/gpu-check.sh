#!/usr/bin/env bash
# GPU check of the llama.cpp backend: build with CUDA, run the model tests with
# every layer on the GPU, then the model benchmark at 0 GPU layers and at every
# layer, and print their decode speeds side by side. Run from anywhere in the
# repository on a machine with an NVIDIA GPU and the CUDA toolkit (nvcc).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=smollm2-135m
ALL_LAYERS=999 # more than any model has: llama.cpp offloads every layer
BIN=target/release/agentry

fail() {
    echo "gpu-check: $*" >&2
    exit 1
}

command -v nvidia-smi >/dev/null ||
    fail "nvidia-smi not found: this check needs an NVIDIA GPU and its driver"
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    echo "gpu-check: nvcc is not on PATH; using /usr/local/cuda/bin/nvcc" >&2
    export PATH="/usr/local/cuda/bin:$PATH"
fi
command -v nvcc >/dev/null ||
    fail "nvcc not found: install the CUDA toolkit (or put its bin/ on PATH); the cuda feature compiles llama.cpp with it"
gpus=$(nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader) ||
    fail "nvidia-smi could not query the GPU (is the driver loaded?)"
[[ -n "$gpus" ]] || fail "nvidia-smi lists no GPU"
echo "$gpus"
nvcc --version | tail -n 1

# Every model the tests open takes its GPU layers from this variable (0 when unset).
export AGENTRY_TEST_GPU_LAYERS=$ALL_LAYERS
# The tests that open a model: the backend's own, and the agent's on real models.
cargo test --release --features cuda --workspace \
    --test llama_model --test model_files --test lora --test schema_engines \
    --test agent --test parse_and_strategies --test memory_bridge
# The doctor's GPU advice, checked against the GPU it sees.
cargo test --release --features cuda --test cli doctor_
unset AGENTRY_TEST_GPU_LAYERS

cargo build --release --features cuda --bin agentry
"$BIN" doctor --model "$MODEL"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# llama.cpp says at info level how many layers it offloaded.
RUST_LOG=info "$BIN" generate --model "$MODEL" --gpu-layers "$ALL_LAYERS" --max-tokens 48 \
    "Say hello from the GPU." 2>"$work/generate.log" ||
    { cat "$work/generate.log" >&2; fail "agentry generate --gpu-layers $ALL_LAYERS failed"; }
offloaded=$(grep -oE 'offloaded [0-9]+/[0-9]+ layers to GPU' "$work/generate.log" | tail -n 1 || true)
echo "llama.cpp: ${offloaded:-no offload reported}"

# decode tok/s of the bare llama-cpp-2 loop and of agentry, from the benchmark's
# "| decode tok/s | baseline | agentry | ratio | target |" row.
decode_speeds() {
    awk -F'|' '$2 ~ /^ *decode tok\/s *$/ { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3, $4; found = 1 }
               END { exit !found }' "$1" ||
        fail "no '| decode tok/s |' row in the benchmark output $1"
}

for layers in 0 "$ALL_LAYERS"; do
    echo
    echo "== agentry bench model --gpu-layers $layers"
    "$BIN" bench model --model "$MODEL" --threads "$(nproc)" --gpu-layers "$layers" |
        tee "$work/bench-$layers.md"
done
cpu=$(decode_speeds "$work/bench-0.md")
gpu=$(decode_speeds "$work/bench-$ALL_LAYERS.md")
read -r cpu_bare cpu_agentry <<<"$cpu"
read -r gpu_bare gpu_agentry <<<"$gpu"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "### Decode speed, $MODEL, $(nproc) CPU threads, $(echo "$gpus" | head -n 1 | cut -d, -f1)"
echo
echo "| decode tok/s | 0 GPU layers | all layers on the GPU | ratio (GPU / CPU) |"
echo "|---|---|---|---|"
echo "| agentry | $cpu_agentry | $gpu_agentry | $(ratio "$gpu_agentry" "$cpu_agentry") |"
echo "| bare llama-cpp-2 loop | $cpu_bare | $gpu_bare | $(ratio "$gpu_bare" "$cpu_bare") |"

[[ -n "$offloaded" && ! "$offloaded" =~ ^offloaded\ 0/ ]] ||
    fail "llama.cpp did not report offloading layers to the GPU (see the generate step above)"
