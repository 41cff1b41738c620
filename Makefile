# Siphon: the two commands a new user needs are `make demo` and `make test`.
GO        ?= go
BIN       := bin
PKGS      := ./...
GOFLAGS   ?= -buildvcs=false
export GOFLAGS

.PHONY: all build demo test test-unit lint fmt bench soak proto deps clean fuzz

all: build

build:
	$(GO) build -o $(BIN)/siphon ./cmd/siphon
	$(GO) build -o $(BIN)/vomosim ./cmd/vomosim

# demo: the main job on the embedded defaults, no servers to install.
demo: build
	./scripts/demo.sh

# test: the whole suite. scripts/test-deps.sh installs what the tests start
# themselves (redis-server, PostgreSQL) when they are missing.
test: deps lint-fast
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

deps:
	./scripts/test-deps.sh

# lint-fast is what `make test` checks on every run; lint adds staticcheck.
lint-fast:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

lint: lint-fast
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# bench: Go benchmarks, then the end-to-end figures (see scripts/bench.sh).
bench:
	./scripts/bench.sh

# soak: the benchmarks' large variants, then the end-to-end reliability
# suite (e2e/) at full size (SIPHON_SOAK=1); see scripts/soak.sh.
soak:
	./scripts/soak.sh

# fuzz: a few minutes of each fuzz target (the corpus lives in testdata/fuzz).
fuzz:
	./scripts/fuzz.sh

proto:
	./scripts/proto.sh

clean:
	rm -rf $(BIN)
