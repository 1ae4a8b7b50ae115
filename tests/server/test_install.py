"""The installed package enables both halves of the JupyterLab integration by itself
(no `jupyter labextension install` / `jupyter server extension enable` step)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def jupyter(*args: str) -> str:
    result = subprocess.run([str(BIN / "jupyter"), *args], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_the_labextension_is_installed_and_enabled() -> None:
    listing = jupyter("labextension", "list")
    assert re.search(r"jobmagics v[\d.]+\S* enabled\s+OK", listing), listing


def test_the_server_extension_is_enabled_and_valid() -> None:
    listing = jupyter("server", "extension", "list")
    assert re.search(r"jobmagics\.server\s+enabled", listing), listing
    assert re.search(r"jobmagics\.server\s+OK", listing), listing


def test_the_installed_labextension_is_the_built_package() -> None:
    data = json.loads(jupyter("--paths", "--json"))["data"]
    found = [Path(d) / "labextensions" / "jobmagics" / "package.json" for d in data]
    installed = [p for p in found if p.exists()]
    assert installed, f"no share/jupyter/labextensions/jobmagics in {data}"
    package = json.loads(installed[0].read_text())
    assert package["name"] == "jobmagics"
    assert package["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
