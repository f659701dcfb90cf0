"""GraphiQL page served without internet: its assets are vendored in static/.

scripts/vendor-graphiql.sh refreshes static/ from pinned npm packages.
"""

import json
from html import escape
from pathlib import Path

__all__ = ["DEFAULT_QUERY", "STATIC_DIR", "STATIC_PATH", "graphiql_html"]

_PACKAGE_DIR = Path(__file__).parent
STATIC_DIR: Path = _PACKAGE_DIR / "static"
STATIC_PATH = "/graphiql-static"
_PAGE_TEMPLATE = (_PACKAGE_DIR / "page.html").read_text(encoding="utf-8")

DEFAULT_QUERY = """\
# outdial-graphql: GraphiQL for operators
#
# Run: Ctrl-Enter or the play button.
# Autocomplete: Ctrl-Space.
# Schema: the Docs icon, top left.
# Credentials: Headers tab, as JSON, e.g.
#   {"Authorization": "Bearer <token>"}
# (subscriptions send them as connection params).
#
# Examples: uncomment one, put in an outdial id.
#
# query Counts {
#   outdialtargetCounts(outdialId: "OUTDIAL-ID") {
#     idle progressing done total
#   }
# }
#
# query FirstTargets {
#   outdialtargets(outdialId: "OUTDIAL-ID") {
#     edges { node { id name status tmUpdate } }
#     pageInfo { hasNextPage endCursor }
#   }
# }
#
# subscription WatchStatus {
#   outdialtargetStatusChanged(
#     outdialId: "OUTDIAL-ID"
#   ) {
#     previousStatus status target { id name }
#   }
# }

# Checks the connection:
query Ping {
  __typename
}
"""


TRUSTED_ONLY_NOTICE = """\
# THIS SERVICE RUNS TRUSTED DOCUMENTS ONLY (TRUSTED_DOCUMENTS_ONLY=1):
# operations typed here, the examples below and the schema's
# introspection included, are refused (PERSISTED_QUERY_NOT_ALLOWED)
# unless their text is listed in its TRUSTED_DOCUMENTS_FILE.
#
"""


def graphiql_html(
    *, graphql_path: str = "/graphql", static_path: str = STATIC_PATH, trusted_only: bool = False
) -> str:
    """The GraphiQL page: HTTP POST and graphql-transport-ws subscriptions to graphql_path."""
    default_query = TRUSTED_ONLY_NOTICE + DEFAULT_QUERY if trusted_only else DEFAULT_QUERY
    config = {"graphqlPath": graphql_path, "defaultQuery": default_query}
    return _PAGE_TEMPLATE.replace(
        "__STATIC__", escape(static_path.rstrip("/"), quote=True)
    ).replace("__CONFIG__", _json_for_script(config))


def _json_for_script(value: object) -> str:
    # "<" escaped so no value can close the <script> element it is embedded in.
    return json.dumps(value).replace("<", "\\u003c")
