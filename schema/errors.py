"""How errors reach clients: a code on every error, never an internal detail."""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from domain.errors import OutdialError

logger = logging.getLogger("outdial.errors")

INTERNAL_MESSAGE = "Internal server error"


def shape(error: GraphQLError) -> None:
    """Give the error its extensions.code in place; hide whatever was not expected."""
    original = error.original_error
    if isinstance(original, OutdialError):
        error.extensions = original.extensions
    elif original is None and error.path is None:
        error.extensions = {"code": _request_error_code(error), **(error.extensions or {})}
    elif isinstance(original, CannotGetOperationTypeError | InvalidOperationTypeError):
        error.extensions = {"code": "GRAPHQL_VALIDATION_FAILED"}
    elif isinstance(original, GraphQLError) and original.original_error is None:
        error.extensions = {"code": "BAD_USER_INPUT", **(original.extensions or {})}
    else:
        logger.error("unexpected error at %s", error.path, exc_info=original or error)
        error.message = INTERNAL_MESSAGE
        error.original_error = None
        error.extensions = {"code": "INTERNAL_SERVER_ERROR"}


def hide_suggestions(error: GraphQLError) -> None:
    """Drop graphql-core's "Did you mean ...?" hints, which name types, fields and values."""
    error.message = _SUGGESTION.sub("", error.message)


_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


def _request_error_code(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"
