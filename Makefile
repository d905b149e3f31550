# The commands of the README: `make serve`, `make test` and `make lock`.
# Both install exactly the versions of the lock files (with their hashes), then the project itself without
# resolving anything: requirements.lock for serving, requirements-dev.lock (the same plus the test tools) for tests.
PYTHON ?= python3
VENV := .venv
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# One platform and Python, the ones the Dockerfile and CI run: Linux x86_64, CPython 3.11.
COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock'

.PHONY: serve test lock
serve: $(VENV)/.installed
	$(VENV)/bin/scoremate serve

# Two test processes (pytest-xdist): most integration tests wait on servers, so the suite takes about 60% of the
# time of one process on 2 cores. TEST_PROCESSES=0 runs it in this process.
TEST_PROCESSES ?= 2
test: $(VENV)/.installed-dev compose-validator proxy-validator
	$(VENV)/bin/python -m pytest -p xdist --numprocesses $(TEST_PROCESSES)

$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r $(LOCK)
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(DEV_LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r $(DEV_LOCK)
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@ $(VENV)/.installed

# Resolves pyproject.toml's ranges afresh to the newest versions and rewrites both lock files; commit them after
# `make test` passes. `make lock UPGRADE=` keeps every version still allowed and only adds or removes what changed.
UPGRADE ?= --upgrade
# The serving lock is the development lock less the test tools: production runs the versions the tests ran.
lock: $(VENV)/.installed-dev
	$(COMPILE) $(UPGRADE) --extra dev -o $(DEV_LOCK)
	$(COMPILE) --constraint $(DEV_LOCK) -o $(LOCK)

# compose.yaml is validated by Debian's docker-compose, which needs no Docker engine.
.PHONY: compose-validator proxy-validator
compose-validator:
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; } \
		|| echo "docker-compose is missing: install it (apt-get install docker-compose) to validate compose.yaml"

# deploy/nginx/nginx.conf is checked by nginx itself (`nginx -t`): Debian's nginx-light, never started.
proxy-validator:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			nginx-light >/dev/null \
		&& { systemctl disable --now nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true; }; } \
		|| echo "nginx is missing: install it (apt-get install nginx-light) to check deploy/nginx/nginx.conf"
