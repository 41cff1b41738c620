#!/usr/bin/env bash
# The demo: plan the demo pipelines (three tenants, three time zones) and
# print what would run, when, for whom and at what cost in API calls.
# `make demo` builds bin/siphon first.
set -euo pipefail
cd "$(dirname "$0")/.."
./bin/siphon plan pipelines/demo
