"""The live outputs of this kernel: each widget a job, array or queue was displayed as, with its
display id and the cell that displayed it, so that its background work stops when its output
is gone, and a job's output becomes its final card when the job ended.

- ``LiveView.show`` displays the widget beside a static ``text/html`` and ``text/plain``
  (nbconvert, front ends without widgets) with a display id and ``{"jobmagics": {"live":
  true}}`` in the output's metadata (how a front end knows which outputs to report cleared).
- ``LiveView.ended`` (called from the thread that saw the job end) replaces the output by a
  bundle without the widget view (``update_display``) and closes the widget: a saved notebook
  keeps the final card, not a view whose model is gone ("Error displaying widget: model not
  found" once the kernel is gone). The update goes out under the kernel's current parent
  header, whatever cell runs now: JupyterLab routes ``update_display_data`` by display id alone,
  and nbclient (``nbconvert --execute``) only reads the messages of the cell it is running.
- When a cell runs again (``pre_run_cell``, whose ``cell_id`` ipykernel takes from the front
  end's ``cellId``), the widgets it displayed before are closed; so are those whose model ids
  a message ``{"closed": [model_id, ...]}`` on the comm target ``jobmagics.views`` names (the
  sidebar extension sends it when the user clears outputs).

No ipywidgets import here: ``%load_ext jobmagics`` installs the hooks without loading them."""
from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import Any

COMM_TARGET = "jobmagics.views"
LIVE_METADATA = {"jobmagics": {"live": True}}
ENDED_METADATA = {"jobmagics": {"live": False}}

_views: dict[str, LiveView] = {}          # widget model id -> its live output
_lock = threading.Lock()
_cell: dict[str, str | None] = {"id": None}   # the cell running now (None: not told)
_installed: weakref.WeakSet[Any] = weakref.WeakSet()


class LiveView:
    """One live output of a widget. ``final(widget)`` gives the bundle it ends as (None: a
    widget that never ends, a queue panel)."""

    def __init__(self, widget: Any, final: Callable[[Any], dict[str, Any]] | None = None) -> None:
        self.widget = widget
        self.final = final
        self.display_id = uuid.uuid4().hex
        self.cell_id = current_cell_id()
        self._lock = threading.RLock()
        self._shown = False
        self._ended = False
        self._closed = False

    @property
    def model_id(self) -> str:
        return str(self.widget.model_id)

    def show(self, fallback: dict[str, str]) -> None:
        """Display the widget with ``fallback`` (``text/html``, ``text/plain``) beside it."""
        from IPython.display import display
        data = {**dict(self.widget._repr_mimebundle_() or {}), **fallback}
        with _lock:
            _views[self.model_id] = self
        display(data, raw=True, metadata=LIVE_METADATA, display_id=self.display_id)
        with self._lock:
            self._shown = True
            ended = self._ended
        if ended:                       # it ended while we were displaying it
            self.ended(self.widget)

    def ended(self, widget: Any) -> None:
        """The job (array) ended: its output becomes the final card, the widget closes."""
        with self._lock:
            self._ended = True
            if not self._shown or self._closed:
                return
            if self.final is not None:
                from IPython.display import update_display
                update_display(self.final(widget), raw=True, metadata=ENDED_METADATA,
                               display_id=self.display_id)
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with _lock:
            _views.pop(self.model_id, None)
        self.widget.close()


def live_views() -> list[LiveView]:
    with _lock:
        return list(_views.values())


def close_views(model_ids: Iterable[Any]) -> int:
    """Close the live views of these widget model ids (others are ignored); how many."""
    with _lock:
        found = [_views[i] for i in model_ids if isinstance(i, str) and i in _views]
    for view in found:
        view.close()
    return len(found)


def current_cell_id() -> str | None:
    """The id of the cell running now: JupyterLab's ``cellId`` in the execute request's
    metadata (read at display time: the first display may come before the hook saw a cell)."""
    shell = kernel_shell()
    try:
        parent = shell.kernel.get_parent() if shell is not None else None
    except Exception:  # noqa: BLE001 - an older ipykernel: what the pre_run_cell hook saw
        parent = None
    cell_id = ((parent or {}).get("metadata") or {}).get("cellId")
    return cell_id if isinstance(cell_id, str) else _cell["id"]


def kernel_shell() -> Any:
    """The IPython shell of a kernel that can show widgets (None: a terminal, a script)."""
    try:
        from IPython import get_ipython
    except ImportError:          # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def install(shell: Any) -> None:
    """Register the ``pre_run_cell`` hook and the ``jobmagics.views`` comm target (once)."""
    if shell is None or shell in _installed:
        return
    _installed.add(shell)
    shell.events.register("pre_run_cell", _before_cell)
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is None:
        try:
            from comm import get_comm_manager
            manager = get_comm_manager()
        except ImportError:        # pragma: no cover - comm comes with ipykernel
            return
    manager.register_target(COMM_TARGET, _on_comm_open)


def _before_cell(info: Any) -> None:
    """A cell runs: the widgets its earlier run displayed are gone from the page."""
    cell_id = getattr(info, "cell_id", None)
    _cell["id"] = cell_id
    if not cell_id:
        return
    with _lock:
        for model_id in [i for i, view in _views.items() if view.widget.comm is None]:
            del _views[model_id]            # closed by other means (``widget.close()``)
        earlier = [view for view in _views.values() if view.cell_id == cell_id]
    for view in earlier:
        view.close()


def _on_comm_open(comm: Any, message: dict[str, Any]) -> None:
    _close_named(message)
    comm.on_msg(_close_named)


def _close_named(message: dict[str, Any]) -> None:
    data = (message.get("content") or {}).get("data") or {}
    closed = data.get("closed") if isinstance(data, dict) else None
    if isinstance(closed, list):
        close_views(closed)
