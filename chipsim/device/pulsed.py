"""Devices updated by pulses: the resistive cross-point devices that train on the array.

A training array never writes a weight to a target. It nudges it: each voltage pulse moves a
device's conductance one small step up or down, and the step is not the same every time. Think
of a ratchet with a worn pawl: every click moves it about one notch, a little more or less, and
near the end stops the notches get shorter.

Three models, two as in the papers chipsim reproduces (summaries in
../shared/reference/seed-results.md):
- constant step: every pulse moves w by +a+ or -a- (times 1 + s xi), clipped to [b_min, b_max];
- soft bounds (Kim et al., arXiv 1907.10228): the step shrinks linearly towards the bound it heads
  for, dw+ = a+ (1 - w / b_max)(1 + s xi), dw- = -a- (1 - w / b_min)(1 + s xi), then clip;
- PCM-like: a phase-change device grows its conductance gradually by partial SET pulses, each
  smaller as the conductance grows, and lowers it only by a RESET, abruptly (Burr et al., IEEE
  TED 62:3498, 2015; Nandakumar et al., J. Appl. Phys. 124:152135, 2018). Its shape here:
  dw+ = a+ ((b_max - w) / b_max)^gamma (1 + s xi), a power-law soft bound (the form of
  Frascaroli et al., Sci. Rep. 8:7178, 2018) with a+ the step at w = 0, and
  dw- = -a- (1 + s xi) with a- = dw_min (1 - up_down) reset_step: a large step whatever w,
  then clip. gamma and reset_step are this model's own knobs; no fitted PCM values are published
  for them in these units, so the defaults are chosen (marked so in `PulsedParams`).
Each device has its own a+, a-, b_max, b_min (device-to-device variation, drawn once): its step
size varies (`dtod`, the same factor up and down) and, much less, its up/down imbalance
(`up_down_dtod`), as Gokmen and Vlasov parametrize devices (Front. Neurosci. 10:333, 2016; the
parametrization aihwkit's PulsedDevice keeps). Each pulse has its own xi ~ N(0, 1)
(cycle-to-cycle noise, s = `ctoc`). Weights are in the device's own units
(normalized: the RPU papers' bounds of +-0.6 are weights of 0.6).

Up and down steps of a soft-bound device are equal at its symmetry point
w* = (a+ - a-) / (a+/b_max - a-/b_min) (Kim et al.); random pulses pull SGD towards w*, not 0.
Zero-shifting measures w* of every device by alternating up/down pulses and sets the reference
there, so that weight zero sits where the device relaxes to.

The functions are pure: draws are passed in (arrays of standard normals, or a function that
returns the draws of pulse pair k), so the caller decides how draws are addressed. `pulses`
applies n pulses of one direction at once, with one draw: the Numba update kernel
(`chipsim.kernels.update`) applies that formula to the coincidences of an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

KINDS = ("constant_step", "soft_bounds", "pcm_like")  # the update kernel's kind codes: index


@dataclass(frozen=True)
class PulsedParams:
    """A pulsed device type: mean steps and bounds, and how much devices and pulses vary.

    a+ = dw_min (1 + up_down), a- = dw_min (1 - up_down) before device-to-device variation, so
    up_down is the up/down imbalance (0: symmetric; Kim et al.'s swept parameter).
    """

    kind: Literal["constant_step", "soft_bounds", "pcm_like"] = "soft_bounds"
    dw_min: float = 0.001  # mean step at w = 0 (Gokmen et al.: 0.001)
    up_down: float = 0.0  # relative imbalance of the up and down steps
    up_down_dtod: float = 0.0  # device-to-device std of the imbalance (absolute, like up_down)
    w_max: float = 0.6  # mean upper bound b_max (Gokmen et al.: 0.6)
    w_min: float = -0.6  # mean lower bound b_min
    dtod: float = 0.3  # device-to-device std of the step size, relative (Gokmen et al.: 30 %)
    bound_dtod: float = 0.3  # device-to-device std of b_max and b_min, relative (30 %)
    ctoc: float = 0.3  # cycle-to-cycle std of one step, relative: s (Gokmen et al.: 30 %)
    # pcm_like only (not published, chosen): how fast SET steps shrink towards b_max, and the
    # RESET-like down step in units of the up step at w = 0
    nonlinearity: float = 2.0
    reset_step: float = 10.0

    def __post_init__(self) -> None:
        checks = [("kind", self.kind in KINDS), ("dw_min", self.dw_min > 0),
                  ("up_down", -1 < self.up_down < 1), ("up_down_dtod", self.up_down_dtod >= 0),
                  ("w_max", self.w_max > 0),
                  ("w_min", self.w_min < 0), ("dtod", self.dtod >= 0),
                  ("bound_dtod", 0 <= self.bound_dtod < 1), ("ctoc", self.ctoc >= 0),
                  ("nonlinearity", self.nonlinearity >= 0), ("reset_step", self.reset_step > 0)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"PulsedParams.{name}: invalid value {getattr(self, name)!r}")


@dataclass(frozen=True)
class Devices:
    """The parameters of each device of an array (arrays of one shape, float64)."""

    a_up: np.ndarray  # step of an up pulse at w = 0 (> 0)
    a_down: np.ndarray  # size of a down pulse's step at w = 0 (> 0)
    b_max: np.ndarray  # upper bound (> 0)
    b_min: np.ndarray  # lower bound (< 0)


_MIN_FACTOR = 0.01  # a drawn factor (1 + sigma z) is kept >= this: no step, bound flips sign


def draw_devices(p: PulsedParams, z: np.ndarray) -> Devices:
    """Each device's a+, a-, b_max, b_min from standard normals z of shape (4,) + array shape.

    a+- = dw_min max(1 + dtod z0, 0.01) (1 +- u) with the device's imbalance
    u = up_down + up_down_dtod z1 (kept within +-0.99); b = bound max(1 + bound_dtod z, 0.01):
    Gaussian relative variation (Gokmen et al.'s 30 %), kept positive so no step changes sign.
    The step's variation moves a+ and a- together, so it leaves the symmetry point alone; only
    the imbalance scatters it. A PCM-like device's a- is its RESET step: reset_step times as large.
    """
    z = np.asarray(z, dtype=np.float64)
    def factor(sigma: float, zk: np.ndarray) -> np.ndarray:
        return np.maximum(1.0 + sigma * zk, _MIN_FACTOR)
    reset = p.reset_step if p.kind == "pcm_like" else 1.0
    step = p.dw_min * factor(p.dtod, z[0])
    imbalance = np.clip(p.up_down + p.up_down_dtod * z[1], -0.99, 0.99)
    return Devices(a_up=step * (1 + imbalance),
                   a_down=step * (1 - imbalance) * reset,
                   b_max=p.w_max * factor(p.bound_dtod, z[2]),
                   b_min=p.w_min * factor(p.bound_dtod, z[3]))


def pulse(w: np.ndarray, up: np.ndarray, dev: Devices, z: np.ndarray,
          p: PulsedParams) -> np.ndarray:
    """Weights after one pulse per device: up where `up` is true, down elsewhere; z: one
    standard normal per device for the cycle-to-cycle noise (Kim et al.'s step formulas)."""
    w = np.asarray(w, dtype=np.float64)
    step_up, step_down = dev.a_up, dev.a_down
    if p.kind == "soft_bounds":
        step_up = dev.a_up * (1.0 - w / dev.b_max)
        step_down = dev.a_down * (1.0 - w / dev.b_min)
    elif p.kind == "pcm_like":
        step_up = set_step(w, dev, p)
    dw = np.where(up, step_up, -step_down) * (1.0 + p.ctoc * np.asarray(z, dtype=np.float64))
    return np.clip(w + dw, dev.b_min, dev.b_max)


def set_step(w: np.ndarray, dev: Devices, p: PulsedParams) -> np.ndarray:
    """The mean up (SET) step of a PCM-like device at w: a+ ((b_max - w) / b_max)^gamma, zero
    at and beyond b_max (the step shrinks as the conductance grows)."""
    room = np.maximum(dev.b_max - w, 0.0) / dev.b_max
    return dev.a_up * room ** p.nonlinearity


def pulses(w: np.ndarray, n: np.ndarray, up: np.ndarray, dev: Devices, z: np.ndarray,
           p: PulsedParams) -> np.ndarray:
    """Weights after n pulses of one direction per device (n >= 0), with one standard normal z
    per device standing for the n cycle-to-cycle draws. For n = 1 this is `pulse` exactly.

    Constant step: the n steps add, a (n + s sqrt(n) z): exact in distribution.
    Soft bounds: each step scales the distance to the bound b it heads for by
    1 - r (1 + s xi), r = a / |b|, so after n steps it is (b - w)(1 - r)^n prod_k(1 - e xi_k)
    with e = r s / (1 - r); the product is 1 - e sqrt(n) z to first order in e (its variance
    errs by a relative n e^2 / 2: below 1e-3 for 31 pulses at r = 0.002, s = 0.3).
    Intermediate clips at the far bound (a step of the wrong sign, xi < -1/s) are not seen.
    PCM-like: down as constant step; up, the n SET steps one after another (each depends on
    where the last left w), each scaled by 1 + s z / sqrt(n): exact for n = 1, and the sum's
    spread is s sqrt(n) times the mean step to first order.
    """
    w = np.asarray(w, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    root = np.sqrt(n)
    if p.kind == "constant_step":
        moved = w + np.where(up, dev.a_up, -dev.a_down) * (n + p.ctoc * root * z)
    elif p.kind == "pcm_like":
        factor = 1.0 + p.ctoc * z / np.maximum(root, 1.0)
        climbed = w.copy()
        for k in range(int(n.max(initial=0))):
            step = set_step(climbed, dev, p) * factor
            climbed = np.where(n > k, np.minimum(climbed + step, dev.b_max), climbed)
        moved = np.where(up, climbed, w - dev.a_down * (n + p.ctoc * root * z))
    else:
        bound = np.where(up, dev.b_max, dev.b_min)
        r = np.where(up, dev.a_up, dev.a_down) / np.abs(bound)
        e = r * p.ctoc / (1.0 - r)
        moved = bound - (bound - w) * (1.0 - r) ** n * (1.0 - e * root * z)
    return np.where(n > 0, np.clip(moved, dev.b_min, dev.b_max), w)


def symmetry_point(dev: Devices) -> np.ndarray:
    """The analytic symmetry point of soft-bound devices, w* = (a+ - a-)/(a+/b_max - a-/b_min)
    (Kim et al.): where an up step and a down step have the same size."""
    return (dev.a_up - dev.a_down) / (dev.a_up / dev.b_max - dev.a_down / dev.b_min)


Draws = Callable[[int], tuple[np.ndarray, np.ndarray]]  # pair k -> (z of its up, z of its down)


@dataclass(frozen=True)
class Alternated:
    """The outcome of alternating up/down pulses: where each device settled on average (its
    measured symmetry point) and where the last pulse left it."""

    settled: np.ndarray
    final: np.ndarray


def alternate(w: np.ndarray, dev: Devices, pairs: int, draws: Draws, p: PulsedParams,
              averaged: int | None = None) -> Alternated:
    """Alternating up/down pulses, as Kim et al. measure the symmetry point.

    `pairs` up-then-down pulse pairs start from w; `settled` is the mean, over the last
    `averaged` pairs (default: the second half), of the midpoint of each pair's two states:
    the average state of the alternating sequence, free of the one-step zigzag.
    """
    averaged = pairs - pairs // 2 if averaged is None else averaged
    if not 1 <= averaged <= pairs:
        raise ValueError(f"averaged must be between 1 and pairs = {pairs}, got {averaged}")
    w = np.array(w, dtype=np.float64)
    total = np.zeros_like(w)
    up = np.ones(w.shape, dtype=bool)
    for k in range(pairs):
        z_up, z_down = draws(k)
        after_up = pulse(w, up, dev, z_up, p)
        w = pulse(after_up, ~up, dev, z_down, p)
        if k >= pairs - averaged:
            total += 0.5 * (after_up + w)
    return Alternated(settled=total / averaged, final=w)


def measure_symmetry_point(w: np.ndarray, dev: Devices, pairs: int, draws: Draws,
                           p: PulsedParams, averaged: int | None = None) -> np.ndarray:
    """Each device's symmetry point as measured by alternating pulses (`alternate`)."""
    return alternate(w, dev, pairs, draws, p, averaged).settled


def zero_shift(w_measured: np.ndarray) -> np.ndarray:
    """The reference of each weight after zero-shifting: its device's measured symmetry point.

    The array reads w - reference (the reference device programmed to the read-out), so a
    device resting at its symmetry point reads as weight zero.
    """
    return np.array(w_measured, dtype=np.float64)
