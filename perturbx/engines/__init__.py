"""Where an experiment's units of work run: ``local`` (in this process, ``work.Worker``) or ``ray``
(actors on a Ray cluster, ``ray_engine``, imported only when asked for). Either way the driver is the only
writer of the results store."""

from perturbx.engines.spec import EngineSpec

__all__ = ["EngineSpec"]
