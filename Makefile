# The one test command (the README's and CI's): formatting, vet, and every
# test with the race detector. Fuzz seed corpora run as part of go test.
GO ?= go

.PHONY: test bench serve
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...

# Benchmarks that print the figures quoted in the README and issue notes.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./pebble/ ./http/

serve:
	$(GO) run ./cmd/truce serve
