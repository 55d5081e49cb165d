#!/usr/bin/env bash
# Installs LangGraph, the peer of `agentry bench e2e`, pinned, into a Python virtual
# environment of its own under the cache (never the system's Python, never the MCP
# servers' venv: LangChain brings its own `openai` pin):
#   langgraph, langgraph-prebuilt (PyPI)  the graph and its prebuilt ReAct agent
#   langchain-openai, langchain-core (PyPI)  ChatOpenAI, pointed at llama-server
# into ${AGENTRY_CACHE:-~/.cache/agentry}/langgraph/venv (AGENTRY_LANGGRAPH_VENV overrides).
# Idempotent: when the pinned versions are installed it prints so and touches nothing
# (no network), so it is safe offline after the first install. Prints the venv's python
# on its last line.
set -euo pipefail

venv="${AGENTRY_LANGGRAPH_VENV:-${AGENTRY_CACHE:-$HOME/.cache/agentry}/langgraph/venv}"
pins=("langgraph==1.2.22" "langgraph-prebuilt==1.1.2" "langchain-openai==1.7.4" "langchain-core==1.8.1")

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

if pinned; then
  echo "install-langgraph: nothing to install (${pins[*]} in $venv)"
  echo "$venv/bin/python"
  exit 0
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
  echo "install-langgraph: needs Python 3.10 or newer with venv (e.g. apt-get install python3-venv)" >&2
  exit 1
fi

mkdir -p "$(dirname "$venv")"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"; then
  echo "install-langgraph: pip could not install ${pins[*]} (offline?); run again with network" >&2
  exit 1
fi
pinned || { echo "install-langgraph: pip reported success but the pins are not installed" >&2; exit 1; }
echo "install-langgraph: installed ${pins[*]} in $venv"
echo "$venv/bin/python"
