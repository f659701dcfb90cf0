"""The execution engine: prepared documents, their plans, and the paths that run them.

The rest of the app uses the engine through this package's names (`__all__`), and nothing
else of it:
- `Documents` prepares a document once per text (parsed, validated, which of its operations
  take the direct path decided, its plans kept with it: the one plan store) into a `Prepared`;
  `DocumentRules` are the limits it validates with;
- `run` answers an operation of a prepared document (the HTTP path): directly for a query or
  mutation of one root field (engine.direct_query), else by graphql-core's executor completing
  objects by their plans (engine.fast_execution);
- `PreparedDocuments` and `SharedEventExecutionContext` wire a strawberry schema to it, for
  strawberry's own execution (websockets: subscriptions share one execution per event);
- `Lru`, the bounded map its caches (and the server's) are made of; `graphql_schema_of`, the
  graphql-core schema behind a strawberry schema (a private attribute of strawberry's).

Imports: graphql-core's public API (`graphql`, `graphql.pyutils`) and engine.seam, the one module
that imports strawberry and that lists every private name of either library the engine relies
on, with the versions it was checked on. Never the domain, storage, resolvers, schema or server
(tests/engine/test_seam.py holds it to this).

Known differences from graphql-core's execution (tests/engine/test_graphql_core_*.py run
graphql-core's own execution tests on both, same bytes):
- a value a plan cannot vouch for (None in a non-null field, an error or an awaitable as a
  value, a list that is not a `list` or `tuple`, a leaf its type cannot serialise) hands
  its whole object back to graphql-core, which reads its attributes again: an attribute is read
  twice then (a property would run twice); the answer is graphql-core's;
- the direct path gives resolvers graphql-core's async helpers without the executor's
  end-of-work hook (`ExecutionHooks.async_work_finished`), and runs no resolve middleware and
  no abort signal: the HTTP path sets none of them;
- subscribers of one event with the same document and variables share one execution's result
  (engine.shared_events): fields must not depend on the context (ours do not).
"""

from engine.execution import run
from engine.lru import Lru
from engine.prepared import DocumentRules, Documents, Prepared
from engine.seam import PreparedDocuments, graphql_schema_of
from engine.shared_events import SharedEventExecutionContext

__all__ = [
    "DocumentRules",
    "Documents",
    "Lru",
    "Prepared",
    "PreparedDocuments",
    "SharedEventExecutionContext",
    "graphql_schema_of",
    "run",
]
