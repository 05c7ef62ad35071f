"""The house rules: no import circle in the package, the results/ layout written once, and
every stage command built the same way."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from lre import cli, paths

SRC = ROOT / "src" / "lre"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the lre modules it imports anywhere in its body (function-level imports
    included: a circle through a lazy import is still a circle)."""
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # `from pkg import sub` imports the submodule when there is one
                subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in files]
                targets = subs if len(subs) == len(node.names) else [mod] + subs
            for t in targets:
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t.startswith("lre") and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert len(graph) > 40 and "lre.jobs" in graph["lre.transfer.stage"] | graph["lre.stimuli.stage"]
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph))}"


def _literals(path: Path) -> list[str]:
    """String literals of a Python file (docstrings left out) or of a Snakemake file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return re.findall(r'"([^"\n]*)"', text)
    tree = ast.parse(text)
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def test_results_file_names_are_written_in_lre_paths_only():
    names = set()
    for template in list(paths.TEMPLATES.values()) + list(paths.LOGS.values()):
        tail = re.sub(r"\{[^}]*\}", "", template.rsplit("/", 1)[-1])
        if len(tail) >= 6 and "." in tail and not tail.startswith("."):  # not bare formats (.TextGrid)
            names.add(tail)
    assert {"noise_ceiling.h5", "embedding.h5", "_principal_flat.png", "comparison.csv"} <= names
    files = [p for p in SRC.rglob("*.py") if p.name != "paths.py"] + list((ROOT / "workflow").rglob("*.smk"))
    files.append(ROOT / "Snakefile")
    found = [(str(p.relative_to(ROOT)), lit) for p in files for lit in _literals(p) if any(n in lit for n in names)]
    assert not found, f"results file names spelled outside lre/paths.py: {found}"


@pytest.mark.parametrize("cmd", cli.commands(), ids=lambda c: c.name)
def test_every_stage_command_takes_the_common_options(cmd):
    proc = subprocess.run(
        [sys.executable, "-m", "lre", cmd.name, "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    for option in ("--accept-provenance", "--threads", "--verbose"):
        assert option in proc.stdout, (cmd.name, option)
    assert ("--job" in proc.stdout) == cmd.takes_job


def test_a_file_list_that_does_not_match_the_job_is_refused(capsys):
    job = {"stage": "transfer-gather", "spaces": ["a.x", "b.x"], "method": "bottleneck", "expects": {}}
    import json

    rc = cli.main(["transfer-gather", "--job", json.dumps(job), "--inputs", "one.h5", "--out", "o.h5"])
    err = capsys.readouterr().err
    assert rc == 2 and "1 --inputs file(s) for the 2 entries of the job's spaces" in err


@pytest.mark.parametrize("what", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(what):
    """ruff (configured in pyproject.toml) passes on src/, tests/ and bench/."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *what, "src", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_the_corpus_side_lives_under_its_own_root_and_results_find_it(tmp_path):
    from lre.paths import CORPUS_SIDE, Layout
    from lre.results import Results, record_corpus_root

    results, corpus = tmp_path / "lebel", tmp_path / "corpus"
    layout = Layout(results, corpus)
    assert layout.path("embedding_h5", method="bottleneck") == str(corpus / "embedding/bottleneck/embedding.h5")
    assert layout.path("corpus_features", model="glove") == str(corpus / "features/corpus/glove.h5")
    assert layout.path("features", model="glove") == str(results / "features/stories/glove.h5")
    assert layout.path("encoding", subject="s", space="glove.vec") == str(results / "encoding/s/glove.vec.h5")
    assert layout.log("transfer_prepare") == str(corpus / "logs/transfer/prepare.log")
    assert layout.log("encode", subject="s", chunk="glove") == str(results / "logs/encoding/s/glove.log")
    # by default one folder holds both sides, and no two names share a path
    single = Layout(results)
    assert single.path("embedding_h5", method="bottleneck").startswith(str(results))
    assert len(set(single.templates().values())) == len(single.templates())
    assert {"encoding", "brainlink", "features", "documents"}.isdisjoint(CORPUS_SIDE)
    # a run records where its corpus side is; Results reads it from there
    results.mkdir()
    corpus.mkdir()
    record_corpus_root(results, corpus)
    res = Results(results)
    assert res.corpus_root == corpus.resolve()
    assert res.path("embedding_h5", method="mlp") == corpus.resolve() / "embedding/mlp/embedding.h5"
    assert Results(results, corpus=results).path("split") == results / "transfer/split.json"
    record_corpus_root(results, results)  # one folder again: the note goes
    assert Results(results).corpus_root == results


def test_the_corpus_side_record_names_results_folders_relative_to_its_root(tmp_path):
    """The record in a corpus root is the same bytes wherever the folders sit (two clean runs
    in two places give identical outputs) and still finds a results folder beside it."""
    import json

    from lre import lock

    side = {"seed": 0, "transfer": {"bottleneck": 3}}
    records = []
    for place in ("a", "b/deeper"):
        root = tmp_path / place / "results"
        root.mkdir(parents=True)
        lock.claim_corpus_root(root, root, side)
        records.append((root / lock.CORPUS_SIDE).read_bytes())
    assert records[0] == records[1]
    assert list(json.loads(records[0])["users"]) == ["."]
    # a second results folder beside the root is recorded as ../name and guarded by it
    root = tmp_path / "a" / "results"
    (tmp_path / "a" / "other").mkdir()
    lock.claim_corpus_root(root, tmp_path / "a" / "other", side)
    assert set(json.loads((root / lock.CORPUS_SIDE).read_text())["users"]) == {".", "../other"}
    with pytest.raises(lock.CorpusSideInUse, match=str(tmp_path / "a" / "other")):
        lock.claim_corpus_root(root, root, {"seed": 1, "transfer": {"bottleneck": 3}})
