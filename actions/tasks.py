"""Runs the order task the form collected, and carries out or drops what awaits the customer's yes/no.

Feature modules provide the work; this module only dispatches:
- RUNNERS: task -> what to do once the order form is complete (look up, or quote and ask for confirmation);
- CONFIRMERS: pending confirmation -> the write to make after an explicit "yes";
- PRECHECKS: task -> an eligibility check made as soon as the order is known, so the customer isn't asked for
  details of a task that can't be done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import grant, invoices, orders, privacy, refunds, shipping, support
from actions.context import TaskContext
from actions.crm_client import CallContext, CRMRefused, CRMUnavailable, start_call_log
from actions.escalation import raise_escalation

logger = logging.getLogger(__name__)

Runner = Callable[[TaskContext], Awaitable[list[EventType]]]
Precheck = Callable[[CollectingDispatcher, str, str], Awaitable[str | None]]

RUNNERS: dict[str, Runner] = {
    "track_order": orders.run_track,
    "cancel_order": orders.run_cancel,
    "get_refund": refunds.run_refund,
    "track_refund": refunds.run_track_refund,
    "change_shipping_address": shipping.run_change,
    "invoice": invoices.run_invoice,
    "payment_issue": invoices.run_payment_issue,
    "data_export": privacy.run_export,
    "data_erasure": privacy.run_erase,
}
CONFIRMERS: dict[str, Runner] = {
    "cancel_order": orders.confirm_cancel,
    "get_refund": refunds.confirm_refund,
    "change_shipping_address": shipping.confirm_change,
    "human": support.confirm_human,
    "ticket": support.confirm_ticket,
    "data_erasure": privacy.confirm_erase,
}
DECLINED_DETAILS = ("new_address", "refund_reason")  # personal data a change collected, cleared when it is declined
RISKY_TASKS = {"cancel_order", "get_refund"}  # task names equal the at-risk intents of the escalation decision
PRECHECKS: dict[str, Precheck] = {
    "cancel_order": orders.precheck,
    "get_refund": refunds.precheck,
    "change_shipping_address": shipping.precheck,
}


def with_call_log(tracker: Tracker, events: list[EventType], context: CallContext) -> list[EventType]:
    """Append this action's CRM calls to the conversation's log (slot crm_calls, shown to agents), and the grant
    as the CRM last issued it (it refreshes the grant's idle period on every customer-scoped call)."""
    if context.grant_changed:
        events = events + [SlotSet("identity_grant", context.grant)]
    if not context.calls:
        return events
    return events + [SlotSet("crm_calls", (list(tracker.get_slot("crm_calls") or []) + context.calls)[-40:])]


async def _guarded(ctx: TaskContext, work: Runner) -> list[EventType]:
    """Run `work`; a CRM outage or an unexpected refusal becomes an apology and a path to a person."""
    context = start_call_log(ctx.tracker)
    try:
        events = await work(ctx)
    except CRMUnavailable:
        ctx.dispatcher.utter_message(response="utter_crm_down")
        events = [SlotSet("pending_confirmation", None)]
    except CRMRefused as refusal:
        if refusal.code in grant.REFUSED_CODES:  # the grant lapsed or is not this conversation's: verify again
            ctx.dispatcher.utter_message(response="utter_verify_again_then_ask")
            context.use_grant(None)
            events = grant.cleared() + [SlotSet("task", None)]
        elif refusal.code == "order_not_found":
            ctx.dispatcher.utter_message(response="utter_not_your_order", order_id=ctx.order_id)
            events = []
        else:
            logger.warning("CRM refused %s: %s", ctx.task, refusal)
            if refusal.message:
                ctx.dispatcher.utter_message(response="utter_task_refused", message=refusal.message)
            else:
                ctx.dispatcher.utter_message(response="utter_task_refused_unexplained")
            ctx.dispatcher.utter_message(response="utter_anything_else")
            events = []
        events = [SlotSet("pending_confirmation", None), *events]
    return with_call_log(ctx.tracker, events, context)


class ActionRunTask(Action):
    def name(self) -> str:
        return "action_run_task"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx = TaskContext.of(dispatcher, tracker)
        if tracker.get_slot("identity_locked"):
            return await _guarded(ctx, support.identity_locked)
        if tracker.get_slot("task_blocked"):
            return [SlotSet("task_blocked", None), SlotSet("pending_confirmation", None)]
        runner = RUNNERS.get(ctx.task or "")
        if runner is None or not ctx.customer_id or not (ctx.order_id or ctx.task in privacy.ACCOUNT_TASKS):
            dispatcher.utter_message(response="utter_anything_else")
            return []
        if ctx.task in RISKY_TASKS:  # now that the customer is known: a valuable customer at risk meets a person
            escalated = await raise_escalation(dispatcher, tracker, intent=ctx.task)
            if escalated:
                return escalated
        return await _guarded(ctx, runner)


class ActionConfirm(Action):
    """The customer said yes: carry out what was proposed, once."""

    def name(self) -> str:
        return "action_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        pending = tracker.get_slot("pending_confirmation")
        if not pending:
            dispatcher.utter_message(response="utter_nothing_to_confirm")
            return []
        confirmer = CONFIRMERS.get(pending.split(":", 1)[0])
        if confirmer is None:
            dispatcher.utter_message(response="utter_nothing_to_confirm")
            return [SlotSet("pending_confirmation", None)]
        events = await _guarded(TaskContext.of(dispatcher, tracker), confirmer)
        return [SlotSet("pending_confirmation", None)] + events


class ActionDecline(Action):
    """The customer said no: change nothing."""

    def name(self) -> str:
        return "action_decline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("pending_confirmation"):
            dispatcher.utter_message(response="utter_kept_as_is")
        dispatcher.utter_message(response="utter_anything_else")
        # the declined change's details in the customer's words are of no further use: not kept into later sessions
        declined = [SlotSet(name, None) for name in DECLINED_DETAILS if tracker.get_slot(name) is not None]
        return [SlotSet("pending_confirmation", None), *declined]


class ActionStopTask(Action):
    """The customer wants to stop in the middle of the order form."""

    def name(self) -> str:
        return "action_stop_task"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_task_stopped")
        dispatcher.utter_message(response="utter_anything_else")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("pending_confirmation", None),
            SlotSet("task", None),
        ]
