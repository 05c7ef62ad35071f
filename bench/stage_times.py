"""Wall time and summed job time per pipeline stage, from the jobs' log files.

Every job logs timestamped lines; a job's span runs from its first to its last timestamp
(plus a second for the interpreter to start). Per stage: the wall-clock span from its first
job's start to its last job's end, the summed job time, and the number of jobs.

    python bench/stage_times.py results/logs
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
STAGES = {
    "demo_data": "stimuli",
    "stimuli": "stimuli",
    "corpus": "stimuli",
    "features": "features",
    "features_summary": "features",
    "transfer": "transfer",
    "embedding": "embedding",
    "demo_fmri": "encoding",
    "demo_respdict": "encoding",
    "encoding": "encoding",
    "brainlink": "brain link",
}


def job_span(path: Path):
    times = []
    for line in path.read_text(errors="replace").splitlines():
        m = STAMP.match(line)
        if m:
            times.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f"))
    return (min(times), max(times)) if times else None


def stage_of(path: Path, root: Path) -> str:
    first = path.relative_to(root).parts[0]
    return STAGES.get(first.removesuffix(".log"), first.removesuffix(".log"))


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/logs")
    stages: dict[str, list] = {}
    for path in sorted(root.rglob("*.log")):
        span = job_span(path)
        if span:
            stages.setdefault(stage_of(path, root), []).append(span)
    order = ["stimuli", "features", "transfer", "embedding", "encoding", "brain link"]
    t0 = min(s for spans in stages.values() for s, _ in spans)
    print(f"{'stage':12s} {'jobs':>5s} {'start':>7s} {'end':>7s} {'wall':>7s} {'job time':>9s}")
    for name in order + sorted(set(stages) - set(order)):
        if name not in stages:
            continue
        spans = stages[name]
        start = min(s for s, _ in spans)
        end = max(e for _, e in spans)
        busy = sum((e - s).total_seconds() + 1.0 for s, e in spans)
        print(
            f"{name:12s} {len(spans):5d} {(start - t0).total_seconds():6.0f}s {(end - t0).total_seconds():6.0f}s "
            f"{(end - start).total_seconds():6.0f}s {busy:8.0f}s"
        )
    end = max(e for spans in stages.values() for _, e in spans)
    print(f"{'all':12s} {sum(len(v) for v in stages.values()):5d} {0:6.0f}s {(end - t0).total_seconds():6.0f}s")


if __name__ == "__main__":
    main()
