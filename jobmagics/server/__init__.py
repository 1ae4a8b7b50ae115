"""The jobmagics Jupyter server extension: the REST API of the "Jobs" sidebar.

Enabled by ``jupyter-config/server-config/jobmagics.json``
(``{"ServerApp": {"jpserver_extensions": {"jobmagics.server": true}}}``), which the wheel
installs into ``etc/jupyter/jupyter_server_config.d``. Routes live under
``<base_url>/jobmagics/api/`` (see :mod:`jobmagics.server.handlers`).
"""
from __future__ import annotations

from typing import Any

from .app import JobmagicsApp

__all__ = ["JobmagicsApp"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "jobmagics.server", "app": JobmagicsApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # The built assets are installed by the wheel's shared-data into
    # share/jupyter/labextensions/jobmagics; this is for `jupyter labextension develop`.
    return [{"src": "labextension", "dest": "jobmagics"}]
