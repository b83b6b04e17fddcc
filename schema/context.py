"""What every resolver receives: the node, the viewer and this request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.types import Info as StrawberryInfo

from server.accounts.access import Viewer
from server.db import Database
from server.settings import Settings


@dataclass
class Context:
    request: HTTPConnection
    response: Any
    db: Database
    settings: Settings
    viewer: Viewer | None
    loaders: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    federation: Any = None  # federation.runtime.Federation

    def loader(self, name: str, factory):
        """One DataLoader per kind and request, so batching never leaks across viewers."""
        found = self.loaders.get(name)
        if found is None:
            found = self.loaders[name] = factory(self)
        return found

    @property
    def client_address(self) -> str:
        return self.request.client.host if self.request.client else "unknown"


Info = StrawberryInfo[Context, None]
