#!/usr/bin/env bash
# Installs the third-party MCP servers and Python clients the tests use, each pinned, into a Python
# virtual environment under the cache (never the system's Python):
#   mcp-server-time   (PyPI)   ~/.cache/agentry/mcp-servers/venv/bin/mcp-server-time
#   mcp-server-git    (PyPI)   ~/.cache/agentry/mcp-servers/venv/bin/mcp-server-git
#   mcp               (PyPI)   the official MCP SDK, the client of `agentry mcp serve` in tests
#   openai            (PyPI)   the official OpenAI Python client, the third-party
#                              client of `agentry serve` in tests/serve_openai_client.rs
#   uvicorn, cryptography (PyPI)  serve the `mcp` SDK's streamable HTTP app over HTTPS
#                              with a CA the test makes (tools/tests/fixtures/tls_server.py)
# and, with npm, into a folder of its own:
#   @modelcontextprotocol/server-everything (npm)
#                              ~/.cache/agentry/mcp-servers/npm/node_modules/.bin/mcp-server-everything
#                              (stdio and streamable HTTP), for tools/tests/mcp_everything.rs
# Idempotent: when the pinned versions are installed it prints so and touches
# nothing (no network), so it is safe offline after the first install.
# AGENTRY_MCP_SERVERS overrides the folder. Prints one line saying what it did.
set -euo pipefail

dir="${AGENTRY_MCP_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/agentry/mcp-servers}"
venv="$dir/venv"
pins=("mcp-server-time==2026.10.19" "mcp-server-git==2026.10.19" "mcp==2.3.0" "openai==3.63.0"
      "uvicorn==0.55.0" "cryptography==51.0.1")
npm_dir="$dir/npm"
npm_name="@modelcontextprotocol/server-everything"
npm_version="2026.8.31"

# True when every pin is installed in the venv, asked of its own pip (offline).
pinned() {
  [ -x "$venv/bin/python" ] || return 1
  local pin name version
  for pin in "${pins[@]}"; do
    name="${pin%%==*}"
    version="${pin##*==}"
    [ "$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" = "$version" ] || return 1
  done
}

# True when the pinned npm package is installed (its package.json says so; offline).
npm_pinned() {
  local manifest="$npm_dir/node_modules/$npm_name/package.json"
  [ -f "$manifest" ] && [ -x "$npm_dir/node_modules/.bin/mcp-server-everything" ] \
    && grep -q "\"version\": \"$npm_version\"" "$manifest"
}

# Installs the npm server when it is not there at its pinned version.
install_npm() {
  if npm_pinned; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "install-mcp-servers: needs node and npm for $npm_name (e.g. apt-get install nodejs npm)" >&2
    return 1
  fi
  mkdir -p "$npm_dir"
  if ! npm install --prefix "$npm_dir" --no-audit --no-fund --silent "$npm_name@$npm_version" >/dev/null; then
    echo "install-mcp-servers: npm could not install $npm_name@$npm_version (offline?); run again with network" >&2
    return 1
  fi
  npm_pinned || { echo "install-mcp-servers: npm reported success but $npm_name@$npm_version is not installed" >&2; return 1; }
  echo "install-mcp-servers: installed $npm_name@$npm_version in $npm_dir"
}

npm_ok=0
install_npm || npm_ok=1

if pinned; then
  echo "install-mcp-servers: nothing to install (${pins[*]} in $venv)"
  [ "$npm_ok" -ne 0 ] || echo "install-mcp-servers: $npm_name@$npm_version in $npm_dir"
  exit "$npm_ok"
fi

python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "install-mcp-servers: needs Python 3.10 or newer with venv (e.g. apt-get install python3-venv)" >&2
  exit 1
fi

mkdir -p "$dir"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"; then
  echo "install-mcp-servers: pip could not install ${pins[*]} (offline?); run again with network" >&2
  exit 1
fi
pinned || { echo "install-mcp-servers: pip reported success but the pins are not installed" >&2; exit 1; }
echo "install-mcp-servers: installed ${pins[*]} in $venv"
exit "$npm_ok"
