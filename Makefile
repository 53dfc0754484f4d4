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
# Debian's Rust 1.63 with the wasm32-wasi std; another cargo may be first on PATH.
CARGO       := RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=$(CURDIR)/$(BUILD)/cargo /usr/bin/cargo
CARGO_WASM  := $(CARGO) build --offline --release --target wasm32-wasi
# The AssemblyScript SDK's pinned asc (package-lock.json), installed by make deps.
ASC         := node node_modules/assemblyscript/bin/asc.js
GOWASM      := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath

# Go tools at pinned versions, each in a directory named for its version so
# that changing a version here reinstalls it.
TOOLS       := $(BUILD)/tools
STATICCHECK := $(TOOLS)/staticcheck-v0.8.2/staticcheck
GOIMPORTS   := $(TOOLS)/goimports-v0.52.0/goimports
PROTOC_GEN_GO      := $(TOOLS)/protoc-gen-go-v1.36.12/protoc-gen-go
PROTOC_GEN_GO_GRPC := $(TOOLS)/protoc-gen-go-grpc-v1.5.1/protoc-gen-go-grpc
# grpcurl: the gRPC client the `wasmreg serve` tests call the server with.
GRPCURL     := $(TOOLS)/grpcurl-v1.9.4/grpcurl
# ghz, the gRPC load generator of make bench-serve (hey, its HTTP one, is a Debian package).
GHZ         := $(TOOLS)/ghz-v0.93.0/ghz
GO_TOOLS    := $(STATICCHECK) $(GOIMPORTS) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) $(GRPCURL) $(GHZ)

# The OIP gRPC service's Go code, generated from serve/oippb's copied .proto.
OIPPB_DIR   := serve/oippb
OIPPB_PROTO := open_inference_grpc.proto
OIPPB_GOPKG := github.com/wasmreg/wasmreg/serve/oippb
# protoc_gen OUTDIR: generate the .pb.go files into OUTDIR.
protoc_gen = protoc -I $(OIPPB_DIR) \
	--plugin=protoc-gen-go=$(PROTOC_GEN_GO) --plugin=protoc-gen-go-grpc=$(PROTOC_GEN_GO_GRPC) \
	--go_out=$(1) --go_opt=paths=source_relative --go_opt=M$(OIPPB_PROTO)=$(OIPPB_GOPKG) \
	--go-grpc_out=$(1) --go-grpc_opt=paths=source_relative --go-grpc_opt=M$(OIPPB_PROTO)=$(OIPPB_GOPKG) \
	$(OIPPB_DIR)/$(OIPPB_PROTO)

# The image `make image` builds, and the manifests under deploy/ name.
IMAGE       ?= localhost/wasmreg:latest
IMAGE_CONTEXT := $(BUILD)/image
PODMAN      := CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf podman

.PHONY: image image-context test-deploy scale-test all proto deps deps-apt demo test examples bench bench-extism bench-serve check fixtures demo-assets fuzz fuzz-smoke clean wasmreg

# Every fuzz target, as package:Function.
FUZZ_TARGETS := ./serve:FuzzTensor ./serve:FuzzRawTensor ./serve:FuzzDeclaredOutputs ./host:FuzzLoad ./host:FuzzValidate ./host:FuzzPredict ./host:FuzzMetadata ./host:FuzzImports ./host:FuzzConfigSchema ./host/internal/snapshot:FuzzRewriteForSnapshot ./host/internal/snapshot:FuzzDecodePlan ./host/internal/loadcache:FuzzDecode \
	./host/internal/wasmbin:FuzzDecode ./host/internal/wasmbin:FuzzDecodeWazero \
	./host/internal/wasmbin:FuzzDecodeObjdump ./host/internal/wasmbin:FuzzBody \
	./host/internal/interrupt:FuzzInstrument ./host/internal/interrupt:FuzzInstrumentSemantics \
	./internal/safetext:FuzzLine ./internal/safetext:FuzzJSON \
	./internal/oci:FuzzParseReference ./internal/oci:FuzzDecodeManifest \
	./registry:FuzzParseName ./examples/mlpnet:FuzzDecode \
	./examples/factories:FuzzCSDKJSON ./examples/factories:FuzzRustSDKJSON ./examples/factories:FuzzASSDKJSON ./examples/factories:FuzzGoSDKNameRules ./examples/factories/linear:FuzzLinear \
	./cmd/wasmreg/internal/app:FuzzReorderArgs ./cmd/wasmreg/internal/app:FuzzParseModels
FUZZTIME ?= 60s

all: wasmreg examples

## demo: build the CLI and run the built-in default (the trained digits model)
demo: wasmreg
	$(WASMREG) run

# Static, as the image's (nothing needs cgo): no dynamic loader at every start (docs/PERFORMANCE.md §5).
wasmreg:
	CGO_ENABLED=0 $(GO) build -o $(WASMREG) ./cmd/wasmreg

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
	@echo "wat  $(FACTORIES)/abi-only.wasm (examples/factories/abi-only, from docs/ABI.md alone)"
	@wat2wasm examples/factories/abi-only/abi-only.wat -o $(FACTORIES)/abi-only.wasm
	@echo "rust $(FACTORIES)/scale-rs.wasm (guest-sdk/rust/example)"
	@cd guest-sdk/rust/example && $(CARGO_WASM) -q
	@cp $(BUILD)/cargo/wasm32-wasi/release/scale.wasm $(FACTORIES)/scale-rs.wasm
	@echo "as   $(FACTORIES)/scale-as.wasm (guest-sdk/assemblyscript/example/scale.ts)"
	@cd guest-sdk/assemblyscript && $(ASC) example/scale.ts --config asconfig.json --target release -o $(CURDIR)/$(FACTORIES)/scale-as.wasm

## deps: install the C, Rust, AssemblyScript and WAT toolchains, the registry and the Go tools the tests need, if missing
APT_PACKAGES := clang lld gcc wasi-libc libclang-rt-14-dev-wasm32 wabt rustc cargo libstd-rust-dev-wasm32 librust-serde-json-dev nodejs docker-registry skopeo protobuf-compiler podman runc catatonit ca-certificates haproxy hey curl jq
ORAS_VERSION := v1.3.6
deps: deps-apt $(GO_TOOLS)
	@# npm's cache under build/, so that CI can keep it; ci installs exactly package-lock.json.
	@# Debian's nodejs comes without npm (NodeSource's has it built in).
	@command -v npm >/dev/null || $(MAKE) --no-print-directory deps-apt APT_PACKAGES=npm
	@[ -x guest-sdk/assemblyscript/node_modules/.bin/asc ] || \
		(cd guest-sdk/assemblyscript && npm ci --no-audit --no-fund --cache $(CURDIR)/$(BUILD)/npm-cache)
	@command -v oras >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/oras" ] || $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)
deps-apt:
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	else echo "install: apt-get install $(APT_PACKAGES)"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

## test: everything, with -race: checks, example factories, library, CLI, SDKs, fuzz briefly
test: deps check examples wasmreg
	$(GO) test -race -count=1 ./...
	WASMREG_HEARTBEAT=1 $(GO) test -race -count=1 -run '^TestHostileHeartbeat$$' ./host/
	cd guest-sdk/go && $(GO) test -count=1 ./...
	cd guest-sdk/rust && $(CARGO) test --offline -q
	$(MAKE) --no-print-directory test-deploy
	cd guest-sdk/rust && $(CARGO) build --offline -q --features serde_json
	$(WASMREG) list --dir $(FACTORIES)
	$(WASMREG) run
	$(MAKE) fuzz-smoke

## image: build the container image (Containerfile) with podman, tagged $(IMAGE)
image: image-context
	$(PODMAN) build --quiet -t $(IMAGE) -f Containerfile $(IMAGE_CONTEXT)

## image-context: the static binary, CA certificates and an empty cache directory, for any builder
image-context:
	@rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)/cache
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(IMAGE_CONTEXT)/wasmreg ./cmd/wasmreg
	cp /etc/ssl/certs/ca-certificates.crt $(IMAGE_CONTEXT)/

## test-deploy: the image, run with podman, and the Kubernetes and KServe manifests (a module of its own)
test-deploy: image wasmreg
	cd deploy && IMAGE=$(IMAGE) CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf $(GO) test -race -count=1 ./...

## scale-test: three replicas behind haproxy, by digest from a registry, under load through a SIGKILL and a rolling update
scale-test: wasmreg
	cd deploy && $(GO) test -count=1 -v -run '^TestScaleOut$$' ./scale/

## fuzz: run every fuzz target for FUZZTIME (default 60s) each
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); st=$$?; echo "$$out"; \
		if [ $$st -ne 0 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
			echo "fuzz $$fn: Go's fuzzer ran out of time coordinating its workers, with no failing input: once more"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		elif [ $$st -ne 0 ]; then exit 1; fi; \
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

## bench-serve: serving benchmarks on 127.0.0.1 (hey for REST, ghz for gRPC): package serve
## next to bare net/http and grpc-go, request vs model isolation, the digits model served
## next to `wasmreg bench`, rps per core; shorter: make bench-serve BENCH_SERVE_FLAGS=-duration=3s
BENCH_SERVE_FLAGS ?=
bench-serve: examples wasmreg $(GHZ)
	$(GO) build -o $(BUILD)/bin/benchserver ./bench/serve/cmd/benchserver
	$(GO) run ./bench/serve/cmd/benchserve -server $(BUILD)/bin/benchserver -wasmreg $(WASMREG) \
		-ghz $(GHZ) -factories $(FACTORIES) $(BENCH_SERVE_FLAGS)

## check: formatting, vet, tidy modules, the Go SDK cross-builds for wasip1
check: $(GO_TOOLS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@# Generated code (*.pb.go) is checked against its .proto below instead.
	@out=$$($(GOIMPORTS) -local github.com/wasmreg/wasmreg -l $$(git ls-files '*.go' ':!*.pb.go')); \
		if [ -n "$$out" ]; then echo "goimports -local github.com/wasmreg/wasmreg -w needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) mod tidy -diff
	@tmp=$$(mktemp -d) && $(call protoc_gen,$$tmp) && \
		if ! diff -r -x '*.proto' -x '*.md' -x LICENSE $(OIPPB_DIR) $$tmp >/dev/null; then \
			rm -rf $$tmp; echo "$(OIPPB_DIR) differs from its .proto: run make proto"; exit 1; fi; rm -rf $$tmp
	cd guest-sdk/go && $(GO) vet ./... && $(GO) mod tidy -diff && $(CURDIR)/$(STATICCHECK) ./...
	cd deploy && $(GO) vet ./... && $(GO) mod tidy -diff && $(CURDIR)/$(STATICCHECK) ./...
	cd guest-sdk/go && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) build ./...

## proto: regenerate serve/oippb/*.pb.go from the OIP .proto
proto: $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC)
	$(call protoc_gen,$(OIPPB_DIR))

$(PROTOC_GEN_GO):
	GOBIN=$(CURDIR)/$(@D) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
$(PROTOC_GEN_GO_GRPC):
	GOBIN=$(CURDIR)/$(@D) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1

$(GRPCURL):
	GOBIN=$(CURDIR)/$(@D) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
$(GOIMPORTS):
	GOBIN=$(CURDIR)/$(@D) $(GO) install golang.org/x/tools/cmd/goimports@v0.52.0
$(GHZ):
	GOBIN=$(CURDIR)/$(@D) $(GO) install github.com/bojand/ghz/cmd/ghz@v0.93.0

## fixtures: regenerate the WAT test fixtures' .wasm files
fixtures:
	$(GO) generate ./host/...

## demo-assets: rebuild the mlp factory the CLI embeds for `wasmreg run`
demo-assets:
	$(GOWASM) -o cmd/wasmreg/internal/demo/mlp.wasm ./examples/factories/mlp

clean:
	rm -rf $(BUILD)
