# The few verbs a newcomer needs. `make run` and `make test` do all set-up.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/ckalab
GO_LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build web test test-go test-short test-web deps images bench lint clean

## run: build everything and start ckalab on http://127.0.0.1:8080
run: build
	./$(BIN) serve

## build: the web app and the ckalab binary with the web app embedded
build: web
	go build -tags embedweb -ldflags "$(GO_LDFLAGS)" -o $(BIN) ./cmd/ckalab

web: web/node_modules/.installed
	cd web && npm run --silent build

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## deps: install what the tests need on this machine (idempotent)
deps:
	bash .ci/deps.sh

## test: every test stage (.ci/test.sh): deps, a fresh-machine check of the
## image build, the node images, vet, lab validation, the Go tests (race
## detector on, kind clusters included), the browser tests. A failing stage
## does not stop the others; all failures are listed at the end.
test:
	bash .ci/test.sh

test-go:
	go vet ./...
	go test -race -count=1 -p 1 -timeout 75m ./...
	go run ./cmd/ckalab labs validate labs
	cd cluster-images/ckanet && go vet ./... && go test -count=1 ./...

## test-short: unit tests only (no Docker, no kind clusters)
test-short:
	go test -short -count=1 ./...

test-web: build
	cd web && node e2e/run.mjs

## images: build ckalab's kind node images (cached; cold about 45 min on 2 cores)
images:
	bash cluster-images/build.sh

bench:
	go test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin web/dist
