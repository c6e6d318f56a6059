"""The ``engine:`` block of an experiment: where the (image chunk, explainer) units run and with which
run-time options. It never enters the config hash, so a run started locally can be resumed on Ray (or
with another batch size) and the other way round."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EngineSpec(BaseModel):
    """``local`` runs every unit in this process; ``ray`` runs them on Ray actors that each build the model
    once, while this process stays the only writer of the results store."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "ray"] = Field("local", description="local (in this process) or ray")
    address: str | None = Field(None, description="ray: null starts a local Ray, 'auto' finds a running one, or "
                                                  "HOST:PORT / ray://HOST:PORT of a cluster head")
    workers: int = Field(2, ge=1, description="ray: number of actors, each holding the model")
    cpus_per_worker: float = Field(1, gt=0, description="ray: CPUs reserved per actor")
    gpus_per_worker: float = Field(0, ge=0, description="ray: GPUs per actor (1 pins one GPU to each)")
    chunk: int = Field(1, ge=1, description="images per unit of work (an image chunk with one explainer)")
    batch_size: int | Literal["auto"] = Field("auto", description="images per model call on each worker, or 'auto' "
                                                                  "(measured once per model and machine)")

    @field_validator("batch_size")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"expected an int >= 1 or 'auto', got {value}")
        return value
