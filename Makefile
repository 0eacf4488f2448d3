# Leviathan — see README.md.
GO       ?= go
BUILD    ?= build
GOFLAGS_TEST ?= -timeout 60m

.PHONY: lint-workflows all build deps-demo deps-test demo test test-short testimage testrunner-image install-runner-hook bench bench-run bench-overhead bench-tunnel bench-flash bench-report bench-html bench-artifact bench-action bench-loop release-assets vet clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the leviathan, leviathan-hook and leviathan-action commands into build/bin
	$(GO) build -o $(BUILD)/bin/ ./cmd/leviathan ./cmd/leviathan-hook ./cmd/leviathan-action

testimage: ## build the test OS image (build/testimage/leviathan-testos.img)
	$(GO) run ./cmd/leviathan testimage --build-dir $(BUILD)

testrunner-image: ## build the testrunner container image as build/testrunner.tar (docker load -i …)
	$(GO) run ./cmd/leviathan testrunner-image -o $(BUILD)/testrunner.tar

# install-runner-hook: where the hook reads its settings is compiled in
# (a job can run the setgid program with any environment).
HOOK_CONFIG ?= /etc/leviathan/hook.env
HOOK_BIN    ?= /usr/local/bin/leviathan-hook

install-runner-hook: ## as root: make install-runner-hook RUNNER_DIR=/opt/actions-runner RUNNER_USER=runner [HOOK_ARGS='--set K=V …']
	@test -n "$(RUNNER_DIR)" || { echo "set RUNNER_DIR to the runner's directory (where config.sh is)"; exit 2; }
	@test "$$(id -u)" = 0 || { echo "run as root (sudo make install-runner-hook …): the runner's user must not be able to change the hook"; exit 2; }
	CGO_ENABLED=0 $(GO) build -ldflags "-X github.com/balena/leviathan-action/runner-hook/hook.ConfigFile=$(HOOK_CONFIG)" -o $(BUILD)/bin/leviathan-hook ./cmd/leviathan-hook
	$(BUILD)/bin/leviathan-hook install --runner-dir "$(RUNNER_DIR)" $(if $(RUNNER_USER),--runner-user "$(RUNNER_USER)") --bin "$(HOOK_BIN)" $(HOOK_ARGS)

# deps-demo, deps-test: install the Debian packages that are missing (as
# root, or through passwordless sudo; otherwise print the command to run).
# LEVIATHAN_SKIP_DEPS=1 skips them, for machines set up another way.
deps-demo: ## install the Debian packages make demo needs, when missing (LEVIATHAN_SKIP_DEPS=1 skips)
	@LEVIATHAN_SKIP_DEPS=$(LEVIATHAN_SKIP_DEPS) bash scripts/deps.sh demo

deps-test: ## install the Debian packages make test needs, when missing (LEVIATHAN_SKIP_DEPS=1 skips)
	@LEVIATHAN_SKIP_DEPS=$(LEVIATHAN_SKIP_DEPS) bash scripts/deps.sh test

demo: deps-demo ## boot a QEMU DUT, flash the test image, run suites/os, write reports/ (installs what is missing first)
	$(GO) run ./cmd/leviathan run --build-dir $(BUILD)

test: deps-test vet ## all tests, including those that boot real QEMU DUTs (installs what is missing first)
	$(GO) test $(GOFLAGS_TEST) ./...

test-short: ## unit tests only (no QEMU boots)
	$(GO) test -short ./...

vet:
	@out=$$(gofmt -l . 2>/dev/null | grep -v '^build/'); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

lint-workflows: ## actionlint the example workflows against action.yml (part of make test)
	$(GO) test -count=1 -run 'TestExampleWorkflows|TestActionYAML' -v ./action/actioncmd

# bench: every figure, then one table of them all (internal/benchrow: each
# benchmark appends its headline rows to BENCH_ROWS).
BENCH_ROWS := $(abspath $(BUILD))/bench-rows.jsonl
bench: export LEVIATHAN_BENCH_ROWS := $(BENCH_ROWS)
bench: ## every benchmark, with ratios against the tools a user would otherwise use, then one table of the headline figures
	@mkdir -p $(BUILD) && rm -f $(BENCH_ROWS)
	@$(MAKE) -k bench-run bench-flash bench-report bench-html bench-artifact bench-action bench-loop; status=$$?; \
		echo; $(GO) run ./bench/table $(BENCH_ROWS); exit $$status

bench-run: ## leviathan run overhead, exec latency and the tunnel vs raw QEMU, a fresh ssh and a direct connection
	$(GO) run ./bench --build-dir $(BUILD)

bench-overhead: ## the run-overhead figure alone: leviathan run start → first test vs a raw QEMU boot → SSH, taking turns (BOOTS=5)
	$(GO) run ./bench --build-dir $(BUILD) --only run --boots $(or $(BOOTS),5)

bench-tunnel: ## SSH through a worker tunnel vs directly to the DUT: throughput (256 MiB) and connect time
	$(GO) run ./bench --build-dir $(BUILD) --only tunnel

bench-flash: ## leviathan flash vs bmaptool copy and dd; delta; dense vs raw write speed
	$(GO) run ./bench/flash --build-dir $(BUILD)

bench-report: ## reporting 10 000 JUnit cases with 2 000 failures: local time (the fake GitHub's own taken out) and GitHub API calls vs the budget
	$(GO) test -run '^$$' -bench BenchmarkReport10k -benchtime 9x -v ./action/report

bench-html: ## reports/index.html of 10 000 tests and 100 000 console lines: size, write time and Chromium's open time vs the same run's junit.xml (targets: < 5 MB, < 1 s)
	$(GO) test -run '^$$' -bench BenchmarkReport10k -benchtime 5x -v ./testbot/htmlreport

bench-artifact: ## artifact upload through act's server: zstd while uploading vs gzip -6 then upload
	$(GO) test -run '^$$' -bench BenchmarkUpload -benchtime 1x -v ./action/submit

bench-loop: ## the whole loop in a real workflow engine (act): the test job's wall time minus the DUT's boot and the suites (target ≤ 3 s)
	@mkdir -p $(BUILD); $(GO) test -count=1 -run '^TestWorkflow$$' -v ./action/acttest > $(BUILD)/bench-loop.log 2>&1; status=$$?; \
		grep -E 'whole loop|^(ok|FAIL|--- )' $(BUILD)/bench-loop.log; [ $$status -eq 0 ] || echo "bench-loop failed: see $(BUILD)/bench-loop.log"; exit $$status

bench-action: ## the action's step start on an empty cache: download of a released binary vs go build (target ≤ 5 s)
	$(GO) test -run '^$$' -bench BenchmarkActionStart -benchtime 1x -v ./scripts/actionbintest

# release-assets: what a release publishes (docs/release.md); VERSION=v1.2.3
# labels the image. Its reproducibility is checked by make test
# (internal/release TestBuildReproducible).
release-assets: ## static binaries for linux/amd64 and arm64, the testrunner image (OCI archive, digest) and SHA256SUMS in build/release
	$(GO) run ./internal/release/cmd build -o $(BUILD)/release $(if $(VERSION),-version $(VERSION))

clean:
	rm -rf $(BUILD) reports
