"""The GraphQL schema: every domain's queries and mutations, merged."""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types

from schema.common import NodeQuery
from schema.councils.graphql import CouncilMutation, CouncilQuery
from schema.errors import ErrorCodes
from schema.limits import QueryLimits
from schema.members.graphql import MemberMutation, MemberQuery

SDL_FILE = Path(__file__).with_name("schema.graphql")

Query = merge_types("Query", (NodeQuery, MemberQuery, CouncilQuery))
Mutation = merge_types("Mutation", (MemberMutation, CouncilMutation))


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Errors are logged where they are coded (schema.errors), not here."""


def build_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=[QueryLimits, ParserCache, ValidationCache, ErrorCodes],
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"
