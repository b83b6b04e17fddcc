"""Query depth, alias and token limits, with their validation rules built once.

Strawberry's limiter extensions create a new rule class per request, which makes every
request miss the validation cache; these rules are made at import and reused.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 4_000

RULES = (depth_rule(MAX_DEPTH, None, None), alias_rule(MAX_ALIASES))


class QueryLimits(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = MAX_TOKENS
        context.validation_rules = (*context.validation_rules, *RULES)
        yield
