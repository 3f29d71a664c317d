"""Phase-change memory (PCM): the statistical model of a device from programming to read-out.

A PCM device stores a weight as a conductance. Writing it is imprecise (programming noise);
afterwards the amorphous material relaxes and the conductance sinks as a power law of time
(drift, with an exponent nu that differs from device to device); every read adds 1/f noise that
grows with the time since programming. The model and its coefficients are those of Nandakumar et
al., ICECS 2019, as used by IBM's aihwkit (PCMLikeNoiseModel) and written out in
../shared/reference/pcm-noise.md; conductances are in uS, times in s.

The functions here are pure: they take the standard normal draws as arguments, so the caller
decides how draws are addressed (the tile uses counter-based draws per device) and the physics
stays apart from the randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCMParams:
    """Coefficients of the PCM model; the defaults are the published ones (pcm-noise.md)."""

    g_max: float = 25.0  # uS, largest programmable conductance of one device
    t0: float = 20.0  # s, time after programming at which drift is referenced
    t_read: float = 250e-9  # s, duration of one read (read-noise bandwidth)
    # sigma_prog = (c0 + c1 g_r + c2 g_r^2) * g_max / 25, g_r = g_target / g_max
    prog_noise: tuple[float, float, float] = (0.26348, 1.9650, -1.1731)
    # mu_nu = clip(slope ln g_r + intercept, low, high)
    drift_nu_mean: tuple[float, float, float, float] = (-0.0155, 0.0244, 0.049, 0.1)
    # sigma_nu = clip(slope ln g_r + intercept, low, high)
    drift_nu_std: tuple[float, float, float, float] = (-0.0125, -0.0059, 0.008, 0.045)
    g_r_floor: float = 1e-7  # g_r floor inside the logarithms above
    # Q_s = min(q0 / max((g_prog / g_max)^exponent, 1e-3), q_max)
    read_noise: tuple[float, float, float] = (0.0088, 0.65, 0.2)
    read_noise_floor: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("g_max", "t0", "t_read"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PCMParams.{name} must be > 0, got {getattr(self, name)}")


def programming_sigma(g_target: np.ndarray, p: PCMParams) -> np.ndarray:
    """Standard deviation (uS) of the programming error at target conductance g_target."""
    g_r = np.asarray(g_target, dtype=np.float64) / p.g_max
    c0, c1, c2 = p.prog_noise
    return (c0 + c1 * g_r + c2 * g_r**2) * (p.g_max / 25.0)


def program(g_target: np.ndarray, z: np.ndarray, p: PCMParams) -> np.ndarray:
    """Programmed conductances: g_target plus programming noise (z: standard normals), >= 0."""
    g = np.asarray(g_target, dtype=np.float64)
    return np.maximum(0.0, g + programming_sigma(g, p) * z)


def drift_exponents(g_target: np.ndarray, z: np.ndarray, p: PCMParams) -> np.ndarray:
    """The drift exponent nu of each device, drawn once at programming from its target."""
    log_g_r = np.log(np.maximum(np.asarray(g_target, dtype=np.float64) / p.g_max, p.g_r_floor))
    slope, intercept, low, high = p.drift_nu_mean
    mu = np.clip(slope * log_g_r + intercept, low, high)
    slope, intercept, low, high = p.drift_nu_std
    sigma = np.clip(slope * log_g_r + intercept, low, high)
    return np.abs(mu + sigma * z)


def drifted(g_prog: np.ndarray, nu: np.ndarray, t: float, p: PCMParams) -> np.ndarray:
    """Conductances t seconds after programming, before read noise."""
    return g_prog * ((t + p.t0) / p.t0) ** (-nu)


def read(g_prog: np.ndarray, g_drift: np.ndarray, z: np.ndarray, t: float,
         p: PCMParams) -> np.ndarray:
    """Conductances as read at time t: drifted value plus 1/f read noise (z: standard normals).

    One draw per device and time t: the conductances an MVM sees stay fixed until the next drift.
    """
    q0, exponent, q_max = p.read_noise
    rel = np.maximum((np.abs(g_prog) / p.g_max) ** exponent, p.read_noise_floor)
    q_s = np.minimum(q0 / rel, q_max)
    sigma = q_s * np.sqrt(np.log((t + p.t0 + p.t_read) / (2.0 * p.t_read)))
    return np.maximum(0.0, g_drift + np.abs(g_drift) * sigma * z)


def split_targets(g_cell: np.ndarray, devices: int) -> np.ndarray:
    """Targets of the `devices` parallel devices of one polarity whose currents add, when they
    are written exactly (no programming noise: nothing for a later device to correct).

    The cell's target (0 .. devices * g_max) is spread evenly: each device gets g_cell / devices.
    Returns shape (devices,) + g_cell.shape.
    """
    share = np.asarray(g_cell, dtype=np.float64) / devices
    return np.broadcast_to(share, (devices,) + share.shape).copy()


def verify_read(g_prog: np.ndarray, z: np.ndarray, p: PCMParams) -> np.ndarray:
    """What the verify read right after programming returns: g_prog plus read noise at t = 0."""
    return read(g_prog, g_prog, z, 0.0, p)


def program_in_turn(g_cell: np.ndarray, z_prog: np.ndarray, z_verify: np.ndarray | None,
                    p: PCMParams, stuck: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Program the parallel devices of one polarity one after another, each correcting the
    error of those before it from their verify read-outs (the chip's program-and-verify).

    Device k (k = 1..n) targets an equal share of what is still missing,
    (g_cell - read-outs of devices 1..k-1) / (n - k + 1), clipped to [0, g_max], so the last
    device absorbs the programming error of all before it; with one device this is `program`.
    z_prog: standard normals of shape (n,) + g_cell.shape for the programming noise; z_verify:
    the same for the verify reads, or None for exact read-outs (read noise off).
    stuck: None, or per device the conductance it is stuck at (NaN where it works); a stuck
    device keeps that conductance (and it is its target, for drift), and the verify read-outs
    let the devices after it make up for it.
    Returns (device targets, programmed conductances), each of shape (n,) + g_cell.shape.
    """
    g_cell = np.asarray(g_cell, dtype=np.float64)
    devices = z_prog.shape[0]
    if z_prog.shape[1:] != g_cell.shape or (z_verify is not None and
                                            z_verify.shape != z_prog.shape):
        raise ValueError(f"program_in_turn: normals of shape {z_prog.shape} do not fit "
                         f"cell targets of shape {g_cell.shape}")
    targets = np.empty(z_prog.shape, dtype=np.float64)
    programmed = np.empty(z_prog.shape, dtype=np.float64)
    read_so_far = np.zeros_like(g_cell)
    for k in range(devices):
        targets[k] = np.clip((g_cell - read_so_far) / (devices - k), 0.0, p.g_max)
        programmed[k] = program(targets[k], z_prog[k], p)
        if stuck is not None:
            fixed = ~np.isnan(stuck[k])
            targets[k][fixed] = programmed[k][fixed] = stuck[k][fixed]
        if k < devices - 1:  # the last device's read-out has nothing left to correct
            read_so_far += programmed[k] if z_verify is None else \
                verify_read(programmed[k], z_verify[k], p)
    return targets, programmed


def differential_targets(w_norm: np.ndarray, g_cell_max: float) -> tuple[np.ndarray, np.ndarray]:
    """(G+, G-) targets of a differential cell for normalized weights w_norm (|w| <= 1 fills).

    G+ = clip(w g, 0, g), G- = clip(-w g, 0, g) with g = g_cell_max; |w_norm| > 1 saturates.
    """
    g = np.asarray(w_norm, dtype=np.float64) * g_cell_max
    return np.clip(g, 0.0, g_cell_max), np.clip(-g, 0.0, g_cell_max)
