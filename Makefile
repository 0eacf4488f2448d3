# Leviathan — see README.md.
GO       ?= go
BUILD    ?= build
GOFLAGS_TEST ?= -timeout 60m

.PHONY: all build demo test test-short testimage bench bench-run bench-flash vet clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the leviathan CLI into build/bin
	$(GO) build -o $(BUILD)/bin/leviathan ./cmd/leviathan

testimage: ## build the test OS image (build/testimage/leviathan-testos.img)
	$(GO) run ./cmd/leviathan testimage --build-dir $(BUILD)

demo: ## boot a QEMU DUT, flash the test image, run suites/os, write reports/
	$(GO) run ./cmd/leviathan run --build-dir $(BUILD)

test: vet ## all tests, including those that boot real QEMU DUTs
	$(GO) test $(GOFLAGS_TEST) ./...

test-short: ## unit tests only (no QEMU boots)
	$(GO) test -short ./...

vet:
	@out=$$(gofmt -l . 2>/dev/null | grep -v '^build/'); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: bench-run bench-flash ## every benchmark, with ratios against the tools a user would otherwise use

bench-run: ## leviathan run overhead and exec latency vs raw QEMU and a fresh ssh
	$(GO) run ./bench --build-dir $(BUILD)

bench-flash: ## leviathan flash vs bmaptool copy and dd; delta; dense vs raw write speed
	$(GO) run ./bench/flash --build-dir $(BUILD)

clean:
	rm -rf $(BUILD) reports
