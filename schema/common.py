"""Types shared by every domain."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from schema.context import Info


@strawberry.enum(description="Whose objects: this node's own, replicated from peers, or both.")
class OriginScope(Enum):
    LOCAL = "local"
    REMOTE = "remote"
    ALL = "all"


@strawberry.type(description="A text field in one language other than the original.")
class Translation:
    lang: str
    field: str
    text: str


def translation_list(translations: dict[str, dict[str, str]]) -> list[Translation]:
    return [
        Translation(lang=lang, field=name, text=text)
        for lang, fields in sorted(translations.items())
        for name, text in sorted(fields.items())
    ]


@strawberry.type(description="This node: who runs it and what it offers.")
class NodeInfo:
    id: str
    name: str
    region: str
    base_url: str
    default_language: str
    languages: list[str]


@strawberry.type
class NodeQuery:
    @strawberry.field(description="This node's identity and languages.")
    def node(self, info: Info) -> NodeInfo:
        s = info.context.settings
        return NodeInfo(
            id=s.node_id,
            name=s.node_name,
            region=s.region,
            base_url=s.base_url,
            default_language=s.default_language,
            languages=list(s.languages),
        )


def given(data: object) -> dict[str, Any]:
    """The fields of a GraphQL input that the caller gave (left-out fields stay as they are)."""
    return {name: value for name, value in vars(data).items() if value is not None}
