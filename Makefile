# mmkg's developer entry points. `make` (or `make help`) lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help setup services demo test test-fast test-unit test-java lint format bench-ingest bench-kge bench-quality bench-predict bench-media bench-pipeline bench-web bench-qa bench-recommend neo4j-start neo4j-stop clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/mmkg: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "mmkg needs Python >= 3.11"; exit 1; }
	@command -v java >/dev/null || { echo "mmkg needs Java 17 or 21 (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "mmkg needs Maven once, to fetch Neo4j (apt-get install maven)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/mmkg neo4j plugin >/dev/null
	@touch $@

setup: $(BIN)/mmkg  ## Create .venv and install mmkg with its dev tools

services:  ## Install the brokers the worker tests use (redis-server, rabbitmq-server; needs root)
	@if [ "$$(id -u)" != 0 ]; then echo "run as root (or: sudo apt-get install redis-server rabbitmq-server)"; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server rabbitmq-server

demo: setup  ## The main job: start Neo4j, apply the schema, load the demo graph, query it
	$(BIN)/mmkg demo

PYTEST_ARGS ?=

test: setup  ## Run every test: Python (unit + integration against a real Neo4j, Redis) and the plugin's Java tests
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) test-java

test-fast: setup  ## Unit tests without the slow ones (under a minute; no server)
	$(BIN)/pytest tests/unit -m "not slow" -q

test-unit: setup  ## Every unit test (no server)
	$(BIN)/pytest tests/unit

test-java:  ## The Neo4j plugin's Java tests (neo4j-harness, run by Maven)
	cd deploy/neo4j/plugin && mvn -B -q test

lint: setup  ## ruff (lint and format check) and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: setup  ## Format the code with ruff
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench-ingest: setup  ## Ingest benchmark on FB15k-237 (writes bench/results/ingest.json)
	$(BIN)/python bench/ingest.py

bench-kge: setup  ## mmkg vs PyKEEN: shared settings, and PyKEEN's own configs (bench/results/kge_vs_pykeen.json)
	$(BIN)/python bench/kge_vs_pykeen.py --dataset WN18RR --model transe --epochs 20
	$(BIN)/python bench/kge_vs_pykeen.py --dataset WN18RR --model rotate --epochs 10
	$(BIN)/python bench/kge_vs_pykeen.py --dataset FB15k-237 --model transe --epochs 5
	$(BIN)/python bench/kge_vs_pykeen.py --dataset FB15k-237 --model rotate --epochs 4
	$(BIN)/python bench/kge_vs_pykeen.py --dataset kinships --chunk 16 \
		--pykeen-config bench/configs/pykeen/rotate_docs.json
	for data in kinships WN18RR FB15k-237; do for model in transe distmult complex rotate; do \
		$(BIN)/python bench/kge_vs_pykeen.py --dataset $$data --chunk 16 --probe-every 1 \
			--pykeen-config bench/configs/pykeen/$${model}_defaults.json || exit 1; done; done

bench-quality: setup  ## Every model on FB15k-237 and WN18RR vs published results (bench/results/quality.json)
	$(BIN)/python bench/kge_quality.py

bench-predict: setup  ## predict.tail latency (exact, ANN), recall and write-back (bench/results/predict_latency.json)
	$(BIN)/python bench/predict_latency.py

bench-media: setup  ## media ingest vs the raw encoder, videos/s (bench/results/media_throughput.json)
	$(BIN)/python bench/media_throughput.py

bench-pipeline: setup  ## media through Redis + Celery workers vs in-process (bench/results/pipeline.json)
	$(BIN)/python bench/pipeline.py

bench-web: setup  ## workbench and API latency on FB15k-237 with media (bench/results/web.json)
	$(BIN)/python bench/web.py

bench-qa: setup  ## question answering on FB15k-237: generated questions, lookup and prediction (bench/results/qa.json)
	$(BIN)/python bench/qa.py

bench-recommend: setup  ## recommendation on FB15k-237 films with a synthetic log, against popularity and MF (bench/results/recommend.json)
	$(BIN)/python bench/recommend.py

neo4j-start: setup  ## Start the managed Neo4j
	$(BIN)/mmkg neo4j start

neo4j-stop: setup  ## Stop the managed Neo4j
	$(BIN)/mmkg neo4j stop

clean:  ## Remove the virtual environment and caches (not ~/.mmkg)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
