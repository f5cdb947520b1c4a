# `make test` is the one test command: the README gives it and .ci/run runs it.
GO ?= go
FUZZTIME ?= 5s

.PHONY: test vet unit fuzz bench-smoke example

test: vet unit fuzz bench-smoke

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 10m ./...

# Each fuzz target runs for a few seconds on top of its seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseAppName$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseTagList$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseRetryAfter$$' -fuzztime $(FUZZTIME) ./upload

# The benchmark module's tests: a short smoke run of every benchmark driver,
# asserting that each variant ran and uploaded parseable profiles.
bench-smoke:
	cd bench && $(GO) test -count=1 -timeout 10m ./...

example:
	$(GO) run ./examples/basic
