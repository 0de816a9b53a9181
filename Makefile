# The two set-up commands of the README are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages: python3-venv to make the venv at all (installed before it, when run as root
# on Debian), and the ones the test suite drives (installed by `make test` when run as root).
VENV_PACKAGES := python3-venv
DEBIAN_PACKAGES := tmux postgresql redis-server prometheus faketime

BUGSINK_STAMP := .venv-bugsink/.installed

.PHONY: demo test mutation bench lint format venv venv-packages system-packages clean

$(STAMP): pyproject.toml | venv-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Bugsink (a real Sentry-compatible server for the tests) in a venv of its own: its pinned
# dependencies clash with the kubernetes client's.
# The project venv's pip installs into it (the venv's own bundled pip broke mid-install here).
$(BUGSINK_STAMP): $(STAMP)
	rm -rf .venv-bugsink
	$(PYTHON) -m venv --without-pip .venv-bugsink
	$(BIN)/python -m pip --python .venv-bugsink/bin/python install --quiet 'bugsink>=2.6,<3'
	touch $(BUGSINK_STAMP)

demo: $(STAMP)
	$(BIN)/cockpit rehearse bad-release

# As root on Debian: install what is missing of PACKAGES; otherwise nothing (a user has them).
define install_debian
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  missing=""; \
	  for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	fi
endef

venv-packages:
	$(call install_debian,$(VENV_PACKAGES))

system-packages:
	$(call install_debian,$(DEBIAN_PACKAGES))

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Two workers, a test file each: most tests wait on servers, rehearsals and terminals, so two
# at a time finish in about half the time on a 2-core machine. `pytest FILE` alone runs serially.
test: $(STAMP) $(BUGSINK_STAMP) system-packages lint
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

# Mutation testing of the pure core (gates, rollout, audit, state, conditions, the checklist
# parser) with mutmut; configuration in pyproject.toml [tool.mutmut], figures in docs/TESTING.md.
# About 15 minutes on 2 cores. `$(BIN)/mutmut results` lists the survivors afterwards and
# `$(BIN)/mutmut show NAME` shows one. COCKPIT_SHARED: the tests run from mutants/, so the
# reference runbook beside the clone is named (its tests skip when there is none).
mutation: $(STAMP)
	rm -rf mutants
	COCKPIT_SHARED=$(CURDIR)/../shared PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
		$(BIN)/mutmut run --max-children 2
	@$(BIN)/mutmut results --all true | awk -F': ' '{n[$$2]++; t++} END {for (k in n) print k": "n[k]; \
		printf "score: %.1f %% of %d mutants killed\n", 100 * (n["killed"] + n["timeout"]) / t, t}'

# Performance figures (docs/PERFORMANCE.md): about 25 minutes, most of it the 5-minute idle run
# and the 15-minute memory run. Prints figures; nothing here passes or fails on a number.
bench: $(STAMP)
	cd benchmarks && ../$(BIN)/python startup.py --runs 7
	cd benchmarks && ../$(BIN)/python keys.py --keys 300
	cd benchmarks && ../$(BIN)/python errors_poll.py --issues 500 --polls 10
	cd benchmarks && ../$(BIN)/python idle.py --seconds 300
	cd benchmarks && ../$(BIN)/python memory.py --minutes 15
	cd benchmarks && ../$(BIN)/python shared_progress.py --marks 300 --idle-seconds 60

clean:
	rm -rf $(VENV) .venv-bugsink .mypy_cache .ruff_cache .pytest_cache
