"""The relu_output runner (Tarmoun et al.'s nonlinear experiment): its GD step is the gradient of the loss,
its stored metrics are those of a direct computation, and bad specs name the field."""

import numpy as np
import pytest

from wideflow.sweeps import Sweep, runners
from wideflow.sweeps.runner_relu_output import relu_output_data, relu_output_gd, relu_output_init
from wideflow.sweeps.spec import SpecError


def _config(**change):
    spec = Sweep(
        "relu_output",
        fixed=dict({"N": 12, "d": 3, "p": 2, "k": 4, "lr": 1e-3, "t_end": 0.05, "record_every": 10}, **change),
    )
    ((_, config),) = spec.runs()
    return config


def _loss(X, Y, M):
    return 0.5 * float(np.sum((np.maximum(X @ M, 0.0) - Y) ** 2))


@pytest.mark.parametrize("layers", [1, 2])
def test_one_step_is_minus_lr_times_the_finite_difference_gradient(layers):
    config = _config(layers=layers)
    X, Y, _ = relu_output_data(config)
    params = relu_output_init(config)
    lr = 1e-4
    _, _, after = relu_output_gd(X, Y, params, lr, 1, 1)

    def loss_of(ps):
        return _loss(X, Y, ps[0] @ ps[1].T if layers == 2 else ps[0])

    h = 1e-6
    for which, P in enumerate(params):
        grad = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            up = [q.copy() for q in params]
            dn = [q.copy() for q in params]
            up[which][idx] += h
            dn[which][idx] -= h
            grad[idx] = (loss_of(up) - loss_of(dn)) / (2 * h)
        np.testing.assert_allclose(after[which], P - lr * grad, rtol=0, atol=1e-9 * max(1.0, np.abs(P).max()))


def test_stored_metrics_equal_a_direct_computation_and_product_init_starts_together():
    results = {}
    for layers in (1, 2):
        config = _config(layers=layers)
        res = runners.execute("relu_output", config)
        assert res.status == "done"
        X, Y, floor = relu_output_data(config)
        steps = int(round(config["t_end"] / config["lr"]))
        recs, errs, _ = relu_output_gd(X, Y, relu_output_init(config), config["lr"], steps, config["record_every"])
        assert res.metrics["rel_error"] == errs[-1]
        assert res.metrics["noise_floor"] == floor
        np.testing.assert_array_equal(res.trajectory["metric_rel_error"], errs)
        np.testing.assert_array_equal(res.trajectory["t"], recs * config["lr"])
        results[layers] = res
    # A0 = U0 V0^T: both models are the same function at t = 0, and GD lowers the error of both
    e1, e2 = (results[k].trajectory["metric_rel_error"] for k in (1, 2))
    assert e1[0] == pytest.approx(e2[0], rel=1e-12)
    assert e1[-1] < e1[0] and e2[-1] < e2[0]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"layers": 3}, "layers"),
        ({"variance": -1.0}, "variance"),
        ({"one_layer_init": "zeros"}, "one_layer_init"),
        ({"t_end": 1e6, "lr": 1e-5}, "t_end"),
    ],
)
def test_bad_specs_name_the_field(change, field):
    with pytest.raises(SpecError, match=field):
        Sweep("relu_output", fixed=dict({"N": 12, "d": 3, "p": 2}, **change)).runs()
