# wasmreg's front door. `make demo` and `make test` are the two commands a
# fresh machine needs (after .ci/run's apt-get line, or the same packages).

GO          ?= go
BUILD       := build
FACTORIES   := $(BUILD)/factories
WASMREG     := $(BUILD)/bin/wasmreg
GO_FACTORIES := linear mlp
C_FACTORIES  := centroid mlpc
CLANG       ?= clang
CFLAGS_WASM := --target=wasm32-wasi -mexec-model=reactor -O2 -msimd128 -Wall -Werror -Wl,--stack-first -Wl,--strip-debug -I guest-sdk/c
GOWASM      := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath

.PHONY: all deps demo test examples bench bench-extism check fixtures demo-assets fuzz fuzz-smoke clean wasmreg

# Every fuzz target, as package:Function.
FUZZ_TARGETS := ./serve:FuzzTensor ./host:FuzzLoad ./host:FuzzPredict ./host:FuzzImports ./host:FuzzRewriteForSnapshot \
	./host/internal/wasmbin:FuzzDecode ./host/internal/wasmbin:FuzzDecodeWazero \
	./host/internal/wasmbin:FuzzDecodeObjdump ./host/internal/wasmbin:FuzzBody \
	./host/internal/interrupt:FuzzInstrument ./host/internal/interrupt:FuzzInstrumentSemantics \
	./internal/safetext:FuzzLine ./internal/safetext:FuzzJSON \
	./registry:FuzzParseName ./examples/mlpnet:FuzzDecode \
	./examples/factories:FuzzCSDKJSON ./examples/factories:FuzzGoSDKNameRules ./examples/factories/linear:FuzzLinear \
	./cmd/wasmreg/internal/app:FuzzReorderArgs
FUZZTIME ?= 60s

all: wasmreg examples

## demo: build the CLI and run the built-in default (the trained digits model)
demo: wasmreg
	$(WASMREG) run

wasmreg:
	$(GO) build -o $(WASMREG) ./cmd/wasmreg

## examples: build every example factory into build/factories
examples:
	@mkdir -p $(FACTORIES)
	@for f in $(GO_FACTORIES); do \
		echo "go   $(FACTORIES)/$$f.wasm"; \
		$(GOWASM) -o $(FACTORIES)/$$f.wasm ./examples/factories/$$f || exit 1; \
	done
	@for f in $(C_FACTORIES); do \
		echo "c    $(FACTORIES)/$$f.wasm"; \
		$(CLANG) $(CFLAGS_WASM) -o $(FACTORIES)/$$f.wasm examples/factories/$$f/*.c || exit 1; \
	done
	@echo "go   $(FACTORIES)/greeter.wasm (guest-sdk/go/example/minimal)"
	@cd guest-sdk/go && $(GOWASM) -o ../../$(FACTORIES)/greeter.wasm ./example/minimal
	@echo "c    $(FACTORIES)/scale.wasm (guest-sdk/c/example/minimal.c)"
	@$(CLANG) $(CFLAGS_WASM) -o $(FACTORIES)/scale.wasm guest-sdk/c/example/minimal.c
	@cp host/testdata/echo.wasm $(FACTORIES)/echo.wasm

## deps: install the C and WAT toolchains the tests need (Debian's packages), if missing
APT_PACKAGES := clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt
deps:
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	else echo "install: apt-get install $(APT_PACKAGES)"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

## test: everything, with -race: checks, example factories, library, CLI, SDKs, fuzz briefly
test: deps check examples wasmreg
	$(GO) test -race -count=1 ./...
	WASMREG_HEARTBEAT=1 $(GO) test -race -count=1 -run '^TestHostileHeartbeat$$' ./host/
	cd guest-sdk/go && $(GO) test -count=1 ./...
	$(WASMREG) list --dir $(FACTORIES)
	$(WASMREG) run
	$(MAKE) fuzz-smoke

## fuzz: run every fuzz target for FUZZTIME (default 60s) each
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

## fuzz-smoke: every fuzz target for a few seconds, as make test does
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

## bench: benchmarks with their baselines, the ratios between them, and
## how the parallel ones scale from one core to two
bench:
	( $(GO) test -run '^$$' -bench . -skip Parallel -benchmem -count 3 ./host/... ./registry/... ./examples/... ./cmd/wasmreg && \
	  $(GO) test -run '^$$' -bench Parallel -cpu 1,2 -benchmem -count 3 ./host/... ./registry/... ) \
		| $(GO) run ./internal/benchratio

## bench-extism: wasmreg next to Extism's Go SDK, a module of its own (downloads Extism)
bench-extism:
	(cd bench/extism && $(GO) test -run '^$$' -bench . -benchmem -count 3 ./...) | $(GO) run ./internal/benchratio

## check: formatting, vet, tidy modules, the Go SDK cross-builds for wasip1
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	cd guest-sdk/go && $(GO) vet ./... && $(GO) mod tidy -diff
	cd guest-sdk/go && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) build ./...

## fixtures: regenerate the WAT test fixtures' .wasm files
fixtures:
	$(GO) generate ./host/...

## demo-assets: rebuild the mlp factory the CLI embeds for `wasmreg run`
demo-assets:
	$(GOWASM) -o cmd/wasmreg/internal/demo/mlp.wasm ./examples/factories/mlp

clean:
	rm -rf $(BUILD)
