"""The documentation: the `wideflow docs` command, the API-page generator, the gallery sources.

The site itself is built (with -W, examples executed) by .ci/run; these are the fast checks.
"""

import ast
import importlib
import os
import subprocess
import sys

import pytest

import wideflow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(REPO, "docs")
EXAMPLES = os.path.join(REPO, "examples")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


needs_checkout = pytest.mark.skipif(
    not os.path.isfile(os.path.join(DOCS, "conf.py")), reason="needs the docs/ folder of a source checkout"
)


def test_docs_command_outside_a_checkout_says_what_is_missing(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "wideflow", "docs", "--no-open", "--source", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "docs/conf.py" in proc.stderr and str(tmp_path) in proc.stderr
    assert not os.listdir(tmp_path)  # nothing written there


def test_docs_command_is_listed_in_help():
    proc = subprocess.run(
        [sys.executable, "-m", "wideflow", "docs", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    assert "--no-open" in proc.stdout


@pytest.fixture()
def api(monkeypatch, tmp_path):
    pytest.importorskip("sphinx")
    monkeypatch.syspath_prepend(DOCS)
    mod = importlib.import_module("_api")
    monkeypatch.setattr(mod, "GENERATED", str(tmp_path))
    return mod


@needs_checkout
def test_api_pages_cover_every_public_name(api, tmp_path):
    mods = api.write_api_pages()
    assert "wideflow" in mods and "wideflow.limits" in mods and "wideflow.linear_theory" in mods
    assert not any(part.startswith("_") for m in mods for part in m.split("."))
    top = (tmp_path / "wideflow.rst").read_text()
    for name in wideflow.__all__:
        obj = getattr(wideflow, name)
        if isinstance(obj, type(wideflow)):
            assert obj.__name__ in top, name
        elif name == "__version__":
            assert ".. data:: __version__" in top
        else:
            assert f"wideflow.{name}" in top, name
    for modname in mods:
        page = (tmp_path / f"{modname}.rst").read_text()
        assert f".. automodule:: {modname}" in page
        if modname != "wideflow":
            for name in api.module_members(modname):
                assert name in page, f"{modname}.{name}"
    index = (tmp_path / "modules.rst.inc").read_text()
    assert all(f"generated/{m}" in index for m in mods)


@needs_checkout
def test_plain_text_docstrings_are_shown_verbatim(api):
    formula = [
        "f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ with |c_i| large;",
        "",
        "scheme:",
        '  "gaussian": a, b ~ N(0, 1)',
        "      and more",
    ]
    numpy_style = ["Evaluate f.", "", ":param x: points", ":returns: values"]
    assert not api._valid_rst(formula)
    assert api._valid_rst(numpy_style)
    lines = list(formula)
    api.docstring_fallback(None, "function", "f", None, {}, lines)
    assert lines[0] == "::" and lines[2] == "    " + formula[0]


@pytest.mark.skipif(not os.path.isdir(EXAMPLES), reason="needs the examples/ folder of a source checkout")
def test_gallery_examples_have_a_title_and_use_only_the_public_api():
    files = sorted(f for f in os.listdir(EXAMPLES) if f.startswith("plot_") and f.endswith(".py"))
    assert len(files) >= 8
    for f in files:
        tree = ast.parse(_read(os.path.join(EXAMPLES, f)))
        doc = ast.get_docstring(tree)
        assert doc and doc.splitlines()[1].startswith("==="), f  # sphinx-gallery title
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wideflow"):
                assert not any(part.startswith("_") for part in node.module.split(".")), f


def _sources():
    pkg = os.path.dirname(wideflow.__file__)
    roots = [pkg] + [os.path.join(REPO, d) for d in ("tests", "bench") if os.path.isdir(os.path.join(REPO, d))]
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f.endswith((".py", ".md", ".toml")) and f != "test_docs.py":
                    yield os.path.join(dirpath, f)
    if os.path.isfile(os.path.join(REPO, "README.md")):
        yield os.path.join(REPO, "README.md")


def test_no_reference_to_the_private_science_notes_is_left():
    import re

    bad = re.compile(r"science/|science (§|notes|spec|file)|Science §|(williams2019|tarmoun2021|du2018)\.md §")
    hits = [
        f"{path}:{i}" for path in _sources() for i, line in enumerate(_read(path).splitlines(), 1) if bad.search(line)
    ]
    assert hits == []


@needs_checkout
def test_docs_pages_named_in_the_code_exist():
    import re

    ref = re.compile(r"docs (?:pages? )?((?:theory|guide)/[a-z0-9_]+|reproductions)")
    seen = set()
    for path in _sources():
        for m in ref.finditer(_read(path)):
            seen.add(m.group(1))
            assert os.path.isfile(os.path.join(DOCS, m.group(1) + ".md")), f"{path}: docs page {m.group(1)}"
    assert {"theory/williams2019", "theory/tarmoun2021", "theory/du2018", "reproductions"} <= seen
