# The two commands: `make run` (set up and run on embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint audit format lock clean browser gettext messages translations bench-web bench-crawl bench-api bench-load
# The site's languages besides English (settings.LANGUAGES), as gettext locale names.
LOCALES := ar de es fa fr pt_BR ru tr uk zh_Hans

install: $(STAMP) translations

# Re-install only when the pins change; otherwise `make install` does nothing.
$(STAMP): pyproject.toml .constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c .constraints.txt -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo "Directory: http://127.0.0.1:8000/  admin: http://127.0.0.1:8000/admin/  (Ctrl-C stops all)"
	$(BIN)/honcho --procfile .procfile start

test: install browser
	$(BIN)/pytest $(PYTEST_ARGS)

# Extract every msgid into directory/locale/<ll>/LC_MESSAGES/django.po (README "Languages").
# --no-location: no "#:" lines, so catalogs merge cleanly when the code moves.
messages: install gettext
	$(BIN)/python manage.py makemessages --no-location --no-obsolete $(addprefix -l ,$(LOCALES)) \
		--ignore=.venv --ignore=var --ignore=tests --ignore=build --ignore=staticfiles

# The .mo files the site reads (gitignored, built from the shipped .po files).
translations: $(STAMP) gettext
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=var

# gettext's msgfmt and xgettext (Debian's package), for the two targets above.
gettext:
	command -v msgfmt >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gettext)

# The browser tests drive Debian's Chromium (never a downloaded one); install it when missing.
browser:
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The home page with 2,000 rooms: cached median time and HTML bytes per room (tests/bench/bench_web.py).
bench-web: install
	$(BIN)/python tests/bench/bench_web.py

# Ruff's "S" rules are bandit's security checks; see [tool.ruff.lint] in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Known vulnerabilities in the pinned dependencies (PyPI's advisory data). A package the service
# cannot be asked about is listed as skipped, never passed over silently.
audit: install
	$(BIN)/pip-audit --skip-editable --progress-spinner off

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Pin every transitive dependency at the versions installed now.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > .constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis

# Crawl a simulated network of 300 SOGS on loopback; prints wall time, the theoretical minimum,
# requests, peak memory and recall (tests/bench/bench_crawl.py).
bench-crawl: install
	$(BIN)/python tests/bench/bench_crawl.py $(BENCH_ARGS)

# The listing-provider API under granian with 2,000 rooms and 50 clients: req/s, p50, p99 for
# GET /listing/all, a 304 and the onion endpoint, and the ratios, driven by wrk
# (tests/bench/bench_api.py).
bench-api: install
	$(BIN)/python tests/bench/bench_api.py $(BENCH_ARGS)

# The home page, a room page and /listing/all with 2,000 rooms, 50 connections for 30 s each,
# driven by wrk while a crawl of simulated servers runs in a loop (tests/bench/bench_load.py).
bench-load: install
	$(BIN)/python tests/bench/bench_load.py $(BENCH_ARGS)
