#!/usr/bin/env bash
# Builds llama.cpp's own `llama-server` (the real OpenAI-compatible peer that
# the agentry-openai tests talk to) and `llama-bench` (the peer of
# `agentry bench model`) from the llama.cpp sources vendored in the
# `llama-cpp-python` sdist on PyPI, with the same CPU flags as agentry's own
# llama.cpp build (x86-64-v3: AVX2 + FMA + F16C + BMI2, GGML_NATIVE off, so no
# AMX kernel; see .cargo/config.toml).
#
# Idempotent: the sdist, the build folder and the binaries are cached under
#   ${AGENTRY_CACHE:-~/.cache/agentry}/llama-server/  (bin/llama-server, bin/llama-bench)
# and a second run builds only a binary that is missing (in the same build
# folder, so adding llama-bench to an earlier build compiles llama-bench alone).
# Prints llama-server's path on its last line; the tests look for it there (or
# at $LLAMA_SERVER; llama-bench beside it, or at $LLAMA_BENCH).
#
# Needs: python3 (PyPI reachable), cmake, a C/C++ compiler.
# Env: JOBS (default 2) parallel compile jobs.
set -euo pipefail

version="0.3.36"
cache="${AGENTRY_CACHE:-$HOME/.cache/agentry}/llama-server"
bin="$cache/bin/llama-server"
jobs="${JOBS:-2}"

# The targets whose binary is not in bin/ yet.
targets=()
for target in llama-server llama-bench; do
  [ -x "$cache/bin/$target" ] || targets+=("$target")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "build-llama-server: already built (llama-server, llama-bench)"
  echo "$bin"
  exit 0
fi

for tool in cmake python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-llama-server: $tool is missing (run scripts/install-deps.sh)" >&2
    exit 1
  fi
done

mkdir -p "$cache/sdist" "$cache/bin"
sdist="$cache/sdist/llama_cpp_python-$version.tar.gz"
if [ ! -f "$sdist" ]; then
  echo "build-llama-server: downloading llama-cpp-python==$version (sdist) from PyPI"
  # PyPI's JSON API names the sdist and its sha256 (python3's standard library only:
  # no pip needed).
  python3 - "$version" "$sdist" <<'PY'
import hashlib, json, sys, urllib.parse, urllib.request
version, dest = sys.argv[1], sys.argv[2]
index = "https://pypi.org/pypi/llama-cpp-python/json"
with urllib.request.urlopen(index, timeout=60) as r:
    project = json.load(r)
sdist = next(u for u in project["releases"][version] if u["packagetype"] == "sdist")
# A mirror may give the file's address relative to the index.
with urllib.request.urlopen(urllib.parse.urljoin(index, sdist["url"]), timeout=600) as r:
    data = r.read()
if hashlib.sha256(data).hexdigest() != sdist["digests"]["sha256"]:
    sys.exit(f"build-llama-server: {sdist['url']} does not match PyPI's sha256")
with open(dest + ".part", "wb") as f:
    f.write(data)
import os
os.replace(dest + ".part", dest)
PY
fi
if [ ! -f "$sdist" ]; then
  echo "build-llama-server: the download did not leave $sdist" >&2
  exit 1
fi

src="$cache/src"
if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  rm -rf "$src" "$cache/src.tmp"
  mkdir -p "$cache/src.tmp"
  tar -xzf "$sdist" -C "$cache/src.tmp" --strip-components=1
  mv "$cache/src.tmp" "$src"
fi

start=$(date +%s)
build="$cache/build"
cmake -S "$src/vendor/llama.cpp" -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON \
  -DGGML_NATIVE=OFF \
  -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
  >"$cache/cmake-configure.log" 2>&1 || {
    echo "build-llama-server: cmake configure failed; see $cache/cmake-configure.log" >&2
    tail -20 "$cache/cmake-configure.log" >&2
    exit 1
  }
cmake --build "$build" --config Release --target "${targets[@]}" -j "$jobs" \
  >"$cache/cmake-build.log" 2>&1 || {
    echo "build-llama-server: build failed; see $cache/cmake-build.log" >&2
    tail -30 "$cache/cmake-build.log" >&2
    exit 1
  }
for target in "${targets[@]}"; do
  built="$build/bin/$target"
  if [ ! -x "$built" ]; then
    echo "build-llama-server: cmake finished but $built is missing" >&2
    exit 1
  fi
  cp "$built" "$cache/bin/$target.tmp" && mv "$cache/bin/$target.tmp" "$cache/bin/$target"
done
end=$(date +%s)
echo "build-llama-server: built ${targets[*]} in $((end - start)) s with $jobs jobs"
echo "$bin"
