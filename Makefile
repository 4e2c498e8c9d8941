# liteio: `make run` starts it, `make test` tests it. Both install what is missing first.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
STAMP := .make/installed
ENGINE_SOURCES := $(wildcard ext/*.pyx ext/*.pxd ext/csrc/*/*.c ext/csrc/*/*.h)

.PHONY: install system-deps run test bench clean

install: $(STAMP)

# Rebuild when the packaging or the engine's sources change.
$(STAMP): setup.py pyproject.toml $(ENGINE_SOURCES)
	@$(MAKE) --no-print-directory system-deps
	$(PIP) install --quiet --disable-pip-version-check -e '.[test]'
	@mkdir -p .make && touch $@

# ISA-L (>= 2.30) and pkg-config come from the system's packages.
system-deps:
	@if pkg-config --atleast-version=2.30 libisal 2>/dev/null && command -v cc >/dev/null; then \
	  exit 0; \
	fi; \
	if command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	  else echo "liteio needs ISA-L: run 'sudo apt-get install libisal-dev pkg-config build-essential', then 'make' again." >&2; exit 1; fi; \
	  echo "installing libisal-dev, pkg-config and a C compiler with apt-get"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libisal-dev pkg-config build-essential >/dev/null; \
	else \
	  echo "liteio needs Intel ISA-L >= 2.30 and pkg-config: install them with your package manager" >&2; \
	  echo "(Fedora: isa-l-devel pkgconf; from source: github.com/intel/isa-l, then LITEIO_ISAL_PREFIX=/usr/local)" >&2; \
	  exit 1; \
	fi

run: install
	$(PYTHON) -m liteio server

test: install
	$(PYTHON) -m pytest tests -q

bench: install
	$(PYTHON) -m pytest benchmarks -q --benchmark-columns=min,median,ops --benchmark-sort=name

clean:
	rm -rf build .make liteio/_ext/*.so liteio/_ext/*.c ext/*.c
