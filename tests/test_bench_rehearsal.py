"""bench/rehearsal.py at a tiny scale: it writes a subject in the LeBel layout, runs one
encoding job through the stage command, and its summary lines parse (the full-size run is
in docs/scaling.md)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: summary line -> a pattern of its numbers
LINES = {
    "encode wall": r"([\d.]+) s \(load ([\d.]+) s, fit and score ([\d.]+) s, write ([\d.]+) s\)",
    "encode peak RSS": r"([\d.]+) GB",
    "memory request": r"([\d.]+) GB .*request / peak: ([\d.]+)",
    "products": r"([\d.e+-]+) TFLOP; ([\d.]+) GFLOP/s over the fit",
    "matmul rate": r"([\d.]+) GFLOP/s .*share: (\d+) %",
    "extrapolation": r"(\d+) fits .* in (\d+) jobs: ([\d,]+) h",
    "features": r"(\d+) words .*: ([\d.]+) s, ([\d,]+) words/s",
    "features extrapolation": r"154,000 words .*: ([\d.,]+) min",
}


def test_the_rehearsal_runs_one_encoding_job_and_reports_it(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(ROOT / "bench" / "rehearsal.py"), "--scale", "0.01", "--words", "40"]
    cmd += ["--model", "gpt2_untrained", "--workdir", str(tmp_path), "--json", str(tmp_path / "out.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    block = proc.stdout[proc.stdout.index("== rehearsal summary ==") :].splitlines()[1:]
    lines = dict(line.split(": ", 1) for line in block)
    values = {}
    for key, pattern in LINES.items():
        m = re.search(pattern, lines[key])
        assert m, (key, lines[key])
        values[key] = [float(g.replace(",", "")) for g in m.groups()]
    wall, load, fit, write = values["encode wall"]
    assert abs(load + fit + write - wall) < 0.2 and fit > 0  # each rounded to 0.1 s
    out = json.loads((tmp_path / "out.json").read_text())
    peak, (request, ratio) = values["encode peak RSS"][0], values["memory request"]
    assert 0.05 < peak < 2 and abs(out["encode"]["peak"] / 1e9 - peak) < 0.01
    assert abs(out["encode"]["request_mb"] / 1e3 - request) < 0.01
    assert abs(out["encode"]["request_mb"] * 1e6 / out["encode"]["peak"] - ratio) < 0.01
    assert values["matmul rate"][0] > 0 and values["extrapolation"][:2] == [800, 272]

    # the stage's result, as the encoding summary reads it
    from lre.encoding.stage import read_scores

    scores = read_scores(out["encode"]["result"])
    sh = out["shapes"]
    assert scores["scores"].shape == (sh["voxels"],) and np.isfinite(scores["scores"]).all()
    assert scores["attrs"]["n_train"] == sh["train"] and scores["attrs"]["n_features"] == sh["columns"]
    assert scores["attrs"]["n_test"] == sh["test"]
    assert 0.2 < scores["scores"].mean() < 0.9  # 70 % of the voxels carry planted signal
    alphas = [1, 4.6, 21.5, 100, 464, 2154, 10000, 46416, 215443, 1000000]
    assert np.isclose(scores["alphas"][:, None], alphas, rtol=1e-6).any(1).all()  # stored as float32
    assert ((scores["pvalues"] > 0) & (scores["pvalues"] <= 1)).all()
