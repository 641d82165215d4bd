# vpclab: `make demo` runs the product on its demo lab, `make test` passes the tests.
# Both set up everything they need on a fresh Debian machine (run as root).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := nftables iproute2 conntrack iperf3 dnsutils iputils-ping traceroute tmux procps

.PHONY: demo test bench lint setup system clean-labs

setup: system $(BIN)/vpclab

# Debian packages: installed only when one is missing (apt-get update first).
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/vpclab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

demo: setup
	$(BIN)/vpclab demo

test: setup
	$(BIN)/pytest -q

bench: setup
	$(BIN)/pytest -q -m bench -s tests/bench

lint: setup
	$(BIN)/pip install -q ruff mypy
	$(BIN)/ruff check engine lab shell tui tests
	$(BIN)/mypy engine lab shell tui

# Remove every namespace of labs whose names start with t_ (test labs).
clean-labs:
	@for n in $$(ls /run/netns 2>/dev/null | grep '^t_'); do ip netns del $$n; done
