#!/usr/bin/env bash
# Reproduces the README's "Results" table: every suite of `agentry eval` on the three
# models the project tests with, in one run on this machine's CPU.
#
#   scripts/eval-table.sh [OUT_DIR]      (default: .agentry/eval/table)
#
# Environment: AGENTRY (the binary; default target/release/agentry), AGENTRY_EVAL_DATA
# (default ../shared/data), BFCL_LIMIT (items per BFCL category, default 10),
# TASKS_LIMIT (tasks per category, default 3), GSM8K_LIMIT (default 5), GAME24_LIMIT
# (default 3), MODELS (space-separated). The defaults fit about two hours on 2 cores;
# the intervals they give are wide (see the README for what n buys).
#
# Each suite writes OUT_DIR/SUITE.json (the report), OUT_DIR/SUITE.jsonl (the trace:
# a re-run with the same OUT_DIR skips what is already scored) and OUT_DIR/SUITE.md
# (the Markdown table); OUT_DIR/times.txt holds each suite's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-.agentry/eval/table}"
bin="${AGENTRY:-target/release/agentry}"
export AGENTRY_EVAL_DATA="${AGENTRY_EVAL_DATA:-../shared/data}"
models="${MODELS:-smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b}"
mkdir -p "$out"

model_flags=()
for m in $models; do model_flags+=(--model "$m"); done

run_suite() {
    local suite="$1"
    shift
    local start end
    start=$(date +%s)
    "$bin" eval "$suite" "${model_flags[@]}" "$@" \
        --json "$out/$suite.json" --trace "$out/$suite.jsonl" | tee "$out/$suite.md"
    end=$(date +%s)
    echo "$suite $((end - start)) s" >>"$out/times.txt"
}

run_suite bfcl --config planner --config plain --limit "${BFCL_LIMIT:-10}" --max-tokens 256
run_suite tasks --config planner --limit "${TASKS_LIMIT:-3}"
run_suite gsm8k --config direct --config cot --config sc-5 --limit "${GSM8K_LIMIT:-5}" \
    --max-tokens 384
run_suite game24 --config cot --config tot --limit "${GAME24_LIMIT:-3}" --max-tokens 256
echo "done: $out (times in $out/times.txt)"
