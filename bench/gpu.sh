#!/usr/bin/env bash
# Everything that needs a GPU, in one go (a few minutes on a CUDA machine):
#   1. the GPU tests (tests/workflow/test_gpu.py: CUDA features == CPU features, torch_cuda encoding ==
#      numpy encoding, the MLP encoder on the GPU);
#   2. the feature-extraction benchmark on the GPU (strided windows vs one pass per word);
#   3. the encoding benchmark on himalaya's torch_cuda backend (lean solver vs himalaya).
#
#   bash bench/gpu.sh                # with a python whose torch sees CUDA
#   PYTHON=/path/to/python bash bench/gpu.sh
#
# Fails at once when torch sees no CUDA device (nothing here is meaningful on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

$PY - <<'PY'
import torch
assert torch.cuda.is_available(), "torch sees no CUDA device: install a CUDA build of torch, or run this on a GPU node"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
PY
echo "== GPU tests"
$PY -m pytest -q -rs -m gpu tests/workflow/test_gpu.py
echo "== features: strided windows vs one pass per word (GPU)"
$PY bench/features.py --device cuda --words 20000 --naive-words 1000 --context 256
echo "== encoding: lean vs himalaya on torch_cuda"
$PY bench/encoding.py --backend torch_cuda --voxels 20000
