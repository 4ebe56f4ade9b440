"""Names of one federation's subjects and JetStream buckets.

Every name carries the federation id: the production federation is ``yidi``; a test or scenario run takes a random
one, so runs sharing one NATS server never see each other's messages, and it deletes what it created at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FEDERATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Names:
    federation: str = "yidi"

    def __post_init__(self) -> None:
        if not _FEDERATION_ID.match(self.federation):
            raise ValueError(f"federation id {self.federation!r}: letters, digits, - and _ only")

    @property
    def prefix(self) -> str:
        return f"yidi.{self.federation}"

    def node_prefix(self, province: str) -> str:
        return f"{self.prefix}.node.{province}"

    def node(self, province: str, op: str) -> str:
        """A province node's request/reply subject: ``yidi.<fed>.node.<province>.<op>``."""
        return f"{self.node_prefix(province)}.{op}"

    def hub(self, op: str) -> str:
        return f"{self.prefix}.hub.{op}"

    @property
    def registry_bucket(self) -> str:
        """JetStream KV: regions, institutions and routes, written by the hub, read by every node."""
        return f"yidi_{self.federation}_registry"

    @property
    def claim_files_bucket(self) -> str:
        """JetStream object store: a manual claim's attachments on their way to the insured node."""
        return f"yidi_{self.federation}_claim_files"

    @property
    def deferred_stream(self) -> str:
        """JetStream work queue (I2): 2304/2207 messages whose insured node did not answer, per treatment node
        ``yidi.<fed>.deferred.<treatment NN>.<insured NN>`` (federation/deferred.py)."""
        return f"YIDI_{self.federation}_DEFERRED"
