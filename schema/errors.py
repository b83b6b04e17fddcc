"""Every GraphQL error gets a stable ``extensions.code``; unexpected ones are masked and logged."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from server.errors import AppError

log = logging.getLogger("coalition.graphql")

INTERNAL_MESSAGE = "Something went wrong on the node; it was logged. Try again, or tell the node's admin."


def _with_code(error: GraphQLError, message: str, extensions: dict) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, AppError):
        extensions = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
        return _with_code(error, original.message, extensions)
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return error
        if error.message.startswith("Syntax Error"):
            code = "GRAPHQL_PARSE_FAILED"
        elif error.message.startswith(("Variable", "Argument")):
            code = "BAD_USER_INPUT"
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        return _with_code(error, error.message, {"code": code})
    log.error("unexpected error in %s", error.path, exc_info=original)
    return _with_code(error, INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"})
