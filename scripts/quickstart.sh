#!/usr/bin/env bash
# Quick start: install what is missing, build, and run kiln on the bundled
# model (models/tinyshakes-llama-q8_0.gguf).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
build/bin/kiln info models/tinyshakes-llama-q8_0.gguf
