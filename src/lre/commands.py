"""How a stage declares its commands; :mod:`lre.cli` builds every parser from these.

Each stage's ``stage.py`` lists its :class:`Command` objects in ``COMMANDS``. Every command
then takes the same common options, built in one place: ``--job`` (the JSON config slice a
rule passes) or, where the command can build its job from a config, ``--config`` (a YAML
file, for use by hand); ``--accept-provenance``; ``--threads``; ``-v/--verbose``; and
``--device`` for commands that can use a GPU. A file option declared ``per`` a key of the
job takes one file per entry of that key, in the job's order, and reaches the runner as a
mapping entry -> file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Arg:
    """One option of a command (a file path unless ``type`` says otherwise)."""

    flag: str
    help: str = ""
    many: bool = False  #: several values (nargs="+")
    required: bool = True
    #: the job key (dotted for nested keys) whose entries these files belong to, in order;
    #: the runner gets ``{entry: file}``
    per: str | None = None
    type: Callable = str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Command:
    """A stage command: ``run(job, **options)`` with one keyword per declared option."""

    name: str
    help: str
    run: Callable
    args: tuple[Arg, ...] = ()
    #: builds the job from a validated config and the parsed ``config_args`` (enables --config)
    job_from_config: Callable | None = None
    config_args: tuple[Arg, ...] = ()
    #: the runner also gets ``runtime={"device": ..., "threads": ...}`` (commands that can use a GPU)
    runtime: bool = False
    #: False: the command reads no job (its inputs say everything)
    takes_job: bool = True


def entries(job: dict, key: str) -> list[str]:
    """The names listed under ``key`` (dotted) of ``job``; spaces given as records by their name."""
    node = job
    for part in key.split("."):
        node = node[part]
    if isinstance(node, dict):
        return list(node)
    return [e["name"] if isinstance(e, dict) else e for e in node]
