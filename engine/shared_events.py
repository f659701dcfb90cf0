"""One execution per status event and subscription document, shared by its subscribers.

Why: graphql-core executes a subscription's selection set once per event and subscriber.
With 1,000 subscribers of one outdial using the same document and variables, that is
1,000 identical executions of one event: most of the fan-out time (bench/fanout.py).
The resolver hands every subscriber the same payload object for one change, so the
result of the first execution can be handed to the others.

A result is shared only between executions of the same payload object, the same parsed
operation (engine.prepared.Documents hands out one DocumentNode per text) and equal variables,
and only when it has no errors (strawberry shapes errors in place). Our fields do not depend on
the context, so subscribers on different connections may share.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import ExecutionResult, OperationType

from engine.fast_execution import FastExecutionContext

SHARED_RESULTS = 4096

# (id(payload), id(operation), variables) -> (payload, operation, result); payload and
# operation are kept so that no id is reused while the entry lives.
_results: OrderedDict[tuple[int, int, frozenset[Any]], tuple[object, object, Any]] = OrderedDict()


class SharedEventExecutionContext(FastExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        payload, operation = self.root_value, self.operation
        if payload is None or operation.operation is not OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)
        try:
            key = (id(payload), id(operation), frozenset(self.variable_values.coerced.items()))
        except TypeError:  # a list or object variable: nothing to share by
            return super().execute_operation(serially)
        shared = _results.get(key)
        if shared is not None and shared[0] is payload and shared[1] is operation:
            return shared[2]
        result = super().execute_operation(serially)
        if isinstance(result, ExecutionResult) and not result.errors:
            _results[key] = (payload, operation, result)
            while len(_results) > SHARED_RESULTS:
                _results.popitem(last=False)
        return result
