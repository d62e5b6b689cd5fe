# "Why won't it train?": one-command set-up. Every target that needs Python first
# creates or refreshes .venv from requirements.txt (a stamp file avoids reinstalling).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8888
ASSIGNMENT ?= a01_critical_points
# Jupyter refuses to run as root unless told to (containers, cloud machines).
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# More options for `jupyter lab` (e.g. LAB_ARGS="--ip=0.0.0.0").
LAB_ARGS ?=
# The course environment comes first on PATH for every recipe, so also in the terminals that
# JupyterLab opens, and for the commands nbgrader runs (`alembic` for Formgrader's gradebook).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test test-fast test-browser lab check release kit demo bench bench-check \
	bench-lectures book lint clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

## make test: lint, then the whole pytest suite (notebooks executed, class graded).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

## make test-fast: the suite without the tests that start kernels.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## make test-browser: Playwright drives headless Chromium (Debian's chromium, or
## WWIT_CHROMIUM=/path) through `make lab`, a student kit, Formgrader and the book; skipped,
## with the reason, without one. Screenshots of each step: build/browser-screenshots/.
test-browser: $(STAMP)
	$(PY) -m pytest -q -o addopts=-ra tests/browser; status=$$?; \
		echo "browser screenshots: $(CURDIR)/build/browser-screenshots/"; exit $$status

## make lab [PORT=8888] [TOKEN=...]: JupyterLab on the course (instructor and, on one machine, the
## student side of nbgrader's exchange). Open the URL it prints: http://localhost:PORT/lab?token=...
## (set TOKEN to choose the token). Saving strips outputs from the course's own notebooks.
TOKEN ?=
lab: $(STAMP) gradebook.db
	$(VENV)/bin/jupyter lab --port=$(PORT) --no-browser $(ROOT_ARG) \
		--FileContentsManager.pre_save_hook=autograder.lab.pre_save \
		$(if $(TOKEN),--IdentityProvider.token=$(TOKEN),) $(LAB_ARGS)

# Formgrader lists the assignments of the gradebook with their notebooks: record them there
# whenever a source notebook changes (nbgrader's generate_assignment; notebooks/ is left alone).
gradebook.db: $(STAMP) $(wildcard source/*/*.ipynb)
	$(PY) -m autograder release --record
	touch $@

## make check NB=notebooks/<assignment>/<notebook>.ipynb: a notebook's visible tests, as a
## student runs them (the kit has the same command).
NB ?=
check: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make check NB=notebooks/<assignment>/<notebook>.ipynb"; exit 2; }
	$(PY) -m wwit.checks $(NB)

## make release: regenerate notebooks/ (student versions) from source/.
release: $(STAMP)
	$(PY) -m autograder release

## make kit [KIT=build/kit] [KIT_ASSIGNMENTS="a01_critical_points"]: the student kit (KIT/ and
## KIT.zip): released notebooks, lectures, wwit/ with the visible checks as data; no solutions.
KIT ?= build/kit
KIT_ASSIGNMENTS ?=
kit: $(STAMP)
	$(PY) -m autograder kit $(KIT_ASSIGNMENTS) --out $(KIT)

## make demo [ASSIGNMENT=a02_batch_momentum]: grade a generated sample class, print the table.
demo: $(STAMP)
	$(PY) -m autograder demo --assignment $(ASSIGNMENT)

## make bench [BENCH_ARGS="--assignments a01_critical_points --students 6"]: time plain
## nbgrader autograde against our engine on the same generated class (see bench/README.md).
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) bench/grade_bench.py $(BENCH_ARGS)

## make bench-check [CHECK_ARGS="--only a07"]: how long a student's `check` takes on every
## solved notebook and stub, cold (a fresh process) and warm (the helper process loaded).
CHECK_ARGS ?=
bench-check: $(STAMP)
	$(PY) bench/check_times.py $(CHECK_ARGS)

## make bench-lectures [LECTURE_RUNS=20]: execute every lecture LECTURE_RUNS times in a row and
## print the distribution of its wall times; fails on a run over 1.5x its median (a hang).
LECTURE_RUNS ?= 20
bench-lectures: $(STAMP)
	$(PY) bench/lecture_runs.py --runs $(LECTURE_RUNS)

## make book [BOOK=build/book] [BOOK_LECTURES="05_batch_normalization"]: execute the lectures and
## write an offline HTML book (BOOK/index.html: contents, course map, a page per assignment; math
## from a local MathJax, widgets as static figures; opens from file:// or any web server).
BOOK ?= build/book
BOOK_LECTURES ?=
book: $(STAMP)
	$(PY) -m autograder book $(BOOK_LECTURES) --out $(BOOK)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build grading gradebook.db submitted autograded feedback exchange
