"""``QueuePart``: the base of the modules that each add one concern to ``Queue`` (``edits``,
``schedules``, ``retention``, ``notifications``). It declares, for the type checker, what
they use of ``Queue`` itself, and says once who acts as the queue's own account."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import JobSpec
    from .paths import QueueLayout
    from .service.remote import RemoteStore
    from .store import Store


class QueuePart:
    """What a part of ``Queue`` may use of the whole (``Queue`` defines each of these)."""

    if TYPE_CHECKING:
        store: Store | RemoteStore
        layout: QueueLayout
        user: str
        host: str

        @property
        def through_service(self) -> bool: ...

        def is_admin(self, user: str | None = None) -> bool: ...

        def _spec(self, **given: Any) -> tuple[JobSpec, bytes | None]: ...

        def _require_manager(self, verb: str) -> None: ...

    @property
    def is_service_account(self) -> bool:
        """This process is a system queue's own service (root, writing the folder itself): it
        acts on anyone's jobs, as the service does for an admin."""
        return self.layout.is_system() and not self.through_service
