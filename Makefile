# evidence-node. `make run` starts a node; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 5s

.PHONY: run test deps ops fabric tools unit integration fuzz bench bench-load bench-fabric lint build

run:
	$(GO) run ./cmd/evidenced

build:
	$(GO) build -o bin/ ./cmd/...

# The whole suite: static checks, unit and integration tests under the race
# detector (including the tests on a real Fabric network, which start and
# stop their own network from the binaries `fabric` built, and those that
# start the TSA and witness servers `tools` built), node/fabric's tests once
# more on a BFT network (cmd/evidenced's TestFabricBFT runs in the first
# pass), a check of the build cache's lock, and a short run of every fuzz
# target.
test: deps lint ops fabric tools
	EVIDENCE_FABRIC_NETWORK=1 EVIDENCE_CHAINCODE_BIN=$(CURDIR)/bin/evidence-chaincode \
		$(GO) test -race -count=1 -timeout 25m ./...
	EVIDENCE_FABRIC_NETWORK=1 EVIDENCE_FABRIC_CONSENSUS=bft EVIDENCE_CHAINCODE_BIN=$(CURDIR)/bin/evidence-chaincode \
		$(GO) test -race -count=1 -timeout 10m ./node/fabric/
	network/test-build-lock
	$(MAKE) --no-print-directory fuzz

# Everything the Fabric tests run, built before they start: the pinned Fabric
# binaries (cached by pin under network/.cache, or $$FABRIC_CACHE_DIR) and
# this checkout's chaincode server.
fabric:
	network/build-fabric
	$(GO) build -o bin/evidence-chaincode ./cmd/evidence-chaincode

# The third-party servers the tests start (RFC 3161 TSA, tlog witness) and
# the Tessera log server and load tool for benchmarks, pinned in
# network/tool-versions and cached beside the Fabric binaries.
tools:
	network/build-tools

# The operator's files: the Prometheus alert rules and their unit tests,
# the example Prometheus configuration, the systemd unit (when systemd is
# there to check it). The dashboard is checked against a real node's
# metrics by cmd/evidenced's TestOpsDashboardAndAlerts.
ops:
	promtool check rules docs/ops/alerts.yml
	promtool test rules docs/ops/alerts_test.yml
	promtool check config docs/ops/prometheus.yml
	@if command -v systemd-analyze >/dev/null; then \
		d=$$(mktemp -d) && sed 's|/usr/local/bin/evidenced|/bin/true|' docs/ops/evidenced.service > $$d/evidenced.service && \
		out=$$(systemd-analyze verify --man=no $$d/evidenced.service 2>&1); rm -rf $$d; \
		if [ -n "$$out" ]; then echo "systemd-analyze verify docs/ops/evidenced.service:"; echo "$$out"; exit 1; fi; \
		echo "systemd-analyze verify docs/ops/evidenced.service: ok"; \
	else echo "systemd-analyze not found: docs/ops/evidenced.service not checked"; fi

# Debian packages the tests use (installed only when missing).
deps:
	bash .ci/deps

unit:
	$(GO) test -short -count=1 ./...

integration:
	$(GO) test -count=1 -run 'Walkthrough|Kill9' -v ./cmd/evidenced/

lint:
	@test -z "$$(gofmt -l . | grep -v '^network/')" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Each fuzz target runs for FUZZTIME (go test allows one target per run).
FUZZ_TARGETS := \
	./verifier/evidence:FuzzParseID \
	./verifier/evidence:FuzzParseDigest \
	./verifier/evidence:FuzzParseRecord \
	./verifier/strict:FuzzDecode \
	./web:FuzzDecodeSubmit \
	./web:FuzzDecodeBatch \
	./web:FuzzDecodeVerify \
	./web:FuzzMultipart \
	./chaincode:FuzzPutBatch \
	./verifier:FuzzFabricBlock \
	./verifier:FuzzParseToken \
	./verifier/fabricblock:FuzzParseState \
	./verifier/evpkg:FuzzParse \
	./verifier/logproof:FuzzVerifyProof \
	./node/pdf:FuzzInspect \
	./node/pdf:FuzzExtractAttachments \
	./verifier/pdfsig:FuzzVerify

# Go 1.26's fuzzing coordinator can end a run with a bare "context
# deadline exceeded" at -fuzztime's end, having found nothing (a race in
# internal/fuzz, golang/go#75804, fixed in Go 1.27). That one outcome, with
# no failing input written, is reported and not counted as a failure;
# every other failure is.
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		rc=0; $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg >"$$out" 2>&1 || rc=$$?; \
		cat "$$out"; \
		if [ $$rc != 0 ]; then \
			if grep -qx '    context deadline exceeded' "$$out" && ! grep -q 'Failing input written' "$$out"; then \
				echo "fuzz $$fn: the coordinator's own deadline at -fuzztime's end, no failing input (golang/go#75804): not a failure"; \
			else exit $$rc; fi; \
		fi; \
	done

# Micro-benchmarks (hashing, the embedded ledger).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./verifier/evidence/
	$(GO) test -run '^$$' -bench . ./node/embedded/

# Load benchmarks through the HTTP API with the load generator; see docs/benchmarks.md.
# Ours against Tessera (its POSIX server and hammer), interleaved rounds;
# ROUNDS and SECONDS set their number and length. See docs/benchmarks.md.
bench-peers: tools
	EVIDENCE_BENCH_PEERS=1 EVIDENCE_PEERS_ROUNDS=$(or $(ROUNDS),3) EVIDENCE_PEERS_SECONDS=$(or $(SECONDS),15) EVIDENCE_BENCH_OUT=$(CURDIR)/bench-peers.txt \
		$(GO) test -count=1 -timeout 60m -run TestBenchPeers -v ./cmd/evidenced/
	@cat bench-peers.txt

# BASE=REV measures the evidenced of git revision REV in the same run; TSA=1
# measures this tree with and without two local TSAs stamping every block;
# TLOG=1 with the transparency log and one real witness against --tlog=false.
bench-load:
	EVIDENCE_BENCH_LOAD=1 EVIDENCE_BENCH_BASE=$(BASE) EVIDENCE_BENCH_TSA=$(TSA) EVIDENCE_BENCH_TLOG=$(TLOG) EVIDENCE_BENCH_OUT=$(CURDIR)/bench-load.txt $(GO) test -count=1 -timeout 60m -run TestLoadBenchmarks -v ./cmd/evidenced/
	@cat bench-load.txt

# Fabric throughput in one run: bare Gateway transactions (one record each,
# 64 in flight) and node appends (1,024 concurrent; p50, p99, CPU per
# process) on a Raft network, then on a BFT one, each started fresh on
# PORT (default 29900, clear of the test packages' networks). BENCHTIME
# sets each benchmark's length. See docs/benchmarks.md.
bench-fabric: fabric
	rm -f bench-fabric.txt
	for c in raft bft; do \
		EVIDENCE_FABRIC_NETWORK=1 EVIDENCE_FABRIC_CONSENSUS=$$c EVIDENCE_FABRIC_BASE_PORT=$(or $(PORT),29900) \
		EVIDENCE_CHAINCODE_BIN=$(CURDIR)/bin/evidence-chaincode \
		$(GO) test -count=1 -timeout 20m -run '^$$' -bench 'RawTx|Append/clients=1024$$' -benchtime $(or $(BENCHTIME),6s) ./node/fabric/ \
		>bench-fabric-$$c.log 2>&1; rc=$$?; \
		echo "== consensus $$c" >>bench-fabric.txt; \
		grep -E '^(Benchmark|ok|FAIL|--- FAIL)|CPU ms' bench-fabric-$$c.log >>bench-fabric.txt; \
		[ $$rc = 0 ] || { tail -n 30 bench-fabric-$$c.log; exit 1; }; \
	done
	@cat bench-fabric.txt
