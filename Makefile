# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv

.PHONY: serve test
serve: $(VENV)/.installed
	$(VENV)/bin/scoremate serve

test: $(VENV)/.installed-dev compose-validator
	$(VENV)/bin/python -m pytest

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# compose.yaml is validated by Debian's docker-compose, which needs no Docker engine.
.PHONY: compose-validator
compose-validator:
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; } \
		|| echo "docker-compose is missing: install it (apt-get install docker-compose) to validate compose.yaml"
