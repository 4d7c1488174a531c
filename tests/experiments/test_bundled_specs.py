"""Every paper's bundled specs ship with the package and validate, full and --quick; the quick table names
only sections of its paper; a reproduction store is recognised by `wideflow report`."""

from __future__ import annotations

import os

import pytest

from wideflow.experiments import PAPERS, paper_of, study
from wideflow.experiments._study import _quick_table, spec_dir, study_sweeps
from wideflow.sweeps.driver import run_sweeps
from wideflow.sweeps.store import open_store


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_bundled_specs_validate_full_and_quick(paper):
    st = study(paper)
    for name in st.sections + st.derived_sections:
        assert os.path.isfile(os.path.join(spec_dir(paper), f"{name}.toml")), name
    assert set(_quick_table(paper)) <= set(st.sections + st.derived_sections)
    full, quick = study_sweeps(st), study_sweeps(st, quick=True)
    assert [s.name for s in full] == [f"{paper}:{s}" for s in st.sections] == [s.name for s in quick]
    assert sum(len(s) for s in quick) <= sum(len(s) for s in full)
    assert any(q.to_dict() != f.to_dict() for q, f in zip(quick, full))


def test_a_reproduction_store_names_its_paper(tmp_path):
    sweep = study_sweeps(study("du2018"), overrides=["identity:samples=5"])[0]
    run_sweeps([sweep], str(tmp_path), progress="off")
    with open_store(str(tmp_path)) as store:
        assert paper_of(store) == "du2018"
    with pytest.raises(ValueError, match="paper"):
        study("nosuchpaper")


@pytest.mark.parametrize(
    "paper, section, overrides",
    [
        ("williams2019", "width_limits", ["grid.width=[100, 1000]", "grid.seed=[0]"]),
        ("tarmoun2021", "flow", ["grid.init_scale=[0.1]", "t_end=0.1"]),
        ("du2018", "identity", ["samples=5"]),
    ],
)
def test_the_report_of_an_unfinished_study_says_what_is_missing(tmp_path, paper, section, overrides):
    """A store killed after some sections: `wideflow report` still writes report.md, and says how many runs
    are missing (the figures of the sections that are there are drawn)."""
    from wideflow.experiments._study import analyze, load_section

    st = study(paper)
    run_sweeps([load_section(st, section, overrides=overrides)], str(tmp_path), progress="off")
    path = analyze(st, str(tmp_path))
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert "ncomplete:" in text and "not started" in text
