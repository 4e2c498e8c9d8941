# liteio: `make run` starts it, `make test` tests it. Both install what is missing first.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
STAMP := .make/installed
ENGINE_SOURCES := $(wildcard ext/*.pyx ext/*.pxd ext/csrc/*/*.c ext/csrc/*/*.h)

.PHONY: install system-deps run test bench bench-server lint clean

install: $(STAMP)

# Rebuild when the packaging or the engine's sources change.
$(STAMP): setup.py pyproject.toml $(ENGINE_SOURCES)
	@$(MAKE) --no-print-directory system-deps
	$(PIP) install --quiet --disable-pip-version-check -e '.[test]'
	@mkdir -p .make && touch $@

# ISA-L (>= 2.30), pkg-config and a C compiler build the engine; rclone and curl are real
# clients the compatibility tests drive (the Python clients come from the `test` extra).
system-deps:
	@missing=; \
	if ! pkg-config --atleast-version=2.30 libisal 2>/dev/null || ! command -v cc >/dev/null; then \
	  missing=" libisal-dev pkg-config build-essential"; \
	fi; \
	command -v rclone >/dev/null || missing="$$missing rclone"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	  else echo "liteio needs system packages: run 'sudo apt-get install$$missing', then 'make' again." >&2; exit 1; fi; \
	  echo "installing$$missing with apt-get"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "liteio needs$$missing (Debian names); install them with your package manager" >&2; \
	  echo "(Fedora: isa-l-devel pkgconf rclone curl; ISA-L from source: github.com/intel/isa-l, then LITEIO_ISAL_PREFIX=/usr/local)" >&2; \
	  exit 1; \
	fi

run: install
	$(PYTHON) -m liteio server

test: install
	$(PYTHON) -m pytest tests -q

bench: install
	$(PYTHON) -m pytest benchmarks -q --benchmark-columns=min,median,ops --benchmark-sort=name

# The server under load beside nginx (installed here if missing) and moto; writes
# docs/performance-server.md. BENCH_ARGS passes flags, e.g. BENCH_ARGS=--quick.
bench-server: install
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if command -v apt-get >/dev/null; then \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; \
	    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	    else echo "the nginx ceiling needs nginx: run 'sudo apt-get install nginx' (or it is skipped)" >&2; SUDO=skip; fi; \
	    if [ "$$SUDO" != skip ]; then \
	      echo "installing nginx with apt-get"; \
	      $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	      $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	    fi; \
	  else echo "nginx is not installed: the nginx ceiling is skipped" >&2; fi; \
	fi
	@$(PYTHON) -c "import moto.server, flask" 2>/dev/null || $(PIP) install --quiet --disable-pip-version-check 'moto[server]'
	$(PYTHON) -m benchmarks.load $(BENCH_ARGS)

lint: install
	@$(PYTHON) -c "import ruff, mypy, cython_lint" 2>/dev/null || $(PIP) install --quiet --disable-pip-version-check -e '.[dev]'
	$(PYTHON) -m ruff check liteio tests benchmarks
	$(PYTHON) -m mypy liteio
	cython-lint --max-line-length 100 ext/*.pyx ext/*.pxd

clean:
	rm -rf build .make liteio/_ext/*.so liteio/_ext/*.c ext/*.c
