#!/usr/bin/env bash
# Quick start: install what is missing, build, and let kiln compile the
# bundled model (models/tinyshakes-llama-q8_0.gguf, a small Llama trained on
# Tiny Shakespeare) for this CPU and continue a prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
build/bin/kiln run -p "ROMEO:" -n 96 --seed 1
