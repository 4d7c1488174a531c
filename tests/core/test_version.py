"""The version is written once (pyproject.toml) and read back from the installed package's metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import wideflow as wf

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_is_the_package_metadata():
    assert wf.__version__ == metadata.version("wideflow") != "0+unknown"


def test_pip_show_agrees():
    out = subprocess.run(
        [sys.executable, "-m", "pip", "show", "wideflow"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert f"Version: {wf.__version__}" in out.splitlines()


@pytest.mark.skipif(not PYPROJECT.is_file(), reason="needs the pyproject.toml of a source checkout")
def test_pyproject_is_the_one_source():
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    assert "version" not in project.get("dynamic", []) and project["version"] == wf.__version__
    init = (Path(wf.__file__).parent / "__init__.py").read_text(encoding="utf-8")
    assert project["version"] not in init  # not written a second time
