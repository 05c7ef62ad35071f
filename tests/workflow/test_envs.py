"""The pip install path (constraints.txt) and the per-rule conda environments pin the same
versions, the installed environment matches them, and they satisfy pyproject's ranges."""

import importlib.metadata
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")


def pins_of(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = PIN.match(line)
        if m:
            out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def constraints(name: str = "constraints.txt") -> dict[str, str]:
    return pins_of((ROOT / name).read_text().splitlines())


#: env file -> the constraints file of its pip path
PIP_PATH = {
    "extract.yaml": ("constraints.txt",),
    "fit.yaml": ("constraints.txt",),
    "legacy.yaml": ("constraints-legacy.txt",),
    "flatmap.yaml": ("constraints.txt", "constraints-flatmap.txt"),
}


def env_pins() -> dict[str, dict[str, str]]:
    out = {}
    for path in sorted((ROOT / "workflow" / "envs").glob("*.yaml")):
        env = yaml.safe_load(path.read_text())
        pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
        out[path.name] = pins_of(pip[0] if pip else [])
    return out


def test_every_env_pin_equals_the_pip_path():
    envs = env_pins()
    assert set(envs) == set(PIP_PATH)
    for name, pins in envs.items():
        cons = {}
        for path in PIP_PATH[name]:
            cons.update(constraints(path))
        assert pins, name
        for pkg, version in pins.items():
            assert pkg in cons, f"{name} pins {pkg} but {PIP_PATH[name]} do not"
            assert cons[pkg] == version, f"{name}: {pkg}=={version}, {PIP_PATH[name]}: {cons[pkg]}"


def test_the_flatmap_env_is_the_fit_env_plus_the_flatmap_pins():
    envs = env_pins()
    assert envs["flatmap.yaml"] == {**envs["fit.yaml"], **constraints("constraints-flatmap.txt")}


def test_every_rule_names_an_existing_env():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'"\.\./envs/([\w.]+)"', smk.read_text()):
            assert (ROOT / "workflow" / "envs" / env).exists(), f"{smk.name} uses missing env {env}"


def test_installed_versions_match_the_pins():
    """What install.sh installed is what constraints.txt (and so the conda envs) pin."""
    wrong = []
    for pkg, version in constraints().items():
        try:
            have = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{pkg} not installed")
            continue
        if have.split("+")[0] != version.split("+")[0]:
            wrong.append(f"{pkg}: installed {have}, pinned {version}")
    assert not wrong, wrong


@pytest.mark.parametrize(
    "group,pins",
    [
        ("dependencies", "constraints.txt"),
        ("offline", "constraints.txt"),
        ("workflow", "constraints.txt"),
        ("bids", "constraints.txt"),
        ("test", "constraints.txt"),
        ("flatmap", "constraints-flatmap.txt"),
        ("dependencies", "constraints-legacy.txt"),
        ("legacy", "constraints-legacy.txt"),
    ],
)
def test_pins_satisfy_pyproject(group, pins):
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] if group == "dependencies" else meta["optional-dependencies"][group]
    cons = constraints(pins)
    for req in map(Requirement, reqs):
        name = canonicalize_name(req.name)
        assert name in cons, f"{req} is not pinned in constraints.txt"
        assert req.specifier.contains(cons[name], prereleases=True), f"{req} excludes the pin {cons[name]}"


def test_pycortex_where_installed_matches_its_pins():
    """./install.sh --flatmap installs what constraints-flatmap.txt pins (CI installs it)."""
    try:
        importlib.metadata.version("pycortex")
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("pycortex is not installed; CI installs it with ./install.sh --flatmap")
        pytest.skip("pycortex is not installed (./install.sh --flatmap)")
    wrong = []
    for pkg, version in constraints("constraints-flatmap.txt").items():
        try:
            have = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{pkg} not installed")
            continue
        if have != version:
            wrong.append(f"{pkg}: installed {have}, pinned {version}")
    assert not wrong, wrong


def test_the_legacy_environment_matches_its_pins():
    """What install.sh --legacy installed is what constraints-legacy.txt pins."""
    python = Path(os.environ.get("LRE_LEGACY_PYTHON") or ROOT / ".venv-legacy" / "bin" / "python")
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{python} is missing; CI installs it with ./install.sh --legacy")
        pytest.skip(f"the legacy environment is not installed ({python}; run ./install.sh --legacy)")
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for p in json.loads(sys.argv[1]):\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: out[p] = None\n"
        "print(json.dumps(out))"
    )
    pins = env_pins()["legacy.yaml"]
    proc = subprocess.run(
        [str(python), "-c", code, json.dumps(sorted(pins))], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    have = json.loads(proc.stdout)
    wrong = [
        f"{p}: installed {have[p]}, pinned {v}"
        for p, v in pins.items()
        if have[p] is None or have[p].split("+")[0] != v.split("+")[0]
    ]
    assert not wrong, wrong
