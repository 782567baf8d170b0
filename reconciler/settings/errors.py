"""The one error a bad reconciler config file raises: every problem, each naming where it is."""

from __future__ import annotations

from typing import Sequence


class ConfigError(Exception):
    """The config file cannot be used; `python -m reconciler` exits with code 2."""

    def __init__(self, config_path: str, problems: Sequence[str]) -> None:
        self.config_path = config_path
        self.problems = tuple(problems)
        count = len(self.problems)
        heading = f"{config_path}: {count} problem{'s' if count != 1 else ''} in the reconciler config:"
        super().__init__("\n".join([heading, *(f"  {problem}" for problem in self.problems)]))
