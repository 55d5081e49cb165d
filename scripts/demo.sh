#!/usr/bin/env bash
# `make demo` after the build: pulls the demo model, checks it fits this machine,
# validates the example workflows, runs the triage workflow end to end, streams
# one answer, then says what ran and where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/agentry
model=${DEMO_MODEL:-qwen2.5-coder-1.5b}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS

section() { printf '\n== %s\n' "$1"; }

section "model: $model"
path=$("$bin" models pull "$model")
echo "$path"
"$bin" doctor --model "$model"

section "validate examples/workflows/*.yaml"
"$bin" validate examples/workflows/*.yaml

section "run examples/workflows/triage.yaml"
"$bin" run examples/workflows/triage.yaml 2>&1 | tee "$log"
checkpoint=$(sed -n 's/.*(checkpoint \(.*\))$/\1/p' "$log" | tail -1)

section "generate (streamed)"
"$bin" generate --model "$model" --max-tokens 64 \
  "In one sentence: why run a language model on your own machine?"
echo

section "demo done in $((SECONDS - started)) s"
cat <<SUMMARY
- model      $model, cached at $path
- doctor     its size, memory need and fit on this machine (above)
- validate   every example workflow checked without running anything
- triage     four messages labelled by team and urgency, an escalation note
             (outputs above; every step's record: ${checkpoint:-.agentry/runs/})
- generate   one answer streamed token by token
Next: agentry chat --model $model, or cargo run --release --example assistant
SUMMARY
