"""Command line: the stage commands the Snakemake rules call (``python -m lre --help``).

Each stage command takes either ``--job`` (the JSON config slice that a rule passes, so that
Snakemake reruns a job exactly when its slice changes) or ``--config`` (a YAML config file,
for use by hand), plus input and output paths.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from . import __version__
from .errors import LreError


def _job(args, make):
    if args.job:
        return json.loads(args.job)
    if args.config:
        from . import config

        return make(config.load(args.config))
    raise SystemExit("give --job JSON or --config FILE")


def _runtime(args, cfg_runtime=None) -> dict:
    rt = dict(cfg_runtime or {"device": "auto", "threads": 1})
    if args.device:
        rt["device"] = args.device
    if args.threads:
        rt["threads"] = args.threads
    return rt


def cmd_check(args) -> None:
    from . import config
    from .features import resolve_spaces

    cfg = config.load(args.config)
    spaces = resolve_spaces(cfg["features"]["models"])
    print(f"{args.config}: valid; {len(cfg['features']['models'])} models, {len(spaces)} spaces")
    for s in spaces:
        print(f"  {s.name:32s} {s.family:10s} group={s.group}")


def cmd_demo(args) -> None:
    from . import config, demo

    job = _job(args, config.demo_job)
    demo.make(args.root, job["stories"], job["demo"], job["seed"])


def cmd_stimuli(args) -> None:
    from . import config, documents, io

    job = _job(args, config.stimuli_job)
    docs = documents.build(job)
    n = docs.n_words()
    logging.info("%d stories (%d words), %d corpus documents (%d words)", len(docs.stories), n["stories"],
                 len(docs.corpus), n["corpus"])
    documents.write(args.out, docs, io.provenance(job))


def cmd_features(args) -> None:
    from . import config
    from .features import stage

    runtime = None
    if args.config:
        cfg = config.load(args.config)
        job, runtime = config.features_job(cfg, args.model), config.runtime_settings(cfg)
    else:
        job = _job(args, None)
    stage.run(job, args.documents, args.out, _runtime(args, runtime), of_path=args.of)


def cmd_features_summary(args) -> None:
    from .features import store

    store.write_summary(args.features, args.out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lre", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"lre {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def stage(name, help_, func):
        sp = sub.add_parser(name, help=help_, description=help_)
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--job", help="JSON config slice (what the Snakemake rules pass)")
        g.add_argument("--config", help="YAML config file (for use by hand)")
        sp.set_defaults(func=func)
        return sp

    sp = sub.add_parser("check", help="validate a config and list its feature spaces")
    sp.add_argument("config")
    sp.set_defaults(func=cmd_check)

    sp = stage("demo", "write the offline demo stimuli (TextGrids, TR files, corpus)", cmd_demo)
    sp.add_argument("--root", required=True, help="output folder")

    sp = stage("stimuli", "read stories and corpus into the documents file", cmd_stimuli)
    sp.add_argument("--out", required=True, help="documents HDF5 file to write")

    sp = stage("features", "extract every space of one model", cmd_features)
    sp.add_argument("--model", help="model name (with --config)")
    sp.add_argument("--documents", required=True, help="documents HDF5 file from the stimuli stage")
    sp.add_argument("--of", help="feature file of the shifted model (family shift)")
    sp.add_argument("--out", required=True, help="feature HDF5 file to write")
    sp.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override features.device")
    sp.add_argument("--threads", type=int, help="override features.threads")
    sp = sub.add_parser("features-summary", help="table of all spaces of the given feature files (CSV)")
    sp.add_argument("features", nargs="+", help="feature HDF5 files")
    sp.add_argument("--out", required=True, help="CSV file to write")
    sp.set_defaults(func=cmd_features_summary)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    t0 = time.perf_counter()
    try:
        args.func(args)
    except LreError as e:
        logging.error("%s", e)
        print(f"lre {args.command}: error: {e}", file=sys.stderr)
        return 2
    logging.info("lre %s finished in %.1f s", args.command, time.perf_counter() - t0)
    return 0
