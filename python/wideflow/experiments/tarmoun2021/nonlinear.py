"""Tarmoun et al. 2021, section 5: the nonlinear experiment Y = relu(X W) + noise, one layer against two,
read from the store (the `relu_output` runner trains both models)."""

from __future__ import annotations

from .._report import figure, fmt, markdown_table
from .config import png
from .runs import by, curve, entries


def nonlinear(data, out_dir, lines, summary):
    head = "## 5. Nonlinear experiment (docs page reproductions)"
    runs = entries(data, "nonlinear")
    if not runs:
        lines += [head, "", "No runs of this section are stored.", ""]
        return
    c0, m0 = runs[0]["config"], runs[0]["metrics"]
    floor = m0["noise_floor"]
    fig, ax = figure(1, 1, width=5.6, height=4.0)
    a = ax[0, 0]
    rows = []
    for i, (var, group) in enumerate(by(runs, "variance").items()):
        two = next((e for e in group if e["config"]["layers"] == 2), None)
        one = next((e for e in group if e["config"]["layers"] == 1), None)
        for e, ls, name in ((two, "-", "relu(X U Vᵀ)"), (one, "--", "relu(X A)")):
            if e is not None:
                t, err = curve(e)
                a.semilogy(t, err, color=f"C{i}", ls=ls, lw=1.5 if ls == "-" else 1, label=f"{name}, var {var:g}")
        rows.append(
            [f"{var:g}"]
            + [fmt(e["metrics"]["t_hit"], ".4f") if e else "n/a" for e in (two, one)]
            + [f"{e['metrics']['rel_error']:.3e}" if e else "n/a" for e in (two, one)]
        )
        summary[f"nonlinear_var{var:g}"] = {
            "two_layer_t_hit": two["metrics"]["t_hit"] if two else None,
            "one_layer_t_hit": one["metrics"]["t_hit"] if one else None,
        }
    a.axhline(floor, color="k", ls=":", lw=1, label="noise floor ‖ε‖/‖Y‖")
    a.set_xlabel("t = lr · step")
    a.set_ylabel("‖Y − f(X)‖_F / ‖Y‖_F")
    a.set_title(f"nonlinear: N={c0['N']}, d={c0['d']}, p={c0['p']}, k={c0['k']}, lr={c0['lr']:g}")
    a.legend(fontsize=7)
    f_nl = png(fig, out_dir, "tarmoun2021_nonlinear")
    lines += [
        head,
        "",
        f"X ({c0['N']} x {c0['d']}), W ({c0['d']} x {c0['p']}) ~ N(0, 1); Y = relu(X W) + "
        f"{c0['noise']:g}·N(0, 1); two-layer relu(X U Vᵀ) (k = {c0['k']}) against one-layer relu(X A) "
        f"with A0 = {'U0 V0ᵀ' if c0['one_layer_init'] == 'product' else 'N(0, var)'}; GD lr = {c0['lr']:g} "
        f"to t = {c0['t_end']:g} ({m0['steps']} steps; the `relu_output` runner, NumPy). Noise floor "
        f"‖ε‖/‖Y‖ = {floor:.2e}; times are the first t with relative error < {c0['hit_factor']:g} × floor.",
        "",
        markdown_table(
            ["init variance", "two-layer t(hit)", "one-layer t(hit)", "two-layer final error", "one-layer final error"],
            rows,
        ),
        "",
        f"![nonlinear]({f_nl})",
        "",
    ]
