"""Request and response bodies of the REST API (msgspec: fast to decode and encode)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

import msgspec

from callsign.domain import limits
from callsign.domain.document import GROUP_PATTERN
from callsign.domain.model import Decision, Route
from callsign.services.calllog import CallRecord
from callsign.services.numbers import NumberView

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_ID)]
Label = Annotated[str, msgspec.Meta(max_length=limits.MAX_NAME)]
Group = Annotated[str, msgspec.Meta(max_length=limits.MAX_ID, pattern=GROUP_PATTERN)]
DailyCap = Annotated[int, msgspec.Meta(ge=1, le=limits.MAX_DAILY_CAP)]
Subject = Annotated[str, msgspec.Meta(
    min_length=1, max_length=limits.MAX_NAME,
    description="What the call is about (a debt, a campaign reference): frequency caps per "
                "subject count the person's calls on it")]
PhoneText = Annotated[str, msgspec.Meta(min_length=1, max_length=40,
                                        description="A phone number in any common format")]
ChannelName = Literal["manual", "click_to_dial", "connect", "dialer"]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are refused, naming the field."""


class CallIn(Body):
    user: NonEmpty
    to: PhoneText
    project: NonEmpty | None = None
    caller_id: PhoneText | None = None
    channel: ChannelName = "manual"
    consented: bool = False
    subject: Subject | None = None
    dry_run: bool = False


class TraceStepOut(msgspec.Struct):
    step: str
    result: Literal["chosen", "passed", "checked"]
    detail: str
    number: str | None


class DecisionOut(msgspec.Struct):
    call_id: str
    caller_id: str
    rule: str
    to: str
    trace: list[TraceStepOut]
    dry_run: bool = False

    @classmethod
    def of(cls, decision: Decision, dry_run: bool = False, **more: Any) -> Self:
        """The decision as the domain writes it (``Decision.as_dict``), and ``more``."""
        return msgspec.convert({**decision.as_dict(), "dry_run": dry_run, **more}, cls)


class OutcomeIn(Body):
    outcome: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class OutcomeOut(msgspec.Struct):
    call_id: str
    outcome: str


FailureClassName = Literal["answered", "machine", "no_answer", "busy",
                           "rejected_by_analytics", "cancelled", "invalid_number", "failed",
                           "unknown"]  # domain.results.FailureClass's values
SipCode = Annotated[int, msgspec.Meta(ge=100, le=699, description="A SIP response code")]


class ResultIn(Body):
    """What the dialer knows of the call's result: at least one of answered, sip_code,
    failure_class (derived from the others when left out)."""

    answered: bool | None = None
    duration: Annotated[int, msgspec.Meta(ge=0, le=limits.MAX_CALL_SECONDS)] | None = None
    sip_code: SipCode | None = None
    failure_class: FailureClassName | None = None


class ResultOut(msgspec.Struct):
    call_id: str
    answered: bool | None
    failure_class: str
    sip_code: int | None
    duration_s: int | None
    result_at: str
    result_source: str


class SpamReportIn(Body):
    reported_by: Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_ID)] = "api"
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class SpamReportOut(msgspec.Struct):
    call_id: str
    number: str
    reported_by: str
    note: str
    at: str
    recorded: bool


class InboundIn(Body):
    to: PhoneText
    # Withheld callers ("anonymous", "Restricted", empty or left out) route as anonymous.
    caller: Annotated[str, msgspec.Meta(max_length=40)] | None = msgspec.field(
        name="from", default=None)
    dry_run: bool = False


class RouteOut(msgspec.Struct):
    call_id: str
    destination: str
    rule: str
    user: str | None
    trace: list[TraceStepOut]

    @classmethod
    def of(cls, route: Route) -> RouteOut:
        """The route as the domain writes it (``Route.as_dict``)."""
        return msgspec.convert(route.as_dict(), cls)


class CallOut(msgspec.Struct):
    call_id: str
    at: str
    user: str
    to: str
    caller_id: str
    rule: str
    project: str | None
    channel: str
    outcome: str | None
    trace: list[TraceStepOut]
    telephony_status: str | None = None
    duration_s: int | None = None
    answered_by: str | None = None
    # The result (SPEC 9): see domain.results for the failure classes.
    answered: bool | None = None
    sip_code: int | None = None
    failure_class: str | None = None
    result_at: str | None = None
    result_source: str | None = None
    spam_reported: bool = False

    @classmethod
    def of(cls, record: CallRecord) -> CallOut:
        return cls(record.call_id, record.at.isoformat(), record.user, record.to,
                   record.caller_id, record.rule, record.project, record.channel,
                   record.outcome, [TraceStepOut(**s) for s in record.trace],
                   record.telephony_status, record.duration_s, record.answered_by,
                   record.answered, record.sip_code, record.failure_class,
                   record.result_at.isoformat() if record.result_at else None,
                   record.result_source, record.spam_reported)


class CallPage(msgspec.Struct):
    calls: list[CallOut]
    next_cursor: str | None


class NumberOut(msgspec.Struct):
    number: str
    label: str
    group: str
    status: str
    area_codes: list[str]
    region: str | None
    daily_cap: int | None
    used_today: int
    assigned_user: str | None
    projects: int
    provider: str

    @classmethod
    def of(cls, view: NumberView) -> NumberOut:
        return cls(view.number, view.label, view.group, view.status, list(view.area_codes),
                   view.region, view.daily_cap, view.used_today, view.assigned_user,
                   view.projects, view.provider)


AreaCode = Annotated[str, msgspec.Meta(pattern=r"^\d{1,5}$", description="An area code")]


class NumberIn(Body):
    number: PhoneText
    label: Label = ""
    group: Group = ""
    area_codes: list[AreaCode] = msgspec.field(default_factory=list)
    daily_cap: DailyCap | None = None


class NumberPatch(Body):
    label: Label | None = None
    group: Group | None = None
    daily_cap: Annotated[int, msgspec.Meta(ge=0, le=limits.MAX_DAILY_CAP,
                                           description="0 removes the cap")] | None = None


class AreaCodesIn(Body):
    area_codes: Annotated[list[AreaCode], msgspec.Meta(min_length=1)]


class NumberChange(msgspec.Struct):
    number: str
    result: str
    area_codes: list[str] | None = None
    cleared: Annotated[list[str] | None, msgspec.Meta(
        description="A forced release: the settings that named the number and were "
                    "cleared")] = None


ProviderName = Literal["sandbox", "twilio"]


class PurchaseIn(Body):
    area_code: AreaCode
    quantity: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    provider: ProviderName = "sandbox"


class PurchaseOut(msgspec.Struct):
    provider: str
    label: str
    area_code: str
    requested: int
    bought: list[str]
    warning: str | None
    error: str | None


class ImportIn(Body):
    provider: ProviderName = "twilio"


class ImportOut(msgspec.Struct):
    provider: str
    added: list[str]
    already: list[str]
    elsewhere: list[str]


class CoverageBuyIn(Body):
    top: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    provider: ProviderName = "sandbox"


class Health(msgspec.Struct):
    status: str
    detail: str | None = None

