# Two commands for a new user: `make demo` runs Stroom, `make test` runs every check.
PY := .venv/bin/python
VENV_STAMP := .venv/.installed

.PHONY: demo test lint bench clean lock

# Every install takes the versions in constraints.txt, so that CI, the demo and the image run what
# was tested, not whatever was released since.
$(VENV_STAMP): pyproject.toml constraints.txt
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -c constraints.txt -e ".[dev]"
	touch $(VENV_STAMP)

# constraints.txt anew: the newest releases pyproject.toml allows, installed in a venv of their own.
lock:
	rm -rf var/lock
	python3 -m venv var/lock
	var/lock/bin/pip install -q --upgrade pip
	var/lock/bin/pip install -q -e ".[dev]"
	{ echo "# Written by \`make lock\` from pyproject.toml; every install takes these versions."; \
	  var/lock/bin/pip freeze --exclude-editable; } > constraints.txt
	rm -rf var/lock

demo: $(VENV_STAMP)
	.venv/bin/stroom demo

lint: $(VENV_STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	scripts/pip-audit.sh
	scripts/lint-openapi.sh
	$(PY) tools/publiccode/validate.py publiccode.yml

test: $(VENV_STAMP) lint
	scripts/ensure-postgres.sh
	scripts/ensure-chromium.sh
	scripts/ensure-libreoffice.sh
	# Three workers, as the end-to-end and fault tests mostly wait on services. They take one
	# test at a time (a group's tests together), the `long` ones first (tests/conftest.py).
	.venv/bin/python -m pytest -q -n 3 --dist loadgroup

bench: $(VENV_STAMP)
	scripts/ensure-postgres.sh
	$(PY) -m bench

clean:
	rm -rf .venv var
