"""Du, Hu & Lee 2018: the text of report.md."""

from __future__ import annotations

from .._report import markdown_table, num, write_text


def table(header, rows) -> str:
    return markdown_table(header, [[v if isinstance(v, str) else num(v) for v in r] for r in rows])


def write_report(path, res, mode: str, figures, provenance: list) -> None:
    rl = res["relu3"]
    ident = res["identity"]
    sc = res["eta_scaling"]
    mf = res["mf"]
    cex = res["counterexample"]
    r1 = res["rank1"]
    L = []
    L.append("# Du, Hu & Lee (2018): layers are automatically balanced — reproduction\n")
    L.append(
        f"`wideflow reproduce du2018{' --quick' if mode == 'quick' else ''}` — specs: **{mode}**"
        + ". Every number is read from the store (`wideflow.sqlite` beside this report); "
        "`wideflow report DIR` rebuilds this file from it.\n"
    )
    if mode != "full":
        th = res["mf"]["runs"].get("theorem schedule (eps=1e-2, delta=1/2)", {})
        L.append(
            f"**Not the full specs**: the ReLU experiment uses m = {rl['m']} points (paper: 1000) and "
            f"{rl['steps']} iterations (paper: 10000), and the theorem-schedule run {th.get('steps', 0)} steps "
            "(full: 200000).\n"
        )
    L.append(
        "Conventions: wideflow's loss is 1/2 sum ||f(x_i) - y_i||^2; the ReLU experiment quotes the mean loss "
        "1/(2m) sum and step sizes in mean-loss units (lr_wideflow = lr/m), as docs page reproductions assumes. "
        "N(0, s) denotes variance s. The factorization experiments train `wf.Factorization` (X = U V^T, the "
        "factorization runner) on 1/2 ||U V^T - M*||_F^2; its imbalance U^T U - V^T V is the W2^T W2 - "
        "W1 W1^T of the 2-layer linear net W1 = V^T, W2 = U.\n"
    )

    L.append("## 1. Exact one-step identity (paper's 3-layer ReLU net, unbalanced init)\n")
    L.append(
        f"One GD step at lr = {ident['lr_mean']}/m. Theory: the change of ||W_h||^2 - ||W_h+1||^2 equals "
        "lr^2 (||G_h||^2 - ||G_h+1||^2) exactly (up to rounding).\n"
    )
    L.append(
        table(
            [
                "pair",
                "measured change",
                "lr^2 (||G_h||^2 - ||G_h+1||^2)",
                "relative error",
                "float64 rounding scale eps*||W||^2",
            ],
            [[r["pair"], r["measured"], r["predicted"], r["rel_error"], r["rounding_scale"]] for r in ident["rows"]],
        )
    )
    L.append("")

    L.append(f"## 2. 3-layer ReLU net (paper section 4): m = {rl['m']}, {rl['steps']} iterations\n")
    L.append(
        "Data: x ~ N(0, I_1000), y from a random ReLU teacher of the same architecture (He variances). "
        "Balanced init: variances 1e-6, 1e-5, 1e-4 (E||W_h||^2 = 0.1 each); unbalanced: 1e-4 for all layers "
        "(E||W_h||^2 = 10, 1, 0.1). Theory (gradient flow): d12 = ||W1||^2 - ||W2||^2 and d23 are conserved, so "
        "once the norms grow the ratios r12, r23 tend to 1; GD adds an O(lr^2) drift per step.\n"
    )
    hdr = [
        "init",
        "lr",
        "||W||^2 at t=0",
        "||W||^2 final",
        "d12: t=0 -> final",
        "d23: t=0 -> final",
        "max |change| d12, d23",
        "r12, r23 final",
        "loss t=0 -> final",
        "loss increases",
    ]
    rows = []
    for r in rl["runs"]:
        rows.append(
            [
                r["init"],
                r["eta"],
                ", ".join(num(v) for v in r["norms0"]),
                ", ".join(num(v) for v in r["norms_final"]),
                f"{num(r['d12_0'])} -> {num(r['d12_final'])}",
                f"{num(r['d23_0'])} -> {num(r['d23_final'])}",
                f"{num(r['max_change_d12'])}, {num(r['max_change_d23'])}",
                f"{num(r['r12_final'])}, {num(r['r23_final'])}",
                f"{num(r['loss0'])} -> {num(r['final_loss'])}",
                r["spikes"],
            ]
        )
    L.append(table(hdr, rows))
    L.append(
        f"\n'loss increases' counts increases between consecutive recorded losses (every {rl['record_every']} "
        "iterations). Expected: at lr = 0.02 the drift is small next to the norms, balanced ratios end near 1 and "
        "the unbalanced differences stay at their initial values (about 9 and 0.9) while the ratios move "
        "toward 1; at lr = 0.1 the drift is larger (O(lr^2) per step).\n"
    )
    by = {(r["init"], r["eta"]): r for r in rl["runs"]}
    if ("balanced", 0.02) in by and ("balanced", 0.1) in by:
        a, b = by[("balanced", 0.02)], by[("balanced", 0.1)]
        L.append(
            f"Drift against lr (balanced, same number of iterations): max |change d12| = {num(a['max_change_d12'])} "
            f"at lr 0.02 vs {num(b['max_change_d12'])} at lr 0.1 (ratio {num(b['max_change_d12'] / a['max_change_d12'])}; "
            "lr^2 ratio 25, lr ratio 5: the per-step drift is lr^2 (||G_h||^2 - ||G_h+1||^2) summed over "
            "the iterations, so with the flow time 5x longer at lr = 0.1 the totals are not a pure power law).\n"
        )
    L.append(f"![relu3]({figures['relu3'][0]})\n")

    L.append(f"## 3. Drift at fixed flow time against lr (rank-3 MF, tau = {sc['tau']:g})\n")
    L.append(
        "Theory: the drift of D = U^T U - V^T V over a fixed flow time tau = lr * steps is about "
        "lr * integral ||G||^2 dt, i.e. linear in lr (O(lr^2) per step); halving lr halves it.\n"
    )
    L.append(
        table(
            ["lr", "steps", "||D_T - D_0||_F", "drift / (steps lr^2)", "final loss"],
            [[r["lr"], r["steps"], r["drift"], r["per_step_over_lr2"], r["final_loss"]] for r in sc["rows"]],
        )
    )
    L.append(
        f"\nHalving ratios: {', '.join(num(v) for v in sc['halving_ratios'])} (theory 2 as lr -> 0); fitted "
        f"log-log slope {sc['slope']:.3f} (theory 1); drift / (steps lr^2) approaches a constant as lr -> 0 "
        "(the O(lr^2) per-step drift).\n"
    )
    L.append(f"![eta scaling]({figures['eta'][0]})\n")

    L.append("## 4. Asymmetric matrix factorization, rank 3 (40 x 30, sigma_1 = 1), init variance 1e-6\n")
    L.append(
        f"||M*||_* = {num(mf['nuclear'])}. Theory (decaying steps, Theorem): GD converges to a global minimum "
        "that stays O(eps)-balanced, so ||U||_F^2 = ||V||_F^2 = ||M*||_* and ||U||/||V|| = 1 to ~1e-3. Practical "
        "schedule eta_t = 0.5 / (sigma_1 (1 + t/1000)^(1/2 + delta)); the theorem's own constant "
        "sqrt(eps)/(100 ||M*||_F^1.5) (eps = 1e-2) is far too small to leave the saddle at 0.\n"
    )
    rows = []
    for name, s in mf["runs"].items():
        dev = s["ratio_U_V"] - 1.0
        ratio = f"1 {'+' if dev >= 0 else '-'} {abs(dev):.1e}" if abs(dev) < 1e-2 else num(s["ratio_U_V"])
        rows.append(
            [
                name,
                s["status"],
                s["steps"],
                s.get("sum_eta", s["flow_time"]),
                s["final_loss"],
                s["normU2"],
                s["normV2"],
                s["nuclear"],
                ratio,
                s["imbalance0"],
                s["imbalance_final"],
            ]
        )
    L.append(
        table(
            [
                "schedule",
                "status",
                "steps",
                "sum eta_t",
                "final loss",
                "||U||^2",
                "||V||^2",
                "theory ||M*||_*",
                "||U||/||V|| (theory 1)",
                "||U^TU-V^TV|| t=0",
                "final",
            ],
            rows,
        )
    )
    th = mf["runs"]["theorem schedule (eps=1e-2, delta=1/2)"]
    L.append(
        f"\nTheorem constant: the loss stays at {num(th['final_loss'])} (1/2 ||M*||_F^2 = {num(th['half_norm2'])}) "
        f"after {th['steps']} steps, sum eta_t = {num(th['sum_eta'])}, as docs theory/du2018 warns.\n"
    )
    L.append(f"![mf]({figures['mf'][0]})\n")

    L.append("## 5. Constant-step counterexample (same product, different balance)\n")
    L.append(
        "Theory: GD conserves u^2 - v^2 (U^TU - V^TV) up to O(lr^2), so it cannot rebalance; the local "
        "smoothness grows like u^2 + v^2 and a constant step is stable only if lr (u^2 + v^2) < 2.\n"
    )
    rows = [
        [
            f"({s['u0']:g}, {s['v0']:.4g})",
            0.1,
            s["stable_at_start"],
            s["status"],
            s["diverged_at"],
            s["uv"],
            s["u2_minus_v2_0"],
            s["u2_minus_v2_final"],
        ]
        for s in cex["scalar"]
    ]
    L.append(
        table(
            [
                "scalar (u0, v0)",
                "lr",
                "lr(u^2+v^2) < 2",
                "status",
                "diverged at",
                "final uv",
                "u^2 - v^2 at t=0",
                "final",
            ],
            rows,
        )
    )
    L.append("")
    rows = [
        [
            f"{m['scale_U']:g} U0, {m['scale_V']:.4g} V0",
            0.2,
            m["lr_times_norms0"],
            m["status"],
            m["diverged_at"],
            m["final_loss"],
            m["imbalance0"],
            m["imbalance_final"],
        ]
        for m in cex["matrix"]
    ]
    L.append(
        table(
            [
                "rank-3 MF init (U0, V0 entries std 1e-3)",
                "lr",
                "lr(||U||^2+||V||^2) at t=0",
                "status",
                "diverged at",
                "final loss",
                "||U^TU-V^TV|| t=0",
                "last finite",
            ],
            rows,
        )
    )
    L.append(f"\n![counterexample]({figures['cex'][0]})\n")

    L.append(
        f"## 6. Rank-1 factorization, constant step: globally linear rate (100 x 80, sigma_1 = {r1['sigma1']:g})\n"
    )
    L.append(
        "Theory: after the escape phase the error contracts by about 1 - lr sigma_1 per step; the iteration "
        "count depends only logarithmically on the init scale s0 and scales like 1/lr; the limit is balanced, "
        "||u||^2 = ||v||^2 = sigma_1, and ||u||^2 - ||v||^2 keeps its tiny initial value.\n"
    )
    rows = [
        [
            r["lr"],
            r["s0"],
            r["status"],
            r["iters_to_1e-8"],
            r["contraction_tail"],
            r["theory_contraction"],
            r["contraction"],
            r["theory_fast_mode"],
            r["normu2"],
            r["normv2"],
            r1["sigma1"],
            r["diff0"],
            r["diff_max_abs"],
        ]
        for r in r1["rows"]
    ]
    L.append(
        table(
            [
                "lr",
                "s0",
                "status",
                "iterations to rel. error 1e-8",
                "contraction, error 1e-9..1e-13",
                "theory 1 - lr sigma_1",
                "contraction, error 1e-3..1e-7",
                "fast mode 1 - 2 lr sigma_1",
                "||u||^2",
                "||v||^2",
                "theory",
                "||u||^2-||v||^2 t=0",
                "max |.|",
            ],
            rows,
        )
    )
    L.append(
        "\nThe error has a component along a b^T, which contracts by 1 - 2 lr sigma_1 per step, and components "
        "in the other tangent directions, which contract by 1 - lr sigma_1 (the globally linear rate). From a "
        "tiny init the second kind starts tiny, so the fast mode dominates the first decades of the decay; the "
        "asymptotic rate is the slow one."
    )
    L.append(f"\n![rank1]({figures['rank1'][0]})\n")
    L.append("Figures are written as PNG and PDF; all numbers are in results.json.\n")
    L += provenance
    write_text(path, "\n".join(L) + "\n")
