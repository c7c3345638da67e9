"""The state store on DynamoDB: one item, optimistic locking with a pynamodb VersionAttribute.

Every write is conditional on the state the caller expects and on the version it read, so of two concurrent
writers exactly one wins and the other gets ConflictError. Locally the same code runs against moto's server
(`host` = DYNAMODB_ENDPOINT_URL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar, cast

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.models import Model

from ondemand.domain import ConflictError, EndpointState, State, Transition

ITEM_KEY = "endpoint"
EPOCH = datetime.fromtimestamp(0, UTC)
CHANGEABLE_FIELDS = frozenset(
    {
        "endpoint_name",
        "expires_at",
        "in_service_at",
        "subscribers",
        "last_error",
        "last_error_code",
        "run_started_at",
        "gpu_seconds_by_day",
        "last_used_at",
        "cooldown_until",
        "notice_sent_at",
        "waiting_for",
    }
)


class HistoryEntry(MapAttribute):
    at = UTCDateTimeAttribute()
    from_state = UnicodeAttribute(attr_name="from")
    to_state = UnicodeAttribute(attr_name="to")
    reason = UnicodeAttribute()


class DayUsage(MapAttribute):
    """One UTC day of the GPU budget's ledger."""

    day = UnicodeAttribute()
    seconds = NumberAttribute()


class StateItemBase(Model):
    """Attributes of the state item; `bound_model` binds it to a table."""

    pk = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute()
    since = UTCDateTimeAttribute()
    endpoint_name = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    in_service_at = UTCDateTimeAttribute(null=True)
    subscribers = ListAttribute(of=UnicodeAttribute, default=list)
    last_error = UnicodeAttribute(null=True)
    notice_sent_at = UTCDateTimeAttribute(null=True)
    history = ListAttribute(of=HistoryEntry, default=list)
    last_error_code = UnicodeAttribute(null=True)
    run_started_at = UTCDateTimeAttribute(null=True)
    gpu_usage = ListAttribute(of=DayUsage, default=list)
    last_used_at = UTCDateTimeAttribute(null=True)
    cooldown_until = UTCDateTimeAttribute(null=True)
    waiting_for = UnicodeAttribute(null=True)
    version = VersionAttribute()


M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class StaticCredentials:
    """Credentials given in code: the local runtime's for its own DynamoDB server. On AWS there are none (None):
    botocore finds the function's role."""

    access_key_id: str
    secret_access_key: str


def bound_model(
    base: type[M], table_name: str, host: str | None, region: str, credentials: StaticCredentials | None = None
) -> type[M]:
    """`base` bound to one table (pynamodb reads the table from the class's Meta); one class per table, so every store
    on a table shares the connection pynamodb keeps on the class."""
    return cast("type[M]", _bound_model(base, table_name, host, region, credentials))


@lru_cache(maxsize=16)
def _bound_model(
    base: type[Model], table_name: str, host: str | None, region: str, credentials: StaticCredentials | None
) -> type[Model]:
    class Meta:
        pass

    Meta.table_name = table_name  # type: ignore[attr-defined]
    Meta.host = host  # type: ignore[attr-defined]
    Meta.region = region  # type: ignore[attr-defined]
    if credentials is not None:
        Meta.aws_access_key_id = credentials.access_key_id  # type: ignore[attr-defined]
        Meta.aws_secret_access_key = credentials.secret_access_key  # type: ignore[attr-defined]
    return type(base.__name__.removesuffix("Base"), (base,), {"Meta": Meta, "__module__": base.__module__})


class DynamoStateStore:
    """The StateStore port on DynamoDB."""

    def __init__(
        self,
        table_name: str,
        host: str | None = None,
        region: str = "us-east-1",
        history_limit: int = 50,
        now: Any = None,
        credentials: StaticCredentials | None = None,
    ) -> None:
        self.model = bound_model(StateItemBase, table_name, host, region, credentials)
        self.history_limit = history_limit
        self.now = now or (lambda: datetime.now(UTC))

    def get(self) -> EndpointState:
        return self._to_domain(self._load())

    def transition(
        self, expected: Iterable[State], to: State, reason: str, *, expected_version: int | None = None, **changes: Any
    ) -> EndpointState:
        return self._write(tuple(expected), to, reason, expected_version, changes)

    def update(
        self, expected: Iterable[State], reason: str, *, expected_version: int | None = None, **changes: Any
    ) -> EndpointState:
        return self._write(tuple(expected), None, reason, expected_version, changes)

    def add_subscriber(self, expected: Iterable[State], phone: str, limit: int) -> EndpointState:
        model = self.model
        condition = (
            model.state.is_in(*(s.value for s in expected))
            & ~model.subscribers.contains(phone)
            & (size(model.subscribers) < limit)
        )
        return self._update_if(
            condition,
            [model.subscribers.set(model.subscribers.append([phone]))],
            "the item is not taking this subscriber (state, duplicate or full)",
        )

    def record_use(self, endpoint_name: str, at: datetime, min_interval: timedelta) -> EndpointState:
        model = self.model
        condition = (
            (model.state == State.IN_SERVICE.value)
            & (model.endpoint_name == endpoint_name)
            & (model.last_used_at.does_not_exist() | (model.last_used_at <= at - min_interval))
        )
        return self._update_if(
            condition, [model.last_used_at.set(at)], "use recorded less than a minute ago, or the endpoint changed"
        )

    def _update_if(self, condition: Any, actions: list[Any], conflict: str) -> EndpointState:
        """One conditional UpdateItem that also bumps the version; ConflictError(`conflict`) if the condition fails."""
        model = self.model
        try:
            # The connection, not Model.update: that would also demand the version this process last read.
            answer = model._get_connection().update_item(
                ITEM_KEY, actions=[*actions, model.version.add(1)], condition=condition, return_values="ALL_NEW"
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise ConflictError(conflict) from exc
            raise
        return self._to_domain(model.from_raw_data(answer["Attributes"]))

    def _load(self) -> StateItemBase:
        try:
            return self.model.get(ITEM_KEY, consistent_read=True)
        except DoesNotExist:
            return self.model(ITEM_KEY, state=State.STOPPED.value, since=EPOCH)

    def _write(
        self,
        expected: tuple[State, ...],
        to: State | None,
        reason: str,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> EndpointState:
        unknown = set(changes) - CHANGEABLE_FIELDS
        if unknown:
            raise ValueError(f"not item fields: {sorted(unknown)}")
        item = self._load()
        current_state = State(item.state)
        if expected_version is not None and (item.version or 0) != expected_version:
            raise ConflictError(f"the item is at version {item.version or 0}, not {expected_version}")
        if current_state not in expected:
            raise ConflictError(f"the item is {current_state.value}, not {'|'.join(s.value for s in expected)}")
        for name, value in changes.items():
            if name == "gpu_seconds_by_day":
                item.gpu_usage = [DayUsage(day=day, seconds=seconds) for day, seconds in sorted(value.items())]
            else:
                setattr(item, name, list(value) if name == "subscribers" else value)
        if to is not None:
            now = self.now()
            entry = HistoryEntry(at=now, from_state=current_state.value, to_state=to.value, reason=reason[:300])
            item.history = [*(item.history or []), entry][-self.history_limit :]
            item.state = to.value
            item.since = now
        # The VersionAttribute adds "version = <read version>" (or "version does not exist") to the condition.
        condition = None if item.version is None else self.model.state.is_in(*(s.value for s in expected))
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise ConflictError("another writer changed the state item first") from exc
            raise
        return self._to_domain(item)

    @staticmethod
    def _to_domain(item: StateItemBase) -> EndpointState:
        return EndpointState(
            state=State(item.state),
            version=item.version or 0,
            since=item.since,
            endpoint_name=item.endpoint_name,
            expires_at=item.expires_at,
            subscribers=tuple(str(phone) for phone in item.subscribers or ()),
            last_error=item.last_error,
            history=tuple(
                Transition(at=h.at, from_state=State(h.from_state), to_state=State(h.to_state), reason=h.reason)
                for h in item.history or ()
            ),
            in_service_at=item.in_service_at,
            notice_sent_at=item.notice_sent_at,
            last_error_code=item.last_error_code,
            run_started_at=item.run_started_at,
            gpu_seconds_by_day={usage.day: float(usage.seconds) for usage in item.gpu_usage or ()},
            last_used_at=item.last_used_at,
            cooldown_until=item.cooldown_until,
            waiting_for=item.waiting_for,
        )
