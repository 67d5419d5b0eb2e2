#!/usr/bin/env bash
# Creates .venv and installs rnnkit with its test dependencies.
# The CPU build of PyTorch goes in first when the venv has no torch: a bare `torch>=2.4`
# requirement would otherwise pull the multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
py=.venv/bin/python
"$py" -m pip install -q --upgrade pip >/dev/null
if ! "$py" -c "import torch" 2>/dev/null; then
    "$py" -m pip install -q "torch==2.13.0"
fi
"$py" -m pip install -q -e ".[dev]"
