# Benchmarks (issue 7). `make bench` installs what they need, runs all four (under 11 minutes
# on a 2-core machine) and keeps the full output in bench/last-run.md; BENCHMARKS.md records
# the results. See bench/README.md.

# pipefail: a failing benchmark fails `make` although its output goes through tee.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON := .venv/bin/python
BENCH_PACKAGES := wrk tshark sip-tester
OUT := bench/last-run.md

.PHONY: bench bench-tools bench-intake bench-dispatch bench-media bench-webhooks bench-amd \
	bench-lists bench-campaign-import bench-priority bench-console bench-fairness \
	bench-campaign-pages

bench: bench-tools
	@uptime
	@echo "# voxcall benchmarks, $$(date -u '+%Y-%m-%d %H:%M UTC')" > $(OUT)
	$(PYTHON) -m bench.intake | tee -a $(OUT)
	$(PYTHON) -m bench.dispatch | tee -a $(OUT)
	$(PYTHON) -m bench.sip_media | tee -a $(OUT)
	$(PYTHON) -m bench.webhooks | tee -a $(OUT)
	@uptime

bench-intake: bench-tools
	$(PYTHON) -m bench.intake

bench-dispatch: bench-tools
	$(PYTHON) -m bench.dispatch

bench-media: bench-tools
	$(PYTHON) -m bench.sip_media

bench-webhooks: bench-tools
	$(PYTHON) -m bench.webhooks

# A campaign of 1,000,000 numbers imported on SQLite and PostgreSQL against a bare bulk insert
# of the same rows (issue 12): about 2 minutes.
bench-campaign-import: bench-tools
	$(PYTHON) -m bench.campaign_import

# A one-time code through 100,000 queued campaign calls on a 10-channel sandbox dialer
# (issue 12, api.md §10): about 2 minutes.
bench-priority: bench-tools
	$(PYTHON) -m bench.priority

# Answering-machine detection on a generated corpus (espeak-ng), and 20 of its files in real
# calls to baresip: about a minute.
bench-amd: bench-tools
	$(PYTHON) -m bench.amd

# Reading a campaign list of 1,000,000 numbers, the parser alone (issue 12): under a minute.
bench-lists: bench-tools
	$(PYTHON) -m bench.list_import

# Console pages with 1,000,000 calls in the database, SQLite and PostgreSQL, p50 and p99 per
# page beside the API's read of one call (issue 13): a few minutes, most of it writing the calls.
bench-console: bench-tools
	$(PYTHON) -m bench.console_pages

# Two projects' queued campaign calls sharing one sandbox dialer for 10 sandbox minutes (about
# a minute of wall time each run), with a 90,000 / 10,000 run beside them (issue 12): share of
# channel-seconds per project; about 10 minutes.
bench-fairness: bench-tools
	$(PYTHON) -m bench.fairness

# A campaign of 1,000,000 calls, its API object and pages of calls on SQLite and PostgreSQL,
# p50 and p99 beside the API's read of one call (issue 12): a few minutes, most of it writing.
bench-campaign-pages: bench-tools
	$(PYTHON) -m bench.campaign_pages

# Idempotent: installs only what is missing (Debian packages, the venv), like scripts/bootstrap.
# tshark's package asks whether non-root users may capture: answered "no" beforehand.
bench-tools:
	@scripts/bootstrap --dev
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "installing Debian packages:$$missing" >&2; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | $$sudo debconf-set-selections; \
	  $$sudo apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
