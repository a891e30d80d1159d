"""The port that tells how far a read replica trails the database it copies."""

from __future__ import annotations

from abc import ABC, abstractmethod


class ReplicaLag(ABC):
    """Asked by the readiness probe only: reads themselves never wait on it."""

    @abstractmethod
    def seconds(self) -> float | None:
        """Seconds the replica's replayed data trails its primary: 0 when it has replayed all it
        received, else the time since the last transaction it replayed was committed. None when it
        replays nothing (it is no standby, or has replayed no transaction since it started).
        Raises StoreUnavailable when the replica cannot be asked."""
