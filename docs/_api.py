"""Build-time helpers of the wideflow docs (loaded by conf.py).

* ``write_api_pages``: one reStructuredText page per public module under ``docs/api/generated/``, made
  from the module's ``__all__`` (or, without one, its public classes and functions). Names exported at
  the top level (``wideflow.__all__``) are documented once, as ``wideflow.NAME``; any other class or
  function once, in the first public module that exports it (a package before its submodules); the other
  pages link to it. A public module is any module of the package whose dotted name has no part starting with "_".
* ``docstring_fallback``: a docstring that is not valid reStructuredText (most of ours are plain text with
  aligned formulas) is shown verbatim, as a literal block, instead of being mangled or failing the build.
* ``check_reference``: an unresolved Python cross-reference written in one of our pages (not in a
  docstring, where backquoted text that is no object name is normal) is a warning, so ``-W`` fails.
* ``check_coverage``: every public name must be documented somewhere; a missing one is a warning.
* ``gif_scraper``: sphinx-gallery scraper that shows the GIF files an example writes (the knot animation).
"""

from __future__ import annotations

import glob
import importlib
import inspect
import os
import pkgutil
import re
import shutil

from docutils import frontend, nodes, utils
from docutils.parsers.rst import Parser
from sphinx.util import logging

logger = logging.getLogger("wideflow-docs")

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATED = os.path.join(HERE, "api", "generated")
PACKAGE = "wideflow"
SKIP_MODULES = {"wideflow.__main__"}
# where gallery examples write GIFs for gif_scraper (examples read the same variable)
GIF_DIR_ENV = "WIDEFLOW_GALLERY_GIFS"


# ---------------------------------------------------------------------------------------------- API pages
def public_modules() -> list[str]:
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=PACKAGE + "."):
        if info.name in SKIP_MODULES or any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def module_members(modname: str) -> list[str]:
    mod = importlib.import_module(modname)
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    out = []
    for name, obj in vars(mod).items():
        if name.startswith("_"):
            continue
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", None) == modname:
            out.append(name)
    return out


def _resolve(modname: str, name: str):
    mod = importlib.import_module(modname)
    return getattr(mod, name)


def _kind(obj) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def top_level() -> dict[int, str]:
    """id(object) -> documented name, for the objects exported at the top level."""
    pkg = importlib.import_module(PACKAGE)
    out = {}
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        if _kind(obj) in ("class", "function", "exception"):
            out[id(obj)] = f"{PACKAGE}.{name}"
    return out


def canonical_names(mods: list[str]) -> dict[int, str]:
    """id(object) -> the one name a class or function is documented under: its top-level name if it has
    one, else its name in the first public module (in sorted order, so a package before its submodules)
    whose members include it. Other modules that export it link there."""
    names = top_level()
    for modname in mods:
        if modname == PACKAGE:
            continue
        for name in module_members(modname):
            obj = _resolve(modname, name)
            if _kind(obj) in ("class", "function", "exception"):
                names.setdefault(id(obj), f"{modname}.{name}")
    return names


def _title(text: str, ch: str = "=") -> list[str]:
    return [text, ch * len(text), ""]


def _entry(directive: str, target: str, *, members: bool) -> list[str]:
    lines = [f".. {directive}:: {target}"]
    if members:
        lines.append("   :members:")
        lines.append("   :member-order: bysource")
    if directive == "autoexception":
        lines.append("   :show-inheritance:")
    return lines + [""]


def _page_top(mods: list[str]) -> list[str]:
    pkg = importlib.import_module(PACKAGE)
    lines = _title(f"``{PACKAGE}``") + [f".. automodule:: {PACKAGE}", "   :no-members:", ""]
    groups = {"class": [], "exception": [], "function": [], "module": [], "data": []}
    for name in pkg.__all__:
        groups[_kind(getattr(pkg, name))].append(name)
    lines += ["The names below are ``wideflow.__all__``: what ``import wideflow as wf`` gives.", ""]
    titles = {
        "class": "Models and results",
        "exception": "Warnings and errors",
        "function": "Functions",
        "module": "Submodules",
        "data": "Constants",
    }
    for kind in ("class", "exception", "function", "module", "data"):
        if not groups[kind]:
            continue
        lines += _title(titles[kind], "-")
        for name in groups[kind]:
            target = f"{PACKAGE}.{name}"
            if kind == "module":
                modname = getattr(pkg, name).__name__
                lines += [f"* :mod:`{PACKAGE}.{name} <{modname}>`: see its page.", ""]
            elif kind == "data":
                lines += [f".. data:: {name}", "", f"   ``{getattr(pkg, name)!r}``", ""]
            else:
                directive = {"class": "autoclass", "exception": "autoexception", "function": "autofunction"}[kind]
                lines += _entry(directive, target, members=kind == "class")
    return lines


def _page_module(modname: str, canonical: dict[int, str]) -> list[str]:
    lines = _title(f"``{modname}``") + [f".. automodule:: {modname}", "   :no-members:", ""]
    here, elsewhere = [], []
    for name in module_members(modname):
        obj = _resolve(modname, name)
        home = canonical.get(id(obj))
        if home is not None and home != f"{modname}.{name}" and _kind(obj) != "module":
            elsewhere.append((name, home))
        elif inspect.ismodule(obj):
            elsewhere.append((name, obj.__name__))
        else:
            here.append((name, obj))
    if elsewhere:
        lines += [
            "Also here, documented under their public names: "
            + ", ".join(f"``{n}`` (`{t}`)" for n, t in elsewhere)
            + ".",
            "",
        ]
    for name, obj in here:
        kind = _kind(obj)
        target = f"{modname}.{name}"
        if kind == "data":
            lines += [f".. autodata:: {target}", "   :no-value:" if len(repr(obj)) > 300 else "", ""]
        else:
            directive = {"class": "autoclass", "exception": "autoexception", "function": "autofunction"}[kind]
            lines += _entry(directive, target, members=kind == "class")
    return lines


def write_api_pages(app=None) -> list[str]:
    mods = public_modules()
    canonical = canonical_names(mods)
    os.makedirs(GENERATED, exist_ok=True)
    wanted = set()
    for modname in mods:
        lines = _page_top(mods) if modname == PACKAGE else _page_module(modname, canonical)
        path = os.path.join(GENERATED, modname + ".rst")
        wanted.add(path)
        text = "\n".join(lines).rstrip() + "\n"
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:  # keep mtimes of unchanged pages (incremental builds)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
    for path in glob.glob(os.path.join(GENERATED, "*.rst")):
        if path not in wanted:
            os.remove(path)
    index = _title("Modules", "-") + [".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   generated/{m}" for m in mods]
    text = "\n".join(index) + "\n"
    path = os.path.join(GENERATED, "modules.rst.inc")
    if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return mods


# --------------------------------------------------------------------------------------- docstrings
_ORIGINAL: dict = {}
_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`")


def _valid_rst(lines: list[str]) -> bool:
    text = _ROLE.sub("`", "\n".join(lines))
    settings = frontend.get_default_settings(Parser)
    settings.report_level = 5
    settings.halt_level = 5
    settings.warning_stream = False
    doc = utils.new_document("<docstring>", settings)
    messages = []
    doc.reporter.attach_observer(lambda msg: messages.append(msg))
    try:
        Parser().parse(text, doc)
    except Exception:
        return False
    if any(int(m["level"]) >= 2 and "Unknown directive type" not in m.astext() for m in messages):
        return False
    # titles are not allowed inside autodoc content; |x| and x_ are formulas here, not substitutions and links
    bad = (
        nodes.section,
        nodes.title,
        nodes.transition,
        nodes.substitution_reference,
        nodes.footnote_reference,
        nodes.citation_reference,
        nodes.problematic,
        nodes.system_message,
    )
    for n in doc.findall():
        if isinstance(n, bad) or (isinstance(n, nodes.reference) and "refname" in n):
            return False
    return True


def remember_docstring(app, what, name, obj, options, lines):
    _ORIGINAL[(what, name)] = list(lines)


def docstring_fallback(app, what, name, obj, options, lines):
    if not lines or _valid_rst(lines):
        return
    original = _ORIGINAL.get((what, name), list(lines))
    lines[:] = ["::", ""] + ["    " + ln if ln.strip() else "" for ln in original] + [""]


# ---------------------------------------------------------------------------------------- references
def check_reference(app, env, node, contnode):
    if node.get("refdomain") not in ("py", "std"):
        return None
    source = node.source or ""
    parent = node.parent
    while not source and parent is not None:
        source = parent.source or ""
        parent = parent.parent
    if "docstring of" in source:
        return None
    # references inside generated API pages come from docstrings or from our own generator
    if os.path.abspath(source).startswith(GENERATED):
        return None
    if node.get("refdomain") == "std" and node.get("reftype") in ("ref", "doc", "term", "keyword"):
        return None  # Sphinx reports these itself
    logger.warning(
        "broken cross-reference to %r (%s:%s)",
        node.get("reftarget"),
        node.get("refdomain"),
        node.get("reftype"),
        location=node,
    )
    return None


def check_coverage(app, env):
    objects = env.domains["py"].objects
    modules = env.domains["py"].modules
    pkg = importlib.import_module(PACKAGE)
    missing = []
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        full = f"{PACKAGE}.{name}"
        if inspect.ismodule(obj):
            if obj.__name__ not in modules:
                missing.append(full)
        elif full not in objects:
            missing.append(full)
    mods = public_modules()
    canonical = canonical_names(mods)
    for modname in mods:
        if modname not in modules:
            missing.append(modname)
        if modname == PACKAGE:
            continue
        for name in module_members(modname):
            obj = _resolve(modname, name)
            if inspect.ismodule(obj):
                continue
            if f"{modname}.{name}" not in objects and canonical.get(id(obj)) not in objects:
                missing.append(f"{modname}.{name}")
    for full in missing:
        logger.warning("public name %s is not documented in the API reference", full)


# ------------------------------------------------------------------------------------------ gallery
class GifScraper:
    """Show the GIFs an example wrote into $WIDEFLOW_GALLERY_GIFS since the previous code block."""

    def __init__(self):
        self.seen = {}

    def __repr__(self):  # sphinx-gallery caches on the repr
        return "GifScraper"

    def __call__(self, block, block_vars, gallery_conf):
        from sphinx_gallery.scrapers import figure_rst

        folder = os.environ.get(GIF_DIR_ENV)
        if not folder or not os.path.isdir(folder):
            return ""
        new = []
        for path in sorted(glob.glob(os.path.join(folder, "*.gif"))):
            mtime = os.path.getmtime(path)
            if self.seen.get(path) != mtime:
                self.seen[path] = mtime
                new.append(path)
        if not new:
            return ""
        images = []
        iterator = block_vars["image_path_iterator"]
        for path, target in zip(new, iterator):
            target = os.path.splitext(target)[0] + ".gif"
            shutil.copyfile(path, target)
            images.append(target)
        return figure_rst(images, gallery_conf["src_dir"])


def setup(app):
    os.environ.setdefault(GIF_DIR_ENV, os.path.join(HERE, "_build", "gallery-gifs"))
    os.makedirs(os.environ[GIF_DIR_ENV], exist_ok=True)
    for old in glob.glob(os.path.join(os.environ[GIF_DIR_ENV], "*.gif")):
        os.remove(old)
    write_api_pages()
    app.connect("autodoc-process-docstring", remember_docstring, priority=100)
    app.connect("autodoc-process-docstring", docstring_fallback, priority=900)
    app.connect("missing-reference", check_reference, priority=900)
    app.connect("env-check-consistency", check_coverage)
    return {"parallel_read_safe": True}
