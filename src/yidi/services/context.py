"""What every use case needs: the database, the policy book and a unit of work.

``AppContext`` is built once per process (server, CLI command, scenario run, test) and handed to
the service functions; services never reach for globals. One unit of work = one transaction.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yidi.adapters.database import make_engine, make_session_factory, upgrade
from yidi.domain.policy import PolicyBook
from yidi.policy.loader import load_policy_book


@dataclass
class AppContext:
    engine: Engine
    sessions: sessionmaker[Session]
    policy: PolicyBook
    demo_mode: bool = False
    hooks: dict[str, Any] = field(default_factory=dict)  # test seams for fault injection (issue 9), never used in prod paths
    # Set on a province node of a federation (federation.node.NodeLink): reaches the other provinces' insured
    # sides. None = one embedded node that holds every region (services.insured_side uses the local side).
    federation: Any = None

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True, demo_mode: bool = False,
                 **engine_kwargs: Any) -> "AppContext":
        engine = make_engine(url, **engine_kwargs)
        if migrate:
            upgrade(engine)
        return cls(engine=engine, sessions=make_session_factory(engine), policy=load_policy_book(), demo_mode=demo_mode)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, rolled back on any exception."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"
