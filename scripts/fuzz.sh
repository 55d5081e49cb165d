#!/usr/bin/env bash
# Runs every cargo-fuzz target for a set time and prints executions and crashes per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo +nightly install cargo-fuzz`). The
# targets live in fuzz/ (its own workspace, built into fuzz/target); corpora grow in
# fuzz/corpus/TARGET and crashing inputs land in fuzz/artifacts/TARGET (both ignored by
# git). A crash makes the script exit 1 after every target has run.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

targets=(gguf_header workflow_yaml output_parsers chat_template)
cargo +nightly fuzz build -O >/dev/null

failed=0
printf '%-16s %12s %8s\n' target executions crashes
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="$(mktemp)"
  before=$(find "artifacts/$target" -type f | wc -l)
  # -rss_limit_mb and -malloc_limit_mb make runaway allocation a finding, not a hang.
  cargo +nightly fuzz run -O "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 >"$log" 2>&1 || true
  after=$(find "artifacts/$target" -type f | wc -l)
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  crashes=$((after - before))
  printf '%-16s %12s %8s\n' "$target" "${runs:-?}" "$crashes"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    find "artifacts/$target" -type f -newer "$log" -print | sed 's/^/  new: fuzz\//'
  fi
  rm -f "$log"
done
exit "$failed"
