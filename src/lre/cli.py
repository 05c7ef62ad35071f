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

    from .features import check_models

    cfg = config.load(args.config, check_models=False)
    spaces = resolve_spaces(cfg["features"]["models"])
    print(f"{args.config}: valid; {len(cfg['features']['models'])} models, {len(spaces)} spaces")
    for s in spaces:
        print(f"  {s.name:32s} {s.family:10s} group={s.group}")
    missing = check_models(cfg["features"]["models"], collect=True)
    if missing:
        print(f"{len(missing)} model(s) not available here:")
        for _, err in missing:
            print(f"  {err}")
        raise SystemExit(1)


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
        if args.model not in cfg["features"]["models"]:
            raise SystemExit(f"--model must name one of {sorted(cfg['features']['models'])} (got {args.model!r})")
        job, runtime = config.features_job(cfg, args.model), config.runtime_settings(cfg)
    else:
        job = _job(args, None)
    stage.run(job, args.documents, args.out, _runtime(args, runtime), of_path=args.of)


def cmd_features_summary(args) -> None:
    from .features import store

    store.write_summary(args.features, args.out)


def _pairs(names, paths, what):
    if len(names) != len(paths):
        raise SystemExit(f"{len(paths)} {what} files for {len(names)} entries of the job; pass one file per entry, "
                         "in the job's order")
    return dict(zip(names, paths))


def cmd_transfer_prepare(args) -> None:
    from . import transfer_stage

    transfer_stage.run_prepare(json.loads(args.job), args.features, args.split, args.universal)


def cmd_transfer_encode(args) -> None:
    from . import transfer_stage

    _threads(args.threads)
    job = json.loads(args.job)
    device = "cpu"
    if job["transfer"]["method"] == "mlp":  # only the torch encoder uses a device
        from .features.hf import pick_device

        device = pick_device(args.device)
    transfer_stage.run_encode(job, args.split, args.universal, args.features, args.out, device=device)


def cmd_transfer_decode(args) -> None:
    from . import transfer_stage

    _threads(args.threads)
    job = json.loads(args.job)
    transfer_stage.run_decode(job, args.split, args.features, _pairs(job["sources"], args.encoders, "encoder"),
                              args.out)


def cmd_transfer_gather(args) -> None:
    from . import transfer_stage

    job = json.loads(args.job)
    transfer_stage.run_gather(job, _pairs(job["spaces"], args.inputs, "decoder"), args.out)


def cmd_transfer_direct(args) -> None:
    from . import transfer_stage

    _threads(args.threads)
    job = json.loads(args.job)
    transfer_stage.run_direct(job, args.split, args.features, _pairs(job["targets"], args.targets, "target"),
                              args.out)


def cmd_direct_gather(args) -> None:
    from . import transfer_stage

    job = json.loads(args.job)
    transfer_stage.run_direct_gather(job, _pairs(job["spaces"], args.inputs, "direct"), args.out)


def cmd_similarity(args) -> None:
    from . import transfer_stage

    _threads(args.threads)
    job = json.loads(args.job)
    transfer_stage.run_similarity(job, args.split, _pairs(job["spaces"], args.features, "feature"), args.out)


def cmd_embedding(args) -> None:
    from . import embedding_stage

    job = json.loads(args.job)
    embedding_stage.run(job, args.mse, embedding_stage.figure_paths(args.outdir, job["method"]))


def cmd_compare(args) -> None:
    from . import embedding_stage

    inputs = {}
    for item in args.inputs:
        method, rest = item.split("=", 1)
        path, key = rest.rsplit(":", 1)
        inputs[method] = (path, key)
    embedding_stage.run_compare(json.loads(args.job), inputs, args.png, args.csv)


def cmd_encode(args) -> None:
    from . import encoding_stage

    _threads(args.threads)
    job = json.loads(args.job)
    features = _pairs(job["spaces"], args.features, "feature")
    outputs = {}
    for space, h5 in _pairs(job["spaces"], args.out, "output").items():
        outputs[space] = {"h5": h5, "nii": encoding_stage.nifti_path(h5) if job["dataset"]["mask"] else None}
    encoding_stage.run_encode(job, features, outputs)


def cmd_noise_ceiling(args) -> None:
    from . import encoding_stage

    encoding_stage.run_noise_ceiling(json.loads(args.job), args.out, args.nii, args.png)


def cmd_encoding_summary(args) -> None:
    from . import encoding_stage

    job = json.loads(args.job)
    encoding_stage.run_summary(job, _pairs([s["name"] for s in job["spaces"]], args.inputs, "score"), args.out)


def cmd_demo_fmri(args) -> None:
    from . import encoding_stage

    job = json.loads(args.job)
    encoding_stage.run_demo_fmri(job, args.documents, _pairs(job["fmri"]["planted"], args.features, "feature"),
                                 args.root)


def cmd_recovery(args) -> None:
    from . import encoding_stage

    job = json.loads(args.job)
    encoding_stage.run_recovery(job, args.truth, _pairs(job["spaces"], args.inputs, "score"), args.ceiling, args.out)


def cmd_brainlink(args) -> None:
    from . import brainlink_stage

    job = json.loads(args.job)
    names = [s["name"] for s in job["spaces"]]
    outputs = {"h5": args.out, "scatter_png": args.scatter}
    if job["dataset"]["mask"]:
        base = args.out[: -len(".h5")]
        outputs.update({f"{k}_{ext}": f"{base}_{k}.{'nii.gz' if ext == 'nii' else 'png'}"
                        for k in ("score", "principal") for ext in ("nii", "png")})
    brainlink_stage.run(job, args.embedding, _pairs(names, args.scores, "score"), outputs)


def cmd_space_table(args) -> None:
    from . import brainlink_stage

    job = json.loads(args.job)
    brainlink_stage.run_space_table(job, args.embedding, _pairs(job["subjects"], args.summaries, "summary"),
                                    args.out)


def cmd_brainlink_check(args) -> None:
    from . import brainlink_stage

    job = json.loads(args.job)
    brainlink_stage.run_check(job, args.truth, args.brainlink, _pairs(job["spaces"], args.scores, "score"), args.out)


def cmd_flatmap(args) -> None:
    from . import flatmap

    flatmap.run(json.loads(args.job), args.brainlink, {"principal": args.principal, "score": args.score})


def cmd_performance_figure(args) -> None:
    from . import plots
    from .encoding_stage import read_summary

    job = json.loads(args.job)
    table = {}
    for subject, path in _pairs(job["subjects"], args.summaries, "summary").items():
        rows, top = read_summary(path, job, subject)
        table[subject] = {r["space"]: float(r[top]) for r in rows}
    plots.performance_bars(table, job["spaces"], args.out, "encoding performance of every space "
                           "(bars: mean over subjects, dots: subjects)")


def _threads(n) -> None:
    if n:
        import os

        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(n)
        except ImportError:
            pass


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
        sp.add_argument("--accept-provenance", action="store_true",
                        help="use inputs made for a different config anyway (warn instead of refusing)")
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
    def job_parser(name, help_, func):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--job", required=True, help="JSON config slice (what the Snakemake rules pass)")
        sp.set_defaults(func=func)
        return sp

    sp = job_parser("transfer-prepare", "split the corpus and build the universal input U(S)", cmd_transfer_prepare)
    sp.add_argument("--features", required=True, help="feature file of the universal (static) space")
    sp.add_argument("--split", required=True, help="split JSON to write")
    sp.add_argument("--universal", required=True, help="universal-input HDF5 to write")

    sp = job_parser("transfer-encode", "fit one target space's bottleneck encoder", cmd_transfer_encode)
    for a in ("--split", "--universal", "--features", "--out"):
        sp.add_argument(a, required=True)
    sp.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    sp.add_argument("--threads", type=int)

    sp = job_parser("transfer-decode", "decode one target from every source latent (per-sample MSE)",
                    cmd_transfer_decode)
    for a in ("--split", "--features", "--out"):
        sp.add_argument(a, required=True)
    sp.add_argument("--encoders", nargs="+", required=True, help="encoder files, in the job's source order")
    sp.add_argument("--threads", type=int)

    sp = job_parser("transfer-gather", "stack all targets into mse[t, s, k]", cmd_transfer_gather)
    sp.add_argument("--inputs", nargs="+", required=True)
    sp.add_argument("--out", required=True)

    sp = job_parser("transfer-direct", "ridge from one full source space to every target (R^2)", cmd_transfer_direct)
    for a in ("--split", "--features", "--out"):
        sp.add_argument(a, required=True)
    sp.add_argument("--targets", nargs="+", required=True, help="feature files, in the job's target order")
    sp.add_argument("--threads", type=int)

    sp = job_parser("direct-gather", "stack every source into r2[t, s]", cmd_direct_gather)
    sp.add_argument("--inputs", nargs="+", required=True)
    sp.add_argument("--out", required=True)

    sp = job_parser("similarity", "linear CKA and RSA between every pair of spaces", cmd_similarity)
    sp.add_argument("--split", required=True)
    sp.add_argument("--features", nargs="+", required=True, help="feature files, in the job's space order")
    sp.add_argument("--out", required=True)
    sp.add_argument("--threads", type=int)

    sp = job_parser("embedding", "tournament, affinity and weighted MDS, with tables and figures", cmd_embedding)
    sp.add_argument("--mse", required=True)
    sp.add_argument("--outdir", required=True)

    sp = job_parser("compare", "compare affinity, direct R^2, CKA and RSA", cmd_compare)
    sp.add_argument("--inputs", nargs="+", required=True, help="method=file:dataset")
    sp.add_argument("--png", required=True)
    sp.add_argument("--csv", required=True)

    sp = job_parser("encode", "fit and score voxelwise encoding models of several spaces for one subject",
                    cmd_encode)
    sp.add_argument("--features", nargs="+", required=True, help="feature files, in the job's space order")
    sp.add_argument("--out", nargs="+", required=True, help="score files to write, in the job's space order")
    sp.add_argument("--threads", type=int)

    sp = job_parser("noise-ceiling", "noise ceiling of one subject from the test story's repeats", cmd_noise_ceiling)
    sp.add_argument("--out", required=True)
    sp.add_argument("--nii", help="NIfTI map to write (needs dataset.mask)")
    sp.add_argument("--png", help="figure of the map to write (with --nii)")

    sp = job_parser("encoding-summary", "per-subject table of every space's scores", cmd_encoding_summary)
    sp.add_argument("--inputs", nargs="+", required=True, help="score files, in the job's space order")
    sp.add_argument("--out", required=True)

    sp = job_parser("demo-fmri", "write the synthetic fMRI dataset with planted truth", cmd_demo_fmri)
    sp.add_argument("--documents", required=True)
    sp.add_argument("--features", nargs="+", required=True, help="feature files of the planted spaces, in order")
    sp.add_argument("--root", required=True)

    sp = job_parser("recovery", "compare a subject's fitted results with the planted truth", cmd_recovery)
    sp.add_argument("--truth", required=True)
    sp.add_argument("--ceiling", required=True)
    sp.add_argument("--inputs", nargs="+", required=True, help="score files, in the job's space order")
    sp.add_argument("--out", required=True)

    sp = job_parser("brainlink", "the embedding predicts each voxel's performance; principal-dimension map",
                    cmd_brainlink)
    sp.add_argument("--embedding", required=True)
    sp.add_argument("--scores", nargs="+", required=True, help="score files, in the job's space order")
    sp.add_argument("--out", required=True)
    sp.add_argument("--scatter", required=True)

    sp = job_parser("space-table", "one row per space: family, layer, coordinates, performance", cmd_space_table)
    sp.add_argument("--embedding")
    sp.add_argument("--summaries", nargs="+", required=True)
    sp.add_argument("--out", required=True)

    sp = job_parser("brainlink-check", "compare the brain link with the planted truth (demo)", cmd_brainlink_check)
    sp.add_argument("--truth", required=True)
    sp.add_argument("--brainlink", required=True)
    sp.add_argument("--scores", nargs="+", required=True, help="score files, in the job's space order")
    sp.add_argument("--out", required=True)

    sp = job_parser("flatmap", "pycortex flatmaps of a subject's brain-link maps", cmd_flatmap)
    sp.add_argument("--brainlink", required=True)
    sp.add_argument("--principal", required=True, help="PNG of the principal-dimension map to write")
    sp.add_argument("--score", required=True, help="PNG of the brain-link score map to write")

    sp = job_parser("performance-figure", "bar chart of every space's encoding performance", cmd_performance_figure)
    sp.add_argument("--summaries", nargs="+", required=True)
    sp.add_argument("--out", required=True)

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
