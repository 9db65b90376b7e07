"""Transaction simulator: the Fraud Detection Handbook's generator, vectorised, plus
cards, merchant categories, card-testing bursts, drift, delayed labels and fraud intel.

>>> from fraudlake.params import SimulateParams
>>> sim = simulate(SimulateParams(days=7))            # doctest: +SKIP
>>> manifest = write_batches(sim, Path("data/raw"))   # doctest: +SKIP
"""

from fraudlake.simulation.batches import BatchManifest, write_batches
from fraudlake.simulation.engine import simulate
from fraudlake.simulation.profiles import handbook_params
from fraudlake.simulation.result import Simulation

__all__ = ["BatchManifest", "Simulation", "handbook_params", "simulate", "write_batches"]
