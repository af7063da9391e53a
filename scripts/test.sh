#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the release build's
# unit, end-to-end and lit tests, then the frontend and CLI tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer with a bounded fuzzing run.
# Needs ../shared/models beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The OpenCL target must be built (install-deps installs PoCL and the ICD
# loader), so its tests run rather than skip.
KILN_REQUIRE_OPENCL=ON scripts/build.sh release
ctest --test-dir build --output-on-failure -j2
scripts/build.sh sanitize
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-sanitize --output-on-failure -j2
