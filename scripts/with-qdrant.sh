#!/usr/bin/env bash
# Runs a command (the test suite) with a Qdrant server at hand:
#
#   scripts/with-qdrant.sh cargo test --release --workspace
#
# - QDRANT_URL set: that server is used as it is.
# - else, when ../shared/bin/qdrant exists next to the repository (or QDRANT_BIN
#   names a binary): a server is started on 127.0.0.1 with free ports and a
#   temporary storage folder, waited for (/readyz, bounded), and stopped and
#   its folder removed when the command ends, whatever way it ends.
# - else the command runs without a server, and this says so.
#
# With a server, QDRANT_URL (gRPC) and AGENTRY_REQUIRE_QDRANT=1 are exported:
# the conformance suite (memory/tests/conformance.rs) then fails, instead of
# skipping, when the server does not answer.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${QDRANT_BIN:-$(cd "$root/.." && pwd)/shared/bin/qdrant}"
ready_timeout_s="${QDRANT_READY_TIMEOUT_S:-30}"

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

if [ -n "${QDRANT_URL:-}" ]; then
    echo "with-qdrant: using the Qdrant server at QDRANT_URL=$QDRANT_URL" >&2
    export AGENTRY_REQUIRE_QDRANT=1
    exec "$@"
fi

if [ ! -x "$bin" ]; then
    echo "with-qdrant: no Qdrant server (QDRANT_URL unset, no binary at $bin):" \
        "the vector-store conformance suite runs against the embedded store only" >&2
    exec "$@"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/agentry-qdrant.XXXXXX")"
pid=""

stop() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        # Up to 10 s for a clean stop, then SIGKILL.
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=""
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nothing listens on now. The server may still lose a race for it; the
# start is then retried with other ports.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "with-qdrant: found no free port" >&2
    return 1
}

http_port=""
grpc_port=""
started=""
for attempt in 1 2 3 4 5; do
    http_port="$(free_port)"
    grpc_port="$(free_port)"
    while [ "$grpc_port" = "$http_port" ]; do grpc_port="$(free_port)"; done
    rm -rf "$work/storage" "$work/snapshots" "$work/tmp"
    mkdir -p "$work/storage" "$work/snapshots" "$work/tmp"
    # Started from inside $work so nothing it writes by default lands in the
    # repository.
    (
        cd "$work"
        QDRANT__SERVICE__HOST=127.0.0.1 \
            QDRANT__SERVICE__HTTP_PORT="$http_port" \
            QDRANT__SERVICE__GRPC_PORT="$grpc_port" \
            QDRANT__STORAGE__STORAGE_PATH="$work/storage" \
            QDRANT__STORAGE__SNAPSHOTS_PATH="$work/snapshots" \
            QDRANT__STORAGE__TEMP_PATH="$work/tmp" \
            QDRANT__TELEMETRY_DISABLED=true \
            exec "$bin" >"$work/qdrant.log" 2>&1
    ) &
    pid=$!
    deadline=$((SECONDS + ready_timeout_s))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if curl -sf --max-time 2 "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1; then
            started=1
            break
        fi
        sleep 0.2
    done
    if [ -n "$started" ]; then
        break
    fi
    echo "with-qdrant: the server did not become ready (attempt $attempt); its log:" >&2
    tail -n 20 "$work/qdrant.log" >&2 || true
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    pid=""
done

if [ -z "$started" ]; then
    echo "with-qdrant: could not start $bin" >&2
    exit 1
fi

version="$(curl -sf --max-time 2 "http://127.0.0.1:$http_port/" 2>/dev/null |
    sed -n 's/.*"version":"\([^"]*\)".*/\1/p' || true)"
export QDRANT_URL="http://127.0.0.1:$grpc_port"
export AGENTRY_REQUIRE_QDRANT=1
echo "with-qdrant: started Qdrant ${version:-(version unknown)} from $bin," \
    "pid $pid, QDRANT_URL=$QDRANT_URL (REST on $http_port), storage in $work" >&2

# Not exec: the trap must stop the server when the command ends. The command
# runs in the background and is waited for, so that a TERM or INT sent to this
# script is handled at once (and passed on to the command), not only after the
# command ends.
cmd=""
forward() {
    if [ -n "$cmd" ]; then
        kill "-$1" "$cmd" 2>/dev/null || true
        wait "$cmd" 2>/dev/null || true
    fi
    exit "$2"
}
trap 'forward INT 130' INT
trap 'forward TERM 143' TERM
"$@" &
cmd=$!
status=0
wait "$cmd" || status=$?
cmd=""
echo "with-qdrant: stopping the Qdrant server (pid $pid)" >&2
exit "$status"
