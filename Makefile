# minimodels: every target sets up .venv first (pinned torch, then the package).
# On a GPU machine the same pin installs PyPI's CUDA build of torch.
PYTHON ?= python3
TORCH  ?= torch==2.13.0
VENV   := .venv
PY     := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.py))
# JupyterLab's settings for this venv (RISE scrolls tall slides and numbers them, a .py opens as a
# notebook); notebooks/rise.css sizes RISE's text
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: setup lab run test notebooks slides figures experiments docs bench clean

setup: $(VENV)/.installed $(LAB_SETTINGS)

$(VENV)/.installed: pyproject.toml
	@echo "setup: creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup: installing $(TORCH) first (the CPU wheel on a machine without CUDA; a minute or two)"
	$(PY) -m pip install --quiet "$(TORCH)"
	@echo "setup: installing minimodels and its notebook, slide and test tools (a few minutes on a fresh machine)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minimodels)" >/dev/null
	@echo "setup: done"
	touch $@

$(LAB_SETTINGS): minimodels/templates/jupyterlab/overrides.json $(VENV)/.installed
	mkdir -p $(dir $@)
	cp $< $@

## open the notebooks in JupyterLab (notebooks/jupytext.toml pairs each .py with its .ipynb: saving
## either writes both); the RISE extension (jupyterlab-rise) presents one as slides: Alt+R in a
## notebook, or the slideshow button of its toolbar
lab: setup
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

## execute every notebook headless (as scripts, active profile) and print what they reproduced
run: setup
	$(PY) -m minimodels.report run

## all tests: unit, parity with transformers, notebook pairing, strict nbval (smoke profile)
test: setup
	MINIMODELS_PROFILE=smoke $(PY) -m pytest -q -rs

## re-execute every notebook under the cpu profile and write the outputs back
## (the .py is the source; the filters are stamped into the .ipynb so that
##  `jupytext --to py:percent -o - X.ipynb` reproduces X.py exactly)
JUPYTEXT_META := {"jupytext": {"notebook_metadata_filter": "-all", "cell_metadata_filter": "tags,slideshow,-all"}}
notebooks: setup
	@for nb in $(or $(NB),$(NOTEBOOKS)); do \
		echo "executing $$nb (profile cpu)"; \
		MINIMODELS_PROFILE=cpu MPLBACKEND=module://matplotlib_inline.backend_inline \
			$(VENV)/bin/jupytext --to ipynb --update-metadata '$(JUPYTEXT_META)' --execute "$$nb" || exit 1; \
	done

## two offline reveal.js decks per executed notebook, from its committed outputs:
## build/slides/<notebook>/talk.html (the talk: cells tagged appendix left out) and index.html
## (the full deck), build/slides/index.html lists them per paper; reveal.js and MathJax are
## copied into build/slides/assets (NB=01 or NB=notebooks/01_x.py for one)
slides: setup
	$(PY) -m minimodels.slides $(NB)

## every figure of every notebook as build/figures/<notebook>/<name>.png, from the committed
## outputs in seconds (NB=01 for one); RENDER=1 re-runs the notebooks as scripts under the
## active profile instead and writes PNG and SVG
figures: setup
ifeq ($(RENDER),1)
	MINIMODELS_FIGURES=$(abspath build/figures) $(PY) -m minimodels.report run $(if $(NB),"$(notdir $(basename $(NB)))*.py")
	@find build/figures -name '*.png' | wc -l | xargs echo "PNG files under build/figures:"
else
	$(PY) -m minimodels.report figures build/figures $(if $(NB),"$(notdir $(basename $(NB)))*.ipynb")
endif

## run a named experiment and write results/NAME.json (NAME=vivit_main; SEEDS="0 1 2"; JOBS=3 runs
## the seeds in 3 processes side by side; the active profile); without NAME, list them. Then `make docs`.
experiments: setup
	$(if $(NAME),$(PY) -m minimodels.experiments $(NAME) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(JOBS),--jobs $(JOBS)),$(PY) -m minimodels.experiments --list)

## regenerate docs/RESULTS.md and the README's results table from results/
docs: setup
	$(PY) -m minimodels.experiments --docs

## speed: minimodels vs transformers, side by side, same weights: the forward pass, then a training
## step (forward, cross entropy, backward, AdamW) on the same batch; a table each, minutes on two cores
bench: setup
	$(PY) benchmarks/bench_forward.py
	$(PY) benchmarks/bench_train_step.py

## the venv, built decks and figures, and the runs' scratch (results/ is committed data: kept)
clean:
	rm -rf $(VENV) build runs

## the gpu profile, measured: each paper's main run under the gpu profile, one after another, as plain
## Python -> results/gpu/gpu_profile.json (metric, steps, samples/s, times, GPU and peak memory per run).
## DRY=1: 2 steps per stage on a handful of samples, into a temporary folder (checks the wiring on any
## machine); OUT=DIR writes DIR/gpu_profile.json. `$(PY) benchmarks/gpu_profile.py --estimate` prints the FLOPs.
.PHONY: gpu-profile
gpu-profile: setup
	$(PY) benchmarks/gpu_profile.py $(if $(filter 1,$(DRY)),--dry) $(if $(OUT),--out $(OUT))
