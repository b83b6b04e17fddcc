"""The GraphQL schema: every domain's queries and mutations, merged."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult

from events.graphql import EventMutation, EventQuery, EventSubscription
from federation.graphql import FederationMutation, FederationQuery
from schema.common import NodeQuery
from schema.councils.graphql import CouncilMutation, CouncilQuery
from schema.errors import coded
from schema.limits import QueryLimits
from schema.members.graphql import MemberMutation, MemberQuery
from schema.petitions.graphql import PetitionMutation, PetitionQuery, PetitionSubscription
from schema.reviews.graphql import ReviewMutation, ReviewQuery

SDL_FILE = Path(__file__).with_name("schema.graphql")

Query = merge_types(
    "Query", (NodeQuery, MemberQuery, CouncilQuery, EventQuery, PetitionQuery, FederationQuery, ReviewQuery)
)
Mutation = merge_types(
    "Mutation",
    (MemberMutation, CouncilMutation, EventMutation, PetitionMutation, FederationMutation, ReviewMutation),
)
Subscription = merge_types("Subscription", (PetitionSubscription, EventSubscription))


class Schema(strawberry.Schema):
    """Gives every error a code on every path, parse failures included (see schema.errors)."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        if result.errors:
            result.errors = [coded(error) for error in result.errors]
        return result

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        source = await super().stream(*args, **kwargs)

        async def coded_results() -> AsyncGenerator[Any, None]:
            try:
                async for result in source:
                    if getattr(result, "errors", None):
                        result.errors = [coded(error) for error in result.errors]
                    yield result
            finally:
                await source.aclose()

        return coded_results()

    def process_errors(self, errors, execution_context=None) -> None:
        """Unexpected errors are logged once, by ``coded``."""


def build_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[QueryLimits, ParserCache, ValidationCache],
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"
