# `make test` is the one test command: the README gives it and .ci/run runs it.
# It covers every module of the repository but e2e/ (which needs real
# servers; see e2e/README.md): the SDK at the root, the CLI in
# cmd/pyroscope, the wire-protocol tests in conformance and the benchmarks'
# smoke run in bench.
GO ?= go
FUZZTIME ?= 5s
MODULES = . cmd/pyroscope conformance

.PHONY: test vet unit releases publicapi fuzz bench-smoke example

test: vet unit releases publicapi fuzz bench-smoke

# The supported Go releases (go.mod's minimum through the newest), each at
# the newest patch the module proxy serves. `unit` runs everything on the
# main toolchain; `releases` runs the packages that read the runtime's
# internals, or binaries the toolchain built (symbolize), on each of the
# others, fetched through GOTOOLCHAIN.
GO_RELEASES ?= go1.25.14 go1.26.11 go1.27.4
RUNTIME_PKGS = . ./internal/collect ./internal/delta/... ./internal/pprofenc
RELEASE_PKGS = $(RUNTIME_PKGS) ./internal/symbolize

vet:
	for m in $(MODULES) bench examples/otel; do (cd $$m && $(GO) vet ./...) || exit 1; done
	cd e2e && $(GO) vet -tags e2e ./...

unit:
	for m in $(MODULES) examples/otel; do (cd $$m && $(GO) test -race -count=1 -timeout 10m ./...) || exit 1; done

releases:
	@main=$$($(GO) env GOVERSION | cut -d. -f1,2); \
	for v in $(GO_RELEASES); do \
	  case $$v in $$main|$$main.*) echo "$$v: the main toolchain ($$($(GO) env GOVERSION)) ran the whole suite"; continue;; esac; \
	  t0=$$(date +%s); \
	  GOTOOLCHAIN=$$v $(GO) test -race -count=1 $(RELEASE_PKGS) || exit 1; \
	  echo "$$v: release-facing packages passed in $$(( $$(date +%s) - t0 )) s"; \
	done

# The fallback for Go releases newer than the runtime mirrors were checked
# against, forced on today's toolchain: the same exact-delta tests. Then the
# files a Go 1.28 toolchain would pick (the release tag set by hand) must
# build, without a runtime mirror among them.
publicapi:
	$(GO) test -race -count=1 -tags pyroscope_publicapi $(RUNTIME_PKGS)
	$(GO) vet -tags go1.28 ./...

# Each fuzz target runs for a few seconds on top of its seed corpus, on the
# newest supported release: before Go 1.27 the fuzzing coordinator could
# fail a target with a bare "context deadline exceeded" as -fuzztime ran out
# on a busy machine, with no input at fault (go.dev/issue/75804; seen here
# on FuzzParseTagList with go1.26.8).
FUZZ_GO = GOTOOLCHAIN=$(lastword $(GO_RELEASES)) $(GO)
fuzz:
	$(FUZZ_GO) test -run '^$$' -fuzz '^FuzzParseAppName$$' -fuzztime $(FUZZTIME) ./internal/config
	$(FUZZ_GO) test -run '^$$' -fuzz '^FuzzParseTagList$$' -fuzztime $(FUZZTIME) ./internal/config
	$(FUZZ_GO) test -run '^$$' -fuzz '^FuzzParseRetryAfter$$' -fuzztime $(FUZZTIME) ./internal/upload
	$(FUZZ_GO) test -run '^$$' -fuzz '^FuzzOpenBinary$$' -fuzztime $(FUZZTIME) ./internal/symbolize
	$(FUZZ_GO) test -run '^$$' -fuzz '^FuzzPclntab$$' -fuzztime $(FUZZTIME) ./internal/symbolize
	$(FUZZ_GO) test -run '^$$' -fuzz '^FuzzBuildID$$' -fuzztime $(FUZZTIME) ./internal/symbolize

# The benchmark module's tests: a short smoke run of every benchmark driver,
# asserting that each variant ran and uploaded parseable profiles.
bench-smoke:
	cd bench && $(GO) test -count=1 -timeout 10m ./...

example:
	$(GO) run ./examples/basic
