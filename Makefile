# metasync developer commands. `make help` lists them; each calls a script in scripts/,
# so a developer, the README and CI run the same thing.
.DEFAULT_GOAL := help
.PHONY: help install services lint format test test-fast demo bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

install: ## Create .venv and install metasync with dev and embedded extras
	@scripts/bootstrap

services: ## Find or start the Redis the tests use
	@scripts/services

lint: install ## ruff (lint + format check), mypy and the import contracts (import-linter)
	@scripts/lint

format: install ## Apply ruff's formatting and safe fixes
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .

demo: install ## The demo: embedded MongoDB and Redis, the sandbox, workers, beat, Flower, webhooks
	@.venv/bin/metasync demo $(DEMO_ARGS)

bench: install ## Every benchmark (prints tables, saves bench/results/*.json)
	@scripts/warehouse-emulators
	@for b in sandbox_rps entity_sync performance_sync governor webhooks peers run_document scale profile_sync export; do .venv/bin/python -m bench.$$b || exit 1; done
	.venv/bin/python -m bench.reports --airbyte

test: ## Install, start services, lint, run the whole test suite
	@scripts/test

test-fast: ## Same, without the slow end-to-end and fault tests
	@scripts/test -m "not slow"

clean: ## Remove the virtual environment and caches
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache *.egg-info
