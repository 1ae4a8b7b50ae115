"""Group commit: the submissions that arrive while one is being written go in together.

Every request thread that submits joins the queue of pending submissions; one of them (the
leader) writes all that are pending in one transaction, then hands over to the next. One
caller alone sees no difference; many at once share the cost of a commit."""
from __future__ import annotations

import threading
from collections.abc import Sequence

from ..errors import JobmagicsError
from ..store import Store, Submission


class _Pending:
    __slots__ = ("error", "ids", "submission")

    def __init__(self, submission: Submission) -> None:
        self.submission = submission
        self.ids: list[str] | None = None
        self.error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.ids is not None or self.error is not None


class GroupCommit:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._changed = threading.Condition()
        self._pending: list[_Pending] = []
        self._writing = False

    def submit(self, submission: Submission) -> list[str]:
        """The ids of ``submission``'s jobs once committed (with whatever else was pending)."""
        mine = _Pending(submission)
        with self._changed:
            self._pending.append(mine)
            while self._writing and not mine.finished:
                self._changed.wait()
            if not mine.finished:
                self._writing = True
                batch, self._pending = self._pending, []
        if not mine.finished:
            try:
                self._write(batch)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error
        assert mine.ids is not None
        return mine.ids

    def _write(self, batch: Sequence[_Pending]) -> None:
        try:
            outcomes = self.store.submit_together([p.submission for p in batch])
        except BaseException as exc:      # the transaction failed: each caller hears why
            for pending in batch:
                pending.error = exc
            if not isinstance(exc, Exception):
                raise                         # (and nobody waits for an answer that never comes)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, JobmagicsError):
                pending.error = outcome
            else:
                pending.ids = outcome
