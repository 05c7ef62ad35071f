"""Command line: the stage commands the Snakemake rules call (``python -m lre --help``).

Every stage declares its commands (``COMMANDS`` in its ``stage.py``, see
:mod:`lre.commands`); the parsers are built here from those declarations, so each stage
command takes ``--job`` (the JSON config slice that a rule passes, so that Snakemake
reruns a job exactly when its slice changes) or, where it can, ``--config`` (a YAML
config file, for use by hand), plus ``--accept-provenance``, ``--threads`` and
``-v/--verbose`` in the same way, and its input and output paths.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time

from . import __version__
from .commands import Command, entries
from .errors import LreError, UsageError

#: the stage modules whose COMMANDS the CLI offers, in pipeline order
STAGES = (
    "lre.stimuli.stage",
    "lre.features.stage",
    "lre.transfer.stage",
    "lre.embedding.stage",
    "lre.datasets.stage",
    "lre.encoding.stage",
    "lre.brainlink.stage",
    "lre.report",
)


def commands() -> list[Command]:
    return [c for mod in STAGES for c in importlib.import_module(mod).COMMANDS]


def cmd_check(args) -> None:
    from . import config
    from .features import check_models, resolve_spaces

    cfg = config.load(args.config, check_models=False)
    if not args.cluster:
        config.check_devices(cfg, source=args.config)
    if config.runs(cfg, "encoding"):
        from .datasets import check_tr

        check_tr(cfg)
    spaces = resolve_spaces(cfg["features"]["models"])
    print(
        f"{args.config}: valid; analyses {', '.join(cfg['analyses'])}; "
        f"{len(cfg['features']['models'])} models, {len(spaces)} spaces"
    )
    for s in spaces:
        print(f"  {s.name:32s} {s.family:10s} group={s.group}")
    missing = check_models(cfg["features"]["models"], collect=True)
    if missing:
        print(f"{len(missing)} model(s) not available here:")
        for _, err in missing:
            print(f"  {err}")
        raise SystemExit(1)


def set_threads(n: int | None) -> None:
    """Limit the BLAS and OpenMP thread pools (and torch's) to ``n`` threads."""
    if not n:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def _job_and_runtime(cmd: Command, args) -> tuple[dict | None, dict]:
    runtime = {"device": "auto", "threads": 1}
    if not cmd.takes_job:
        job = None
    elif args.job:
        try:
            job = json.loads(args.job)
        except json.JSONDecodeError as e:
            raise UsageError(
                cmd.name,
                f"--job is not valid JSON ({e.msg} at character {e.pos}).",
                fix='pass the config slice as one JSON object, e.g. --job "$(cat job.json)".',
            ) from None
    elif args.config:
        from . import config
        from .resources import runtime_settings

        cfg = config.load(args.config)
        job = cmd.job_from_config(cfg, args)
        runtime = runtime_settings(cfg)
    else:
        how = "--job JSON or --config FILE" if cmd.job_from_config else "--job JSON"
        raise UsageError(cmd.name, "no job was given.", fix=f"give {how}.")
    if getattr(args, "device", None):
        runtime["device"] = args.device
    if args.threads:
        runtime["threads"] = args.threads
    return job, runtime


def _options(cmd: Command, args, job: dict | None) -> dict:
    """The runner's keyword arguments: each declared option, paired with the job's entries
    where it is declared ``per`` a job key."""
    out = {}
    for arg in cmd.args:
        value = getattr(args, arg.dest)
        if arg.per and value is not None:
            names = entries(job, arg.per)
            if len(names) != len(value):
                raise UsageError(
                    cmd.name,
                    f"{len(value)} {arg.flag} file(s) for the {len(names)} entries of the "
                    f"job's {arg.per} ({names[:3]}{'...' if len(names) > 3 else ''}).",
                    fix="pass one file per entry, in the job's order.",
                )
            value = dict(zip(names, value))
        out[arg.dest] = value
    return out


def _run_stage(cmd: Command):
    def run(args) -> None:
        job, runtime = _job_and_runtime(cmd, args)
        set_threads(runtime["threads"])
        kwargs = _options(cmd, args, job)
        if cmd.runtime:
            kwargs["runtime"] = runtime
        if cmd.takes_job:
            cmd.run(job, **kwargs)
        else:
            cmd.run(None, **kwargs)

    return run


def _add_arg(sp, arg) -> None:
    kw = {"help": arg.help, "type": arg.type, "required": arg.required}
    if arg.many:  # an optional list may be given empty (a job with no such entries)
        kw["nargs"] = "+" if arg.required else "*"
    sp.add_argument(arg.flag, **kw)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lre", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"lre {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sp = sub.add_parser("check", help="validate a config and list its analyses and feature spaces")
    sp.add_argument("config")
    sp.add_argument(
        "--cluster",
        action="store_true",
        help="the jobs run on a cluster's nodes, not here: do not refuse GPU settings for want of a GPU here",
    )
    sp.set_defaults(func=cmd_check)

    for cmd in commands():
        sp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        if cmd.takes_job:
            g = sp.add_mutually_exclusive_group()
            g.add_argument("--job", help="JSON config slice (what the Snakemake rules pass)")
            if cmd.job_from_config:
                g.add_argument("--config", help="YAML config file (for use by hand)")
            for arg in cmd.config_args:
                _add_arg(sp, arg)
        sp.add_argument(
            "--accept-provenance",
            action="store_true",
            help="use inputs made for a different config anyway (warn instead of refusing)",
        )
        sp.add_argument("--threads", type=int, help="threads for the numerical libraries (default: 1)")
        sp.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
        if cmd.runtime:
            sp.add_argument(
                "--device",
                choices=["auto", "cpu", "cuda"],
                help="where to compute (default: auto, or features.device with --config)",
            )
        for arg in cmd.args:
            _add_arg(sp, arg)
        sp.set_defaults(func=_run_stage(cmd), config=None, job=None)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pybids' schema package announces which schema it bundles on every BIDS index
    logging.getLogger("bidsschematools").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    if getattr(args, "accept_provenance", False):
        from . import provenance

        provenance.ACCEPT = True
    try:
        args.func(args)
    except LreError as e:
        logging.error("%s", e)
        print(f"lre {args.command}: error: {e}", file=sys.stderr)
        return 2
    logging.info("lre %s finished in %.1f s", args.command, time.perf_counter() - t0)
    return 0
