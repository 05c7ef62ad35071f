"""The project's own error types.

Every refusal says *where* (file, line or config field), *what* is wrong and *how to fix it*,
so that a user reading a Snakemake log can act on it without reading the source.
"""

from __future__ import annotations

from pathlib import Path


class LreError(Exception):
    """Base class of every error that ``lre`` raises on purpose."""


class InputError(LreError, ValueError):
    """A data file (stimulus, TR file, response, embedding table, ...) is malformed.

    Parameters
    ----------
    path : path of the offending file
    problem : what is wrong, in one sentence
    line : 1-based line number, when the problem sits on a line
    fix : how to fix it (optional)
    """

    def __init__(self, path, problem: str, *, line: int | None = None, fix: str | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}, line {line}"
        msg = f"{where}: {problem}"
        if fix:
            msg += f" Fix: {fix}"
        super().__init__(msg)


class ConfigError(LreError, ValueError):
    """The configuration is invalid; ``field`` is a dotted path such as ``features.models.glove``."""

    def __init__(self, field: str, problem: str, *, fix: str | None = None, source: str | Path | None = None):
        self.field = field
        self.problem = problem
        self.fix = fix
        where = f"{source}: " if source else ""
        msg = f"{where}config field '{field}': {problem}"
        if fix:
            msg += f" Fix: {fix}"
        super().__init__(msg)


class MissingModelError(ConfigError):
    """A configured model is not available offline; the message carries the install command."""


class UsageError(LreError):
    """A command was called with options that do not fit its job (``command``: its name)."""

    def __init__(self, command: str, problem: str, *, fix: str | None = None):
        self.command, self.problem, self.fix = command, problem, fix
        super().__init__(problem + (f" Fix: {fix}" if fix else ""))
