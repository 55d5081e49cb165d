# agentry: two commands.
#   make demo  - from a fresh machine: system packages, build, the demo model, example workflow
#   make test  - what CI checks: format, clippy, the whole test suite (with a Qdrant
#                server when ../shared/bin/qdrant exists or QDRANT_URL is set)
#
# Everything builds in ONE cargo profile (release): llama.cpp and qdrant-edge
# are compiled once and shared by tests, clippy and the demo.

CARGO ?= cargo
PROFILE := --release
BIN := target/release/agentry
export RUST_BACKTRACE ?= 1

.PHONY: demo test deps build fmt clippy check-tests llama-server langgraph

deps:
	bash scripts/install-deps.sh

build: deps
	$(CARGO) build $(PROFILE) --bin agentry

demo: build
	bash scripts/demo.sh

fmt:
	$(CARGO) fmt --all -- --check

clippy: deps
	$(CARGO) clippy $(PROFILE) --workspace --all-targets -- -D warnings

# llama.cpp's own llama-server, the real peer of the OpenAI-compatible backend's tests
# (built once from the llama-cpp-python sdist, cached under ~/.cache/agentry).
llama-server: deps
	bash scripts/build-llama-server.sh

# LangGraph with langchain-openai, the peer of `agentry bench e2e` (a pinned venv under
# ~/.cache/agentry/langgraph; offline once installed). Not needed to build: a failure is
# reported and its test skips, saying why.
langgraph:
	bash scripts/install-langgraph.sh || echo "make: LangGraph is not installed; tests/e2e_bench.rs will skip" >&2

# With a Qdrant server: QDRANT_URL when set, else ../shared/bin/qdrant started on
# 127.0.0.1 for the run (scripts/with-qdrant.sh), else the embedded store only.
check-tests: deps llama-server langgraph
	AGENTRY_REQUIRE_OPENAI_CLIENT=1 bash scripts/with-qdrant.sh $(CARGO) test $(PROFILE) --workspace

test: fmt clippy check-tests
