# tenantd — run `make help` for the targets.
GO      ?= go
PKGS    ?= ./...
TIMEOUT ?= 15m

.DEFAULT_GOAL := help
.PHONY: help run build tools js-deps graphiql-assets bench-load test test-race generate check-generated bench lint fmt clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The version tenantd --version and /healthz report.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X github.com/tenantd/tenantd/internal/version.Version=$(VERSION)

run: build ## build bin/tenantd (if the sources changed), then run it on embedded SQLite in ./data
	bin/tenantd serve

build: ## build bin/tenantd (the first time with a progress count; then only what changed)
	@GO='$(GO)' LDFLAGS='$(LDFLAGS)' ./scripts/build-bin.sh

# Test peers, pinned: Stripe's own API mock and Mailpit (SMTP + HTTP API).
STRIPE_MOCK_VERSION ?= v0.203.0
MAILPIT_VERSION     ?= v1.33.1
TOOLS := $(CURDIR)/bin/tools

tools: $(TOOLS)/stripe-mock $(TOOLS)/mailpit ## install the pinned test peers into bin/tools

$(TOOLS)/stripe-mock:
	GOBIN=$(TOOLS) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

$(TOOLS)/mailpit:
	GOBIN=$(TOOLS) $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)

js-deps: clients/js/node_modules/.package-lock.json ## install the JavaScript test clients (npm ci)

clients/js/node_modules/.package-lock.json: clients/js/package-lock.json
	cd clients/js && npm ci --no-audit --no-fund

graphiql-assets: js-deps ## copy GraphiQL and React from the pinned npm packages into internal/graphiql/static/vendor (embedded)
	./scripts/graphiql-assets.sh

test: tools js-deps ## run the whole suite on SQLite and PostgreSQL (needs PostgreSQL at 127.0.0.1:5432)
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout $(TIMEOUT) $(PKGS)

test-race: ## the suite with the race detector (slower)
	$(GO) test -count=1 -race -timeout 30m $(PKGS)

generate: graphiql-assets ## regenerate ent, gqlgen, the migrations and the GraphiQL assets (needs PostgreSQL for the migration diff)
	$(GO) run -mod=mod ./ent/entc.go
	$(GO) tool gqlgen generate
	$(GO) run ./migrations/gen.go

check-generated: generate ## fail if generated code is not current
	@git diff --exit-code --stat -- . || (echo "generated code is stale: run make generate and commit" && exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- ent graph schema migrations internal/graphiql)" || (git status --short -- ent graph schema migrations internal/graphiql; echo "make generate created files: commit them" && exit 1)

bench: ## run the Go benchmarks and the load tool (figures for the closing notes)
	$(GO) test -run '^$$' -bench . -benchtime 2s -timeout 60m ./internal/bench/...
	./scripts/bench-load.sh

bench-load: ## only the load tool against real processes (RATE, DURATION, SUBSCRIPTIONS)
	./scripts/bench-load.sh

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output and the local data dir
	rm -rf bin data
