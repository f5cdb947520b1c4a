# `make test` is the one test command: the README gives it and .ci/run runs it.
# It covers every module of the repository but e2e/ (which needs real
# servers; see e2e/README.md): the SDK at the root, the CLI in
# cmd/pyroscope, the wire-protocol tests in conformance and the benchmarks'
# smoke run in bench.
GO ?= go
FUZZTIME ?= 5s
MODULES = . cmd/pyroscope conformance

.PHONY: test vet unit fuzz bench-smoke example

test: vet unit fuzz bench-smoke

vet:
	for m in $(MODULES) bench; do (cd $$m && $(GO) vet ./...) || exit 1; done
	cd e2e && $(GO) vet -tags e2e ./...

unit:
	for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 -timeout 10m ./...) || exit 1; done

# Each fuzz target runs for a few seconds on top of its seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseAppName$$' -fuzztime $(FUZZTIME) ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseTagList$$' -fuzztime $(FUZZTIME) ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseRetryAfter$$' -fuzztime $(FUZZTIME) ./internal/upload

# The benchmark module's tests: a short smoke run of every benchmark driver,
# asserting that each variant ran and uploaded parseable profiles.
bench-smoke:
	cd bench && $(GO) test -count=1 -timeout 10m ./...

example:
	$(GO) run ./examples/basic
