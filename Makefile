# pymarl_explained: the project's commands. `make train` and `make test` are the README's quickstart.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# QMIX on MarineMicro_MvsM_4 with the built-in simulator, long enough to end with a winning team,
# with the pipelined runner (acting in a worker process beside the learner): about 3.5 minutes on
# the project's 2-core machine when it is quiet (README, Quickstart).
TRAIN_T_MAX ?= 160000
RESULTS ?= results
NOTEBOOKS := $(sort $(wildcard notebooks/0*.ipynb))
# the training notebook (06) is run by papermill with tiny parameters inside the test suite, not compared by nbval
NBVAL_NOTEBOOKS := $(filter-out %_training_run.ipynb,$(NOTEBOOKS))

.PHONY: install train test lint notebooks lab bench clean assignments grade

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23"
	# pinned torch first: an unpinned torch pulls gigabytes of CUDA packages
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	# the compiled GRU kernel and the simulator's numba functions, built now rather than while the
	# first run waits (without a compiler it says why and training uses torch's GRU kernel)
	$(PY) -m pymarl_explained.warmup
	touch $@

install: $(VENV)/.installed

train: install
	$(PY) -m pymarl_explained --config=qmix --env-config=sc2 with \
		env_args.map_name=MarineMicro_MvsM_4 env_args.backend=builtin \
		runner=pipelined t_max=$(TRAIN_T_MAX) test_interval=5000 log_interval=10000 runner_log_interval=5000 \
		learner_log_interval=5000 test_nepisode=32 seed=1 save_battle_animation=True local_results_path=$(RESULTS)

lint: install
	$(VENV)/bin/ruff check pymarl_explained tests benchmarks

test: install lint
	$(PY) -m pytest -q -n 2 tests
	$(if $(NBVAL_NOTEBOOKS),$(PY) -m pytest -q -n 2 --dist loadfile --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(NBVAL_NOTEBOOKS))

notebooks: install
	$(PY) -m pymarl_explained.notebook_tools execute $(NOTEBOOKS)

lab: install
	$(PY) -m ipykernel install --user --name pymarl_explained --display-name "Python (pymarl_explained)"
	$(VENV)/bin/jupyter lab notebooks/

# course assignments (assignments/README.md): regenerate the student notebooks; grade a folder
assignments: install
	$(PY) -m pymarl_explained.assignments release

SUBMISSIONS ?= submissions
GRADES ?= grades/grades.csv
grade: install
	$(PY) -m pymarl_explained.assignments grade $(SUBMISSIONS) --out $(GRADES)

bench: install
	$(PY) benchmarks/bench_env.py
	$(PY) benchmarks/bench_train.py

clean:
	rm -rf results .pytest_cache
