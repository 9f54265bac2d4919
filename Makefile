# The one test command (the README's and CI's): formatting, vet, and every
# test with the race detector. Fuzz seed corpora run as part of go test.
# Then the TypeScript client's tests (test-js).
GO ?= go

.PHONY: test test-js bench serve openapi-client console-screenshots
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...
	$(MAKE) test-js

# The TypeScript client (clients/js): npm ci installs its dev dependencies
# from the committed lockfile when node_modules is missing or older than
# the lockfile; npm test builds truce with go build and runs node --test
# against it, the browser smoke test in headless Chromium included. A
# missing node, npm or Chromium fails the tests, with what to install.
test-js:
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ echo "make test needs node and npm for clients/js (Debian: apt-get install nodejs npm)"; exit 1; }
	cd clients/js && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund; fi && npm test

# Benchmarks that print the figures quoted in the README and issue notes.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./pebble/ ./http/

serve:
	$(GO) run ./cmd/truce serve

# Redraws docs/console/*.png, the README's pictures of the web console, from
# the browser test (headless Chromium; Debian's chromium package).
console-screenshots:
	TRUCE_SCREENSHOTS=1 $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./web/

# Shows that a generator can use the OpenAPI document: oapi-codegen (a
# pinned release, fetched by go run) generates a Go client from it in a
# temporary module, which is then compiled.
OAPI_CODEGEN ?= github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2
OAPI_RUNTIME ?= github.com/oapi-codegen/runtime@v1.9.0
openapi-client:
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	$(GO) run ./cmd/truce openapi > "$$dir/truce.json" && cd "$$dir" && \
	printf 'module example.com/truceapi\n\ngo 1.26\n' > go.mod && \
	$(GO) run $(OAPI_CODEGEN) -generate types,client -package truceapi truce.json > client.gen.go && \
	$(GO) get $(OAPI_RUNTIME) && $(GO) mod tidy && $(GO) build ./... && \
	echo "oapi-codegen generated a client of $$(grep -c '^func (c \*Client)' client.gen.go) client methods from the OpenAPI document, and it compiles"

# The long mode of the correctness harness (internal/robustness, README "How
# we test correctness"): many linearizability runs with many faults, kill -9
# cycles, and every fuzz target for a while. Each knob can be set on the
# command line, e.g. make verify VERIFY_RUNS=3 FUZZTIME=10s.
VERIFY_RUNS ?= 10
VERIFY_DURATION ?= 10s
VERIFY_EVERY ?= 1500ms
VERIFY_FAULTS ?= kill,pause,timeouts
VERIFY_CYCLES ?= 25
VERIFY_CLUSTER_FAULTS ?= kill,kill-postgres,pause,timeouts
FUZZTIME ?= 30s
FUZZ_TARGETS = .:FuzzParseBody .:FuzzParsePlainBody .:FuzzParseETagList .:FuzzPatch ./merge/:FuzzMerge3 ./merge/:FuzzDiff \
	./http/:FuzzDocumentPath ./http/:FuzzWriteBody ./http/:FuzzBearerToken ./auth/:FuzzParseFile

# The soak (internal/soak): SOAK of mixed load on one truce serve, sampled
# every SOAK_SAMPLE; fails on any violation, error or growth trend. make test
# runs a 20 s one.
SOAK ?= 10m
SOAK_SAMPLE ?= 10s
.PHONY: soak
soak:
	TRUCE_SOAK=$(SOAK) TRUCE_SOAK_SAMPLE=$(SOAK_SAMPLE) $(GO) test -count=1 -timeout 3h -v -run '^TestSoak$$' ./internal/soak/

.PHONY: verify verify-robustness verify-fuzz
verify: verify-robustness verify-fuzz

verify-robustness:
	TRUCE_ROBUSTNESS_RUNS=$(VERIFY_RUNS) TRUCE_ROBUSTNESS_DURATION=$(VERIFY_DURATION) \
	TRUCE_ROBUSTNESS_EVERY=$(VERIFY_EVERY) TRUCE_ROBUSTNESS_FAULTS=$(VERIFY_FAULTS) \
	TRUCE_CRASH_CYCLES=$(VERIFY_CYCLES) \
	$(GO) test -count=1 -timeout 60m -v -run 'TestLinearizable|TestCrashSafety|TestBankTransfers|TestInteractiveTransfers|TestLockFencing' ./internal/robustness/
	TRUCE_CLUSTER_RUNS=$(VERIFY_RUNS) TRUCE_ROBUSTNESS_DURATION=$(VERIFY_DURATION) \
	TRUCE_ROBUSTNESS_EVERY=$(VERIFY_EVERY) TRUCE_ROBUSTNESS_FAULTS=$(VERIFY_CLUSTER_FAULTS) \
	$(GO) test -count=1 -timeout 60m -v -run 'TestCluster' ./internal/robustness/

verify-fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		log=$$(mktemp); \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1; rc=$$?; \
		grep -v '^fuzz: elapsed' $$log; grep '^fuzz: elapsed' $$log | tail -n 1; rm -f $$log; \
		[ $$rc -eq 0 ] || exit 1; \
	done
