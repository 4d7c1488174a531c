"""The architecture page's example family (docs/architecture.md) runs as written: through `wf.train`, the
driver's divergence safety, the contract check of `wf.train`, and a study with its registered runner."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import wideflow as wf

PAGE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
pytestmark = pytest.mark.skipif(not PAGE.is_file(), reason="needs the docs/ folder of a source checkout")


@pytest.fixture
def toy():
    """The page's code blocks after the toy-family marker, run in order in one namespace."""
    text = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text[text.index("<!-- toy-family") :], flags=re.S)
    assert len(blocks) == 3  # the family, its training, its runner registration
    ns: dict = {}
    try:
        for block in blocks:
            exec(compile(block, str(PAGE), "exec"), ns)
        yield ns
    finally:
        from wideflow.sweeps.runners import unregister

        unregister("scalar_linear")


def test_the_toy_family_trains_through_wf_train(toy):
    run, model_cls = toy["run"], toy["ScalarLinear"]
    assert run.status == "completed" and run.final_step == 200 and run.final_loss < 1e-12
    # the closed form of GD on this quadratic: w_k - 2 = (1 - lr sum x^2)^k (w_0 - 2)
    x = toy["x"]
    q = 1.0 - 0.1 * float(x @ x)  # |w_k - 2| = sqrt(2 L_k / sum x^2)
    xx = float(x @ x)
    np.testing.assert_allclose(np.sqrt(2.0 * run.loss / xx), 2.0 * np.abs(q) ** run.steps, rtol=1e-9, atol=1e-14)
    assert model_cls.supports("gd") and not model_cls.supports("flow")
    with pytest.raises(TypeError, match=r"^model: ScalarLinear has no gradient flow"):
        wf.train(model_cls(), x, 2.0 * x, method="flow", t_end=1.0)
    with pytest.raises(TypeError, match=r"^train: a ScalarLinear is trained on \(x, y\)"):
        wf.train(model_cls(), x, lr=0.1, steps=1)


def test_the_toy_family_gets_the_drivers_divergence_safety(toy):
    x = toy["x"]
    model = toy["ScalarLinear"]()
    with pytest.warns(wf.DivergenceWarning, match="last finite state"), np.errstate(over="ignore", invalid="ignore"):
        run = wf.train(model, x, 2.0 * x, lr=1e150, steps=50, progress=False)
    assert run.status == "diverged" and np.isfinite(model.w).all() and run.final_step == run.diverged_at - 1


def test_the_toy_family_runs_as_a_study(toy, tmp_path):
    summary = wf.Sweep("scalar_linear", grid={"lr": [0.05, 0.1]}).run(tmp_path, progress="off")
    assert summary.done == 2
    with wf.open_store(tmp_path) as st:
        rows = st.runs(as_frame=False)
    assert sorted(r["lr"] for r in rows) == [0.05, 0.1]
    assert all(r["status"] == "done" and abs(r["w"] - 2.0) < 1e-6 for r in rows)
