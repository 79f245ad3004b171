# minimodels: every target sets up .venv first (pinned torch, then the package).
# On a GPU machine the same pin installs PyPI's CUDA build of torch.
PYTHON ?= python3
TORCH  ?= torch==2.13.0
VENV   := .venv
PY     := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.py))

.PHONY: setup lab run test notebooks slides figures bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minimodels)" >/dev/null
	touch $@

## open the notebooks in JupyterLab; the RISE extension (jupyterlab-rise) presents one as
## slides: Alt+R in a notebook, or the slideshow button of its toolbar
lab: setup
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

## execute every notebook headless (as scripts, active profile) and print what they reproduced
run: setup
	$(PY) -m minimodels.report run

## all tests: unit, parity with transformers, notebook pairing, strict nbval (smoke profile)
test: setup
	MINIMODELS_PROFILE=smoke $(PY) -m pytest -q

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

## one offline reveal.js deck per executed notebook, from its committed outputs:
## build/slides/<notebook>/index.html, with reveal.js and MathJax copied into build/slides/assets
## (NB=01 or NB=notebooks/01_x.py for one)
slides: setup
	$(PY) -m minimodels.slides $(NB)

## every figure of every notebook as PNG and SVG: build/figures/<notebook>/<name>.{png,svg};
## runs the notebooks as scripts under the active profile (MINIMODELS_PROFILE; NB=01 for one)
figures: setup
	MINIMODELS_FIGURES=$(abspath build/figures) $(PY) -m minimodels.report run $(if $(NB),"$(notdir $(basename $(NB)))*.py")
	@find build/figures -name '*.png' | wc -l | xargs echo "PNG files under build/figures:"

## speed: minimodels vs transformers, side by side, same weights
bench: setup
	$(PY) benchmarks/bench_forward.py

clean:
	rm -rf $(VENV) build results runs
