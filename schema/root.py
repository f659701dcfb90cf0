"""The assembled schema: root types wired to their resolvers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from engine import DocumentRules, Documents, PreparedDocuments, SharedEventExecutionContext
from resolvers import mutations, queries, subscriptions
from schema import errors
from schema.types import (
    ClaimedOutdialtarget,
    OutdialSummaryConnection,
    Outdialtarget,
    OutdialtargetConnection,
    OutdialtargetCounts,
)


@strawberry.type
class Query:
    outdialtarget: Outdialtarget | None = strawberry.field(
        resolver=queries.outdialtarget,
        description=(
            "Null when no target has this id. Soft-deleted targets are returned, with tmDelete set."
        ),
    )
    outdialtargets: OutdialtargetConnection = strawberry.field(
        resolver=queries.outdialtargets,
        description=(
            "Targets of one outdial that are not deleted, "
            "newest first (tmCreate, then id, descending). first/after page forward, "
            "last/before backward; without first and last a page holds 100."
        ),
    )
    outdials: OutdialSummaryConnection = strawberry.field(
        resolver=queries.outdials,
        description="Outdials that have targets that are not deleted, by outdialId ascending.",
    )
    outdialtargets_by_destination: OutdialtargetConnection = strawberry.field(
        resolver=queries.outdialtargets_by_destination,
        description=(
            "Targets in any outdial, not deleted, with a destination of this type whose target "
            "equals this one after the same normalisation as a create; newest first."
        ),
    )
    outdialtarget_counts: OutdialtargetCounts = strawberry.field(
        resolver=queries.outdialtarget_counts,
        description="Progress of one outdial: counts of its non-deleted targets by status.",
    )
    available_outdialtargets: list[Outdialtarget] = strawberry.field(
        resolver=queries.available_outdialtargets,
        description=(
            "What claimOutdialtarget would choose from, in the same order, "
            "without changing anything."
        ),
    )


@strawberry.type
class Mutation:
    create_outdialtarget: Outdialtarget = strawberry.mutation(
        resolver=mutations.create_outdialtarget
    )
    create_outdialtargets: list[Outdialtarget] = strawberry.mutation(
        resolver=mutations.create_outdialtargets,
        description=(
            "1 to 1,000 targets at once, all or nothing: one invalid input writes none, and where "
            "the database has transactions a crash midway writes none either. Returned in input "
            "order."
        ),
    )
    update_outdialtarget: Outdialtarget = strawberry.mutation(
        resolver=mutations.update_outdialtarget
    )
    delete_outdialtarget: Outdialtarget = strawberry.mutation(
        resolver=mutations.delete_outdialtarget,
        description="Soft delete. Deleting a deleted target returns it unchanged.",
    )
    mark_outdialtarget_progressing: Outdialtarget = strawberry.mutation(
        resolver=mutations.mark_outdialtarget_progressing,
        description=(
            "IDLE -> PROGRESSING for the given destination; raises that destination's try count "
            "by one. No token, no lease: report without a token (or use claims)."
        ),
    )
    update_outdialtarget_status: Outdialtarget = strawberry.mutation(
        resolver=mutations.update_outdialtarget_status,
        description=(
            "PROGRESSING -> IDLE (attempt failed, may retry) or PROGRESSING -> DONE (finished). "
            "With claimToken only while that claim still holds."
        ),
    )
    claim_outdialtarget: ClaimedOutdialtarget | None = strawberry.mutation(
        resolver=mutations.claim_outdialtarget,
        description=(
            "Atomically pick the next available target of the outdial and mark it PROGRESSING; "
            "null when none. With leaseMs the claim lapses unless renewed or reported in time."
        ),
    )
    claim_outdialtargets: list[ClaimedOutdialtarget] = strawberry.mutation(
        resolver=mutations.claim_outdialtargets,
        description=(
            "Up to limit (1..100) claims in one request, each one as claimOutdialtarget, in "
            "claim order; fewer (or none) when fewer are available."
        ),
    )
    renew_outdialtarget_claim: Outdialtarget = strawberry.mutation(
        resolver=mutations.renew_outdialtarget_claim,
        description=(
            "Sets the lease of a claim that still holds to now plus leaseMs (a claim made "
            "without a lease gets one)."
        ),
    )
    release_outdialtargets: int = strawberry.mutation(
        resolver=mutations.release_outdialtargets,
        description=(
            "PROGRESSING targets of the outdial unchanged for at least progressingForMs go back "
            "to IDLE (each a status change, leased or not); returns how many. The operator's "
            "tool after dialers died holding claims."
        ),
    )


@strawberry.type
class Subscription:
    outdialtarget_status_changed = strawberry.subscription(
        resolver=subscriptions.outdialtarget_status_changed,
        description="Every status change of matching targets; no argument means every target.",
    )
    outdialtarget_counts_changed = strawberry.subscription(
        resolver=subscriptions.outdialtarget_counts_changed,
        description=(
            "The outdial's counts at once, then again after its targets change (create, delete, "
            "status), at most one event per 250 ms; after the last change the last event holds "
            "the final counts."
        ),
    )


class OutdialSchema(strawberry.Schema):
    # With introspection off, "Did you mean ...?" must not reveal the schema either.
    hide_suggestions = False
    documents: Documents

    def process_errors(
        self, errors_: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors_:
            errors.shape(error)
            if self.hide_suggestions:
                errors.hide_suggestions(error)


Extension = type[SchemaExtension] | Callable[[], SchemaExtension]
NO_RULES = DocumentRules()


def build_schema(
    *,
    extensions: Sequence[Extension] = (),
    hide_suggestions: bool = False,
    rules: DocumentRules = NO_RULES,
) -> OutdialSchema:
    """The schema; `extensions` run before documents are parsed and validated (`rules`)."""
    built = OutdialSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=SharedEventExecutionContext,
        extensions=[*extensions, lambda: PreparedDocuments(built.documents)],
    )
    built.hide_suggestions = hide_suggestions
    built.documents = Documents(built, rules, lambda found: built.process_errors(found))
    return built


schema = build_schema()


def sdl() -> str:
    return schema.as_str() + "\n"
