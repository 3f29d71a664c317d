"""Randomized numerical linear algebra on analog arrays (Kalantzis et al., arXiv 2401.13754).

The large matrix products of randomized algorithms go to a chip's crossbars, where they are
cheap and noisy; the algorithms are chosen so that the noise does not reach the answer (power
passes, iterative refinement with digital residuals). `svd_study` (randomized PCA and low-rank
approximation) and `lstsq_study` (sketch-and-solve and refined least squares) return accuracy
against the digital answer and the cost of analog + digital against all-digital, the arrays'
share priced by the chip's event model (`cost.py`).
"""

from chipsim.linalg.algorithms import SKETCHES, embedding, randomized_svd, refined_lstsq
from chipsim.linalg.matrices import NAMED, Problem, load_problem, synthetic
from chipsim.linalg.products import ArrayProduct, DigitalProduct
from chipsim.linalg.study import lstsq_study, svd_study

__all__ = ["ArrayProduct", "DigitalProduct", "NAMED", "Problem", "SKETCHES", "embedding",
           "load_problem", "lstsq_study", "randomized_svd", "refined_lstsq", "svd_study",
           "synthetic"]
