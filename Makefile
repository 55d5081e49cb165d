# agentry: two commands.
#   make demo  - from a fresh machine: system packages, build, the demo model, example workflow
#   make test  - what CI checks: format, clippy, the whole test suite
#
# Everything builds in ONE cargo profile (release): llama.cpp and qdrant-edge
# are compiled once and shared by tests, clippy and the demo.

CARGO ?= cargo
PROFILE := --release
BIN := target/release/agentry
export RUST_BACKTRACE ?= 1

.PHONY: demo test deps build fmt clippy check-tests

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

check-tests: deps
	$(CARGO) test $(PROFILE) --workspace

test: fmt clippy check-tests
