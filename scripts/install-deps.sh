#!/usr/bin/env bash
# Installs the system packages agentry's native build needs, decided by the
# package manager's own state (`dpkg-query`), never by file globs:
#   cmake          builds llama.cpp
#   libclang-dev   libclang.so for bindgen (llama-cpp-sys-2); libclang-cpp
#                  (the C++ interface some images ship) is not enough
#   g++ / gcc      C and C++ compilers
#   make           drives the build
#   nodejs, npm    run @modelcontextprotocol/server-everything in the MCP tests (only
#                  when `node` or `npm` is not on PATH already)
# Prints one line saying what it installed, or that nothing was missing.
# Debian/Ubuntu (apt). Elsewhere, or without root, it names the packages and
# the command to run, and exits 1.
set -euo pipefail

# The third-party MCP servers the tests use (a Python venv and an npm folder under the
# cache): not needed to build, so a failure is reported and the build goes on. Run at
# every exit, after the system packages (node and npm among them).
mcp_servers() {
  "$(dirname "$0")/install-mcp-servers.sh" \
    || echo "install-deps: the MCP test servers are not installed; their tests will fail" >&2
}
trap mcp_servers EXIT

required=(cmake libclang-dev g++ gcc make)

# True when dpkg knows PACKAGE as installed ("install ok installed").
installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: no dpkg here (not Debian/Ubuntu); install by hand:" \
       "cmake, libclang (the C library, e.g. clang-devel or libclang-dev), a C/C++ compiler, make" >&2
  echo "install-deps: then run make again" >&2
  exit 1
fi

missing=()
for pkg in "${required[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
# node and npm may come from elsewhere (nodesource, nvm): asked of PATH, not dpkg.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
  required+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: nothing to install (${required[*]} are installed)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: not root and no password-less sudo; run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing packages: ${missing[*]}; no apt-get here, install them by hand" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -qq >/dev/null \
   || ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "install-deps: could not install ${missing[*]}; run by hand:" >&2
  echo "    ${sudo:+sudo }apt-get update && ${sudo:+sudo }apt-get install -y ${missing[*]}" >&2
  exit 1
fi
for pkg in "${missing[@]}"; do
  if ! installed "$pkg"; then
    echo "install-deps: apt-get reported success but $pkg is not installed" >&2
    exit 1
  fi
done
echo "install-deps: installed ${missing[*]}"
