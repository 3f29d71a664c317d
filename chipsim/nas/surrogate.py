"""The surrogate: gradient-boosted trees that predict a candidate's figures from its genes.

AnalogNAS trains a ranking model on evaluated candidates and searches on it instead of training
every candidate. Here two gradient-boosted regressors (scikit-learn) predict the 1-day accuracy,
whose order ranks candidates, and the drop from 1 second to 30 days, which the search caps.
How well the ranking holds is measured on candidates the surrogate never saw: Kendall's tau
between predicted and measured 1-day accuracy on a held-out quarter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from chipsim.nas.space import Architecture, features

RANK = "accuracy_86400s"  # ranked by: test accuracy 1 day after programming
DROP = ("accuracy_1s", "accuracy_2.592e+06s")  # drop: 1 s to 30 days


def drop(figures: dict[str, float]) -> float:
    return figures[DROP[0]] - figures[DROP[1]]


@dataclass
class Surrogate:
    """Predicts (1-day accuracy, 30-day drop) of any candidate."""

    rank_model: Any
    drop_model: Any

    @classmethod
    def fit(cls, archs: Sequence[Architecture], figures: Sequence[dict[str, float]],
            seed: int = 0) -> "Surrogate":
        from sklearn.ensemble import GradientBoostingRegressor

        x = np.array([features(a) for a in archs])
        models = []
        for target in ([f[RANK] for f in figures], [drop(f) for f in figures]):
            model = GradientBoostingRegressor(n_estimators=200, max_depth=2, learning_rate=0.05,
                                              subsample=0.8, random_state=seed)
            models.append(model.fit(x, np.array(target)))
        return cls(*models)

    def predict(self, archs: Sequence[Architecture]) -> tuple[np.ndarray, np.ndarray]:
        x = np.array([features(a) for a in archs])
        return self.rank_model.predict(x), self.drop_model.predict(x)


def held_out_tau(archs: Sequence[Architecture], figures: Sequence[dict[str, float]],
                 seed: int = 0) -> tuple[float, int]:
    """Kendall's tau of the predicted against the measured 1-day accuracy on a held-out quarter
    (at least 3 candidates), the surrogate fitted on the rest; and how many were held out."""
    from scipy.stats import kendalltau

    n = len(archs)
    held = max(3, n // 4)
    if n - held < 3:
        raise ValueError(f"{n} evaluated candidates: too few to hold {held} out")
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:held], order[held:]
    model = Surrogate.fit([archs[i] for i in train], [figures[i] for i in train], seed)
    predicted, _ = model.predict([archs[i] for i in test])
    tau = kendalltau(predicted, [figures[i][RANK] for i in test]).statistic
    return float(tau) if np.isfinite(tau) else 0.0, held
