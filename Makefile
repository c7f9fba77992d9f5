# visionnb: a Go (GoNB) notebook environment for hands-on computer vision.
#
#   make setup      install what a fresh Debian 12 machine lacks (idempotent; fast when done)
#   make test       go vet, go test, then run every notebook in notebooks/ headless, twice
#   make demo       run the tutorial notebook headless, writing out/<name>.ipynb and .html
#   make notebook   JupyterLab (in .venv/) with the "Go (mlkit)" kernel and gopls, opened in notebooks/
#   make bench      benchmarks (bench/), when present
#
# The same `make setup && make test` is what CI runs (.ci/run).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO            ?= go
PYTHON        ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
MLKIT_KERNEL  := bin/mlkit-kernel
APT_JUPYTER   := jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel
# pip downloads the XLA CPU plugin wheel (mlkit/backend/install-xla-cpu.sh); gcc and libc6-dev build
# the cgo XLA binding (without a C compiler Go falls back to CGO_ENABLED=0 and mlkit to pure Go).
APT_EXTRA     := python3-pip gcc libc6-dev
GO_TEST_FLAGS ?= -timeout 60m
NB_TIMEOUT    ?= 30m
JUPYTERLAB    ?= jupyterlab==4.6.6
GOPLS_VERSION ?= v0.23.0
# make notebook: JupyterLab refuses to start as root without --allow-root; NOTEBOOK_FLAGS adds more,
# e.g. NOTEBOOK_FLAGS=--no-browser on a headless machine (then open the printed URL).
NOTEBOOK_ROOT_FLAG := $(shell test "$$(id -u)" = 0 && echo --allow-root)
NOTEBOOK_FLAGS ?=
TUTORIAL      := $(firstword $(wildcard notebooks/00-tutorial.ipynb) $(sort $(wildcard notebooks/*.ipynb)))

.PHONY: help setup test vet gotest notebooks demo notebook gopls bench build kernel clean

help:
	@sed -n '3,9p' Makefile | sed 's/^# \{0,1\}//'

# bin/mlkit-kernel is rebuilt whenever its sources change.
$(MLKIT_KERNEL): $(wildcard cmd/mlkit-kernel/*.go internal/kernel/*.go internal/kernel/*.py) go.mod go.sum
	$(GO) build -o $@ ./cmd/mlkit-kernel

setup:
	@t0=$$(date +%s); bash internal/kernel/apt-ensure.sh $(APT_JUPYTER) $(APT_EXTRA); \
	  echo "setup: apt packages checked in $$(( $$(date +%s) - t0 ))s"
	$(GO) build -o $(MLKIT_KERNEL) ./cmd/mlkit-kernel
	./$(MLKIT_KERNEL) install
	@if [ -f mlkit/backend/install-xla-cpu.sh ]; then bash mlkit/backend/install-xla-cpu.sh; \
	  else echo "setup: mlkit/backend/install-xla-cpu.sh not present, XLA CPU plugin not installed"; fi
	$(GO) build ./...
	@echo "setup: done"

build: $(MLKIT_KERNEL)
	$(GO) build ./...

kernel: $(MLKIT_KERNEL)
	./$(MLKIT_KERNEL) install

test: vet gotest notebooks

# The Go files the format checks read: everything but hidden dirs (.cache, .venv, .git), out/, bin/,
# testdata/ fixtures and third_party/ (upstream code kept in its own style; see third_party/*/VISIONNB.md).
GO_FILES_CMD  := find . \( -name '.?*' -o -name out -o -name bin -o -name testdata -o -name third_party \) -prune -o -name '*.go' -print

# vet: gofmt, goimports and staticcheck (both pinned as tools in go.mod; `go tool` builds them on first
# use, so a clean CI machine needs nothing installed), then go vet. Each check lists what it objects to.
vet:
	@files=$$($(GO_FILES_CMD) | sort); \
	  bad=$$(gofmt -l $$files); \
	  if [ -n "$$bad" ]; then echo "vet: gofmt would reformat these files (run gofmt -w):" >&2; echo "$$bad" >&2; exit 1; fi; \
	  bad=$$($(GO) tool goimports -l $$files); \
	  if [ -n "$$bad" ]; then echo "vet: goimports would change these files (run go tool goimports -w):" >&2; echo "$$bad" >&2; exit 1; fi; \
	  echo "vet: gofmt and goimports clean ($$(echo $$files | wc -w) files)"
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

gotest:
	$(GO) test $(GO_TEST_FLAGS) ./...

# Notebooks run against fresh apps (MLKIT_HOME) so every test run starts from an empty state, then a
# second time on the same app home, as people re-run notebooks: that run must pass too, and be fast,
# because uploads, embeddings, dataset versions, models and evaluations are all reused.
notebooks: $(MLKIT_KERNEL)
	rm -rf out/test/apps
	MLKIT_HOME=$(CURDIR)/out/test/apps ./$(MLKIT_KERNEL) run --out out/test --timeout $(NB_TIMEOUT) notebooks/
	@echo "notebooks: second run on the same app home"
	MLKIT_HOME=$(CURDIR)/out/test/apps ./$(MLKIT_KERNEL) run --out out/test/rerun --timeout $(NB_TIMEOUT) notebooks/

demo: $(MLKIT_KERNEL)
	@test -n "$(TUTORIAL)" || { echo "demo: no notebook in notebooks/" >&2; exit 1; }
	./$(MLKIT_KERNEL) run --out out --html --timeout $(NB_TIMEOUT) $(TUTORIAL)

notebook: $(MLKIT_KERNEL)
	@if [ ! -x .venv/bin/jupyter-lab ]; then \
	  bash internal/kernel/apt-ensure.sh python3-venv python3-pip; \
	  $(PYTHON) -m venv .venv; \
	  .venv/bin/pip install --quiet --upgrade pip; \
	  .venv/bin/pip install --quiet "$(JUPYTERLAB)"; \
	fi
	./$(MLKIT_KERNEL) install --prefix .venv
	@$(MAKE) --no-print-directory gopls
	cd notebooks && ../.venv/bin/jupyter lab $(NOTEBOOK_ROOT_FLAG) $(NOTEBOOK_FLAGS)

# gopls gives GoNB its Tab completion and hover docs; GoNB finds it on the kernel's PATH, which starts
# with bin/. Pinned like the other tools, but installed with `go install` (not a go.mod tool: its
# dependencies would move the module's golang.org/x/tools); v0.24 needs a newer Go than go.mod's.
gopls:
	@if [ -x bin/gopls ] && bin/gopls version 2>/dev/null | grep -q "$(GOPLS_VERSION)"; then :; else \
	  echo "gopls: installing golang.org/x/tools/gopls@$(GOPLS_VERSION) into bin/ (once: a build of a few minutes)"; \
	  GOBIN=$(CURDIR)/bin GOFLAGS= GOTOOLCHAIN=local $(GO) install golang.org/x/tools/gopls@$(GOPLS_VERSION); fi

# PyTorch is pip's torch 2.15.0 / torchvision 0.29.2, which the bench installs into .cache/bench-venv
# (about 5 GB) when missing; BENCH_FLAGS passes flags, e.g. BENCH_FLAGS="-quick" or "-python /path/python".
bench:
	@if [ -d bench ]; then $(GO) run ./bench $(BENCH_FLAGS); else echo "bench: no bench/ directory yet"; fi

clean:
	rm -rf out .cache/jupyter $(MLKIT_KERNEL)
