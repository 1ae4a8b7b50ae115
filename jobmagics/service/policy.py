"""Who may run what in an instrument's shared kernel: the persistent kernel of an exclusive
resource, which runs as a system queue's service. One rule, applied by the service when a job
is submitted and by the worker again when it starts (the lists may have changed meanwhile)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InstrumentPolicy:
    """The admins and instrument operators, who run their own code there, and the experiment
    classes everyone else may run there."""

    admins: frozenset[str]
    operators: frozenset[str]
    allowed: frozenset[str]

    @classmethod
    def read(cls, setting: Callable[[str, Any], Any]) -> InstrumentPolicy:
        """From the queue's settings (``Store.setting``)."""
        return cls(frozenset(setting("admins", [])), frozenset(setting("operators", [])),
                   frozenset(setting("allowed_experiments", [])))

    def may_run_code(self, user: str) -> bool:
        return user == "root" or user in self.admins or user in self.operators

    def refusal(self, user: str, kind: str, target: str | None, resource: str) -> str | None:
        """Why ``user``'s job of ``kind`` may not run in ``resource``'s kernel (None: it may)."""
        if self.may_run_code(user):
            return None
        if kind != "experiment":
            return (f"{user} may not run {kind} code in the instrument kernel of {resource}"
                    f" (ask a queue admin: jobmagics admin operators add {user})")
        if target in self.allowed:
            return None
        return (f"{user} may not run experiment {target} in the instrument kernel of {resource}:"
                f" it is not on the queue's list of allowed experiments (ask a queue admin:"
                f" jobmagics allow add {target})")
