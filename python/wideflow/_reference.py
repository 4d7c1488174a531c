"""Pure-NumPy twins of the C++ kernels (slow, O(m n) memory; for tests and benchmarks).

Each function computes in the dtype of the parameters, exactly as the formulas read, with no fusion.
"""

from __future__ import annotations

import numpy as np


def shallow_forward(a, b, c, alpha, x):
    """f(x_j) = (1/alpha) sum_i c_i max(a_i x_j + b_i, 0)."""
    x = np.asarray(x, dtype=a.dtype)
    z = np.multiply.outer(x, a) + b  # (n, m)
    return (np.maximum(z, 0) @ c) / a.dtype.type(alpha)


def shallow_gradients(a, b, c, alpha, x, y):
    """(loss, dL/da, dL/db, dL/dc) for L = 1/2 sum_j (f(x_j) - y_j)^2 with relu'(z) = 1[z > 0]."""
    dt = a.dtype.type
    x = np.asarray(x, dtype=a.dtype)
    z = np.multiply.outer(x, a) + b
    act = np.maximum(z, 0)
    on = (z > 0).astype(a.dtype)
    f = (act @ c) / dt(alpha)
    r = f.astype(np.float64) - np.asarray(y, dtype=np.float64)
    rt = r.astype(a.dtype)
    ga = c / dt(alpha) * ((rt * x) @ on)
    gb = c / dt(alpha) * (rt @ on)
    gc = (rt @ act) / dt(alpha)
    return 0.5 * float(r @ r), ga, gb, gc


def shallow_gd(a, b, c, alpha, x, y, lrs, train="all"):
    """Plain GD: returns (a, b, c, losses) after len(lrs) steps (losses at the start of each step)."""
    a, b, c = a.copy(), b.copy(), c.copy()
    inner = 0.0 if train == "outer" else 1.0
    outer = 0.0 if train == "inner" else 1.0
    losses = []
    for lr in lrs:
        loss, ga, gb, gc = shallow_gradients(a, b, c, alpha, x, y)
        losses.append(loss)
        dt = a.dtype.type
        a, b, c = a - dt(lr * inner) * ga, b - dt(lr * inner) * gb, c - dt(lr * outer) * gc
    return a, b, c, np.array(losses)


def factorization_gd(U, V, Y, lrs):
    """Plain GD on 1/2 ||Y - U V^T||_F^2 (simultaneous updates, in the dtype of U):
    E = Y - U V^T; U <- U + lr E V; V <- V + lr E^T U. Returns (U, V, losses at the start of each step)."""
    U, V = U.copy(), V.copy()
    Y = np.asarray(Y, dtype=U.dtype)
    dt = U.dtype.type
    losses = []
    for lr in lrs:
        E = Y - U @ V.T
        losses.append(0.5 * float(np.sum(E.astype(np.float64) ** 2)))
        U, V = U + dt(lr) * (E @ V), V + dt(lr) * (E.T @ U)
    return U, V, np.array(losses)


def onelayer_gd(X, Y, lrs):
    """Plain GD on 1/2 ||Y - X||_F^2: X <- X + lr (Y - X). Returns (X, losses at the start of each step)."""
    X = X.copy()
    Y = np.asarray(Y, dtype=X.dtype)
    dt = X.dtype.type
    losses = []
    for lr in lrs:
        E = Y - X
        losses.append(0.5 * float(np.sum(E.astype(np.float64) ** 2)))
        X = X + dt(lr) * E
    return X, np.array(losses)


# ---------------------------------------------------------------------- deep fully-connected networks


def _deep_phi(z, activation, slope):
    if activation == "linear":
        return z
    if activation == "relu":
        return np.maximum(z, 0)
    return np.where(z > 0, z, z.dtype.type(slope) * z)


def _deep_dphi(z, activation, slope):
    if activation == "linear":
        return np.ones_like(z)
    if activation == "relu":
        return (z > 0).astype(z.dtype)
    return np.where(z > 0, z.dtype.type(1), z.dtype.type(slope))


def deep_forward(weights, X, activation="relu", slope=0.01, biases=None):
    """f(X) = Z_L with Z_h = A_{h-1} W_h^T + b_h, A_h = phi(Z_h) (rows of X are samples)."""
    a = np.asarray(X, dtype=weights[0].dtype)
    L = len(weights)
    for h, w in enumerate(weights):
        z = a @ w.T
        if biases is not None:
            z = z + biases[h]
        a = z if h == L - 1 else _deep_phi(z, activation, slope)
    return a


def deep_gradients(weights, X, Y, activation="relu", slope=0.01, biases=None):
    """(loss, [dL/dW_h], [dL/db_h] or None) for L = 1/2 sum (f(X) - Y)^2, with relu'(0) = 0."""
    dt = weights[0].dtype
    X = np.asarray(X, dtype=dt)
    Y = np.asarray(Y, dtype=dt)
    L = len(weights)
    acts, zs = [X], []
    a = X
    for h, w in enumerate(weights):
        z = a @ w.T
        if biases is not None:
            z = z + biases[h]
        zs.append(z)
        a = z if h == L - 1 else _deep_phi(z, activation, slope)
        acts.append(a)
    r = acts[-1] - Y
    loss = 0.5 * float(np.sum(r.astype(np.float64) ** 2))
    gw, gb = [None] * L, [None] * L
    d = r
    for h in range(L - 1, -1, -1):
        gw[h] = d.T @ acts[h]
        gb[h] = d.sum(axis=0)
        if h > 0:
            d = (d @ weights[h]) * _deep_dphi(zs[h - 1], activation, slope)
    return loss, gw, (gb if biases is not None else None)


def deep_gd(weights, X, Y, lrs, activation="relu", slope=0.01, biases=None):
    """Plain GD: returns (weights, biases, losses) after len(lrs) steps (losses at the start of each step)."""
    weights = [w.copy() for w in weights]
    biases = None if biases is None else [b.copy() for b in biases]
    losses = []
    for lr in lrs:
        loss, gw, gb = deep_gradients(weights, X, Y, activation, slope, biases)
        losses.append(loss)
        step = weights[0].dtype.type(lr)
        weights = [w - step * g for w, g in zip(weights, gw)]
        if biases is not None:
            biases = [b - step * g for b, g in zip(biases, gb)]
    return weights, biases, np.array(losses)


# ---------------------------------------------------------------------- random-feature Gram (c-only limit)

_M64 = (1 << 64) - 1


def _splitmix64(z):
    """SplitMix64 finalizer on uint64 arrays (wrapping arithmetic), as in gram.hpp."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform01(seed, stream, idx):
    with np.errstate(over="ignore"):
        key = _splitmix64(_splitmix64(np.array([seed], dtype=np.uint64)) + np.uint64(stream))
        return (_splitmix64(key + idx) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def feature_draws(scheme, seed, offset, count, scale=1.0, L=2.0):
    """(a, b) of the counter-based draws offset .. offset+count-1 (the laws of gram.hpp's DrawSource)."""
    idx = np.arange(count, dtype=np.uint64) + np.uint64(offset)
    u0, u1 = _uniform01(seed, 0, idx), _uniform01(seed, 1, idx)
    if scheme == "gaussian":
        r = scale * np.sqrt(-2.0 * np.log(1.0 - u0))
        ang = 6.283185307179586 * u1
        return r * np.cos(ang), r * np.sin(ang)
    if scheme == "uniform_knots":
        a = np.where(u0 < 0.5, -scale, scale)
        e = (2.0 * u1 - 1.0) * L
        return a, -a * e
    return (2.0 * u0 - 1.0) * scale, (2.0 * u1 - 1.0) * scale


def feature_gram(a, b, x, t=None):
    """(G, K): G = (1/m) Phi Phi^T on x and K = (1/m) Phi(t) Phi^T, phi_i(s) = max(a_i s + b_i, 0) (float64)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    Phi = np.maximum(np.multiply.outer(np.asarray(x, dtype=np.float64), a) + b, 0.0)
    G = Phi @ Phi.T / a.size
    if t is None:
        return G, None
    Pt = np.maximum(np.multiply.outer(np.asarray(t, dtype=np.float64), a) + b, 0.0)
    return G, Pt @ Phi.T / a.size


def shallow_relu_flow(a, b, c, alpha, x, y, t_end, *, train="all", rtol=1e-11, atol=1e-13, max_events=10_000):
    """The exact (Filippov) gradient flow of a small ShallowReLU, integrated piecewise with SciPy's
    solve_ivp (DOP853) and its event location; independent of the C++ integrator (for tests, m <= ~20).

    Modes: an active matrix A (m x n, frozen between events) and per neuron the sample it slides on (or
    -1). Free neurons follow -grad L with relu'(z_ij) = A_ij. Events: z_ij reaching 0 towards the side
    A_ij excludes (a terminal event per free (i, j)); lambda_i reaching 0 or 1 (sliding neurons). At
    z_ij = 0 the two one-sided rates dz-/dt (j inactive) and dz+/dt = dz- + Delta, Delta = -(s c_i r_j /
    alpha)(x_j^2 + 1), decide: dz- > 0 > dz+ slides with (da, db) = g- + lambda (Delta g), lambda =
    -dz-/Delta; otherwise the neuron continues on the side its rate points to (j inactive when both
    point away). Samples must be distinct. Returns (a, b, c, info) with info the event counts and the
    final sliding samples and lambdas."""
    from scipy.integrate import solve_ivp

    a, b, c = (np.array(v, dtype=np.float64) for v in (a, b, c))
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    m, n = a.size, x.size
    si = 0.0 if train == "outer" else 1.0
    so = 0.0 if train == "inner" else 1.0
    inv = 1.0 / alpha
    A = np.multiply.outer(a, x) + b[:, None] > 0
    slide = np.full(m, -1)

    def parts(p):
        a_, b_, c_ = p[:m], p[m : 2 * m], p[2 * m :]
        z = np.multiply.outer(a_, x) + b_[:, None]
        r = inv * (c_ @ (A * z)) - y
        ga = -si * inv * c_ * ((A * r) @ x)
        gb = -si * inv * c_ * (A @ r)
        gc = -so * inv * ((A * z) @ r)
        return z, r, ga, gb, gc

    def rates(i, j, ga, gb, r, ci):
        dzm = ga[i] * x[j] + gb[i]
        return dzm, dzm - si * inv * ci * r[j] * (x[j] ** 2 + 1)

    def field(t, p):
        z, r, ga, gb, gc = parts(p)
        for i in np.flatnonzero(slide >= 0):
            j = slide[i]
            dzm, dzp = rates(i, j, ga, gb, r, p[2 * m + i])
            lam = dzm / (dzm - dzp)
            delta = -si * inv * p[2 * m + i] * r[j]
            ga[i] += lam * delta * x[j]
            gb[i] += lam * delta
        return np.concatenate([ga, gb, gc])

    def lam_of(p, i):
        z, r, ga, gb, gc = parts(p)
        dzm, dzp = rates(i, slide[i], ga, gb, r, p[2 * m + i])
        return dzm / (dzm - dzp)

    def settle(p, i, j, came_active):
        """Neuron i is on z_ij = 0 (with A[i, j] False while deciding)."""
        p[m + i] = -p[i] * x[j]
        A[i, j] = False
        z, r, ga, gb, gc = parts(p)
        dzm, dzp = rates(i, j, ga, gb, r, p[2 * m + i])
        if dzm > 0 > dzp:
            slide[i] = j
            return "entry"
        A[i, j] = bool(dzm > 0 or (came_active and dzp > 0))
        return "crossing"

    info = {"crossings": 0, "sliding_entries": 0, "sliding_exits": 0}
    p = np.concatenate([a, b, c])
    z0 = np.multiply.outer(a, x) + b[:, None]
    for i, j in zip(*np.nonzero((z0 == 0) & (a[:, None] != 0))):
        kind = settle(p, i, j, False)
        info["crossings" if kind == "crossing" else "sliding_entries"] += 1
        info["crossings"] += kind == "entry"
    t = 0.0
    for _ in range(max_events):
        if t >= t_end:
            break
        evs, tags = [], []
        for i in range(m):
            if slide[i] >= 0:
                for bound in (0.0, 1.0):

                    def ev_exit(t_, p_, i=i, bound=bound):
                        return (lam_of(p_, i) - bound) * (1.0 if bound == 0.0 else -1.0)

                    ev_exit.terminal, ev_exit.direction = True, -1
                    evs.append(ev_exit)
                    tags.append(("exit", i, bound))
            else:
                for j in range(n):
                    # offset by a tiny amount towards the allowed side: a z_ij that stays exactly 0 (a
                    # neuron with a tangent or zero field on its side) is not an event
                    def ev_cross(t_, p_, i=i, j=j, off=(1e-300 if A[i, j] else -1e-300)):
                        return p_[i] * x[j] + p_[m + i] + off

                    ev_cross.terminal, ev_cross.direction = True, (-1 if A[i, j] else 1)
                    evs.append(ev_cross)
                    tags.append(("cross", i, j))
        sol = solve_ivp(field, (t, t_end), p, method="DOP853", rtol=rtol, atol=atol, events=evs)
        if sol.status != 1:
            p, t = sol.y[:, -1], t_end
            break
        k = next(q for q, te in enumerate(sol.t_events) if te.size)
        t, p = float(sol.t_events[k][0]), sol.y_events[k][0].copy()
        kind, i, jb = tags[k]
        if kind == "exit":
            j = slide[i]
            slide[i] = -1
            A[i, j] = jb == 1.0
            p[m + i] = -p[i] * x[j]
            info["sliding_exits"] += 1
        else:
            kind = settle(p, i, jb, bool(A[i, jb]))
            info["crossings"] += 1
            info["sliding_entries"] += kind == "entry"
        # simultaneous events (identical neurons): solve_ivp sees no sign change for a z_ij that starts
        # at 0 on the wrong side, so settle every free z_ij within 1e-9 of 0 moving to its wrong side
        z, r, ga, gb, gc = parts(p)
        for i2, j2 in zip(*np.nonzero(np.abs(z) <= 1e-9)):
            if slide[i2] >= 0 or p[i2] == 0:
                continue
            rate = ga[i2] * x[j2] + gb[i2]
            if (rate < 0) if A[i2, j2] else (rate > 0):
                kind = settle(p, i2, j2, bool(A[i2, j2]))
                info["crossings"] += 1
                info["sliding_entries"] += kind == "entry"
                z, r, ga, gb, gc = parts(p)
        for i2 in np.flatnonzero(slide >= 0):
            lam = lam_of(p, i2)
            if not 1e-9 < lam < 1 - 1e-9:
                j2 = slide[i2]
                slide[i2] = -1
                A[i2, j2] = lam > 0.5
                info["sliding_exits"] += 1
    else:
        raise RuntimeError(f"shallow_relu_flow: more than {max_events} events before t_end")
    info["sliding_sample"] = slide.copy()
    info["sliding_lambda"] = np.array([lam_of(p, i) if slide[i] >= 0 else np.nan for i in range(m)])
    return p[:m], p[m : 2 * m], p[2 * m :], info


def _pattern_parts(weights, biases, X, Y, S, slope):
    """Pre-activations [Z_1..Z_L], activations and -grad L of a deep net with the hidden pattern S frozen
    (S[h] = +1 / -1 per hidden entry: phi' = 1 / slope)."""
    L = len(weights)
    acts, zs = [X], []
    a = X
    for h, w in enumerate(weights):
        z = a @ w.T + (biases[h] if biases is not None else 0.0)
        zs.append(z)
        a = z if h == L - 1 else z * np.where(S[h] > 0, 1.0, slope)
        acts.append(a)
    d = acts[-1] - Y
    gw, gb = [None] * L, [None] * L
    for h in range(L - 1, -1, -1):
        gw[h] = -(d.T @ acts[h])
        gb[h] = -d.sum(axis=0)
        if h > 0:
            d = (d @ weights[h]) * np.where(S[h - 1] > 0, 1.0, slope)
    return zs, gw, gb


def deep_relu_flow(weights, X, Y, t_end, *, activation="relu", slope=0.01, biases=None, rtol=1e-11, atol=1e-13):
    """The gradient flow of a small ReLU / leaky-ReLU deep net, integrated piecewise with SciPy's solve_ivp
    (DOP853) and its event location; independent of the C++ integrator (for tests).

    Between events the activation pattern S (per hidden pre-activation: +1 on, -1 off) is frozen; a
    terminal event per entry fires when its pre-activation Z reaches 0 from the side S says. There the
    entry's one-sided rates dZ/dt under the old and the flipped pattern (central differences of Z along each
    field: Z is a polynomial in the parameters) decide: the crossing is transversal when both carry Z on
    through 0 or hold it there (then S flips); otherwise both fields push Z back to 0 (sliding) and the integration ends
    there. Returns (weights, biases, info): info["events"], info["t"] (the time reached) and
    info["sliding"] (None, or (layer h >= 1, sample, unit))."""
    from scipy.integrate import solve_ivp

    slope = 0.0 if activation == "relu" else float(slope)
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    ws = [np.array(w, dtype=np.float64) for w in weights]
    bs = [np.array(b, dtype=np.float64) for b in biases] if biases is not None else None
    shapes = [w.shape for w in ws]

    def unpack(p):
        out, off = [], 0
        for r, c in shapes:
            out.append(p[off : off + r * c].reshape(r, c))
            off += r * c
        bb = None
        if bs is not None:
            bb = []
            for r, _ in shapes:
                bb.append(p[off : off + r])
                off += r
        return out, bb

    def pack(w_, b_):
        return np.concatenate([v.ravel() for v in w_] + ([v for v in b_] if b_ is not None else []))

    def field(p, S):
        w_, b_ = unpack(p)
        _, gw, gb = _pattern_parts(w_, b_, X, Y, S, slope)
        return pack(gw, gb if b_ is not None else None)

    def zs_of(p, S):
        w_, b_ = unpack(p)
        return _pattern_parts(w_, b_, X, Y, S, slope)[0][:-1]

    p = pack(ws, bs)
    # the initial pattern, layer by layer (relu'(0) = 0)
    S = [np.ones((X.shape[0], r)) for r, _ in shapes[:-1]]
    for h in range(len(S)):
        S[h] = np.where(zs_of(p, S)[h] > 0, 1.0, -1.0)
    entries = [(h, j, u) for h in range(len(S)) for j in range(X.shape[0]) for u in range(S[h].shape[1])]
    t, events, sliding = 0.0, 0, None
    while t < t_end:
        Sf = [s.copy() for s in S]

        def ev(h, j, u, Sf=Sf):
            def f(_t, q):
                return Sf[h][j, u] * zs_of(q, Sf)[h][j, u]

            f.terminal, f.direction = True, -1
            return f

        sol = solve_ivp(
            lambda _t, q, Sf=Sf: field(q, Sf),
            (t, t_end),
            p,
            method="DOP853",
            rtol=rtol,
            atol=atol,
            events=[ev(*e) for e in entries],
        )
        p, t = sol.y[:, -1].copy(), float(sol.t[-1])
        if sol.status != 1:
            break
        k = next(i for i, te in enumerate(sol.t_events) if te.size)
        h, j, u = entries[k]
        p = sol.y_events[k][0].copy()
        s_old = S[h][j, u]
        S_new = [s.copy() for s in S]
        S_new[h][j, u] = -s_old
        rates = []
        for Sx in (S, S_new):
            v = field(p, Sx)
            eps = 1e-6 / max(1.0, float(np.max(np.abs(v))))
            rates.append((zs_of(p + eps * v, Sx)[h][j, u] - zs_of(p - eps * v, Sx)[h][j, u]) / (2 * eps))
        if s_old * rates[1] > 0.0:  # the new side pushes it back: sliding
            sliding = (h + 1, j, u)
            break
        S = S_new
        events += 1
    w_, b_ = unpack(p)
    return w_, b_, {"events": events, "t": t, "sliding": sliding}
