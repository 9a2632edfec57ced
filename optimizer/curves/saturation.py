"""Saturation functions of scaled effective spend ``u = e / scale`` and their derivatives.

Each kind is a function ``z(u; kappa, n) >= 0`` with ``z(0) = 0``; a channel's contribution is
``beta * z``. Parameters are held as ``theta = (decay, log_kappa, n)`` for every kind; a kind that
does not use one fixes it with equal bounds (the optimizer then never moves it):

* ``hill``:   ``z = u^n / (u^n + kappa^n)`` (``kappa`` = half-saturation in units of ``scale``;
  ``n <= 1`` concave, ``n > 1`` S-shaped). ``z`` is in [0, 1), so ``beta`` is the maximum response.
* ``log``:    ``z = ln(1 + u / kappa)``  (``n`` unused).
* ``power``:  ``z = u^n``, ``0 < n < 1`` (``kappa`` unused).
"""

from __future__ import annotations

import numpy as np

KINDS = ("hill", "hill_concave", "log", "power")


def value_and_grads(kind: str, u: np.ndarray, log_kappa: np.ndarray, n: np.ndarray):
    """``z, dz/du, dz/dlog_kappa, dz/dn`` elementwise (broadcasting); 0 where ``u <= 0``."""
    u = np.asarray(u, dtype=float)
    pos = u > 0
    us = np.where(pos, u, 1.0)
    kappa = np.exp(log_kappa)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if kind in ("hill", "hill_concave"):
            lr = n * (np.log(us) - log_kappa)  # log r, r = (u / kappa)^n
            lr = np.clip(lr, -700, 700)
            r = np.exp(lr)
            z = r / (1.0 + r)
            dz_dr = 1.0 / (1.0 + r) ** 2
            dz_du = dz_dr * n * r / us
            dz_dk = -dz_dr * n * r
            dz_dn = dz_dr * r * (np.log(us) - log_kappa)
        elif kind == "log":
            z = np.log1p(us / kappa)
            dz_du = 1.0 / (kappa + us)
            dz_dk = -us / (kappa + us)
            dz_dn = np.zeros_like(z)
        elif kind == "power":
            z = np.power(us, n)
            dz_du = n * np.power(us, n - 1.0)
            dz_dk = np.zeros_like(z)
            dz_dn = z * np.log(us)
        else:  # pragma: no cover - the config validates kinds
            raise ValueError(f"unknown saturation kind {kind!r}; expected one of {KINDS}")
    zero = np.zeros_like(z)
    return (np.where(pos, z, zero), np.where(pos, dz_du, zero), np.where(pos, dz_dk, zero),
            np.where(pos, dz_dn, zero))


def value(kind: str, u: np.ndarray, log_kappa: float, n: float) -> np.ndarray:
    """``z(u)`` only."""
    return value_and_grads(kind, u, log_kappa, n)[0]
