"""Outbox (admins): the effects waiting for delivery, delivered, and dead (given up on), a
page at a time; Retry sends a dead one again with a fresh retry budget, as `skillrelay
outbox retry ID` does."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from plugin.store import OutboxStatus
from webui import nav, words
from webui.pages._admin import PAGE, admin, row_id
from webui.views import audit, bp, refuse, t, ui

STATES: dict[str, tuple[OutboxStatus, ...]] = {
    "waiting": ("pending", "in_flight"),
    "delivered": ("done",),
    "dead": ("dead",),
}

words.add(
    {
        "en": {
            "outbox_nav": "Outbox",
            "outbox_title": "Outbox",
            "outbox_help": "Comments and labels on Jira tickets and statements to the LRS "
            "leave through the outbox. Each is retried for a day; one that still fails, or "
            "that the target refuses outright, is dead until someone sends it again.",
            "outbox_waiting": "Waiting",
            "outbox_delivered": "Delivered",
            "outbox_dead": "Dead",
            "outbox_tab_count": "{name} ({count})",
            "outbox_none_waiting": "Nothing is waiting to be sent.",
            "outbox_none_delivered": "Nothing has been delivered yet.",
            "outbox_none_dead": "No dead effects: everything was delivered or is on its way.",
            "outbox_effect": "Effect",
            "outbox_key": "Key",
            "outbox_attempts": "Attempts",
            "outbox_error": "Last error",
            "outbox_first_due": "First due",
            "outbox_changed": "Last change",
            "outbox_next": "Next attempt",
            "outbox_retry": "Retry",
            "outbox_retry_label": "Retry effect {id}",
            "outbox_older": "Older",
            "outbox_newest": "Back to the newest",
            "outbox_retried": "Effect {id} ({effect}) will be sent again, with a fresh retry "
            "budget.",
            "outbox_not_dead": "Effect {id} is {state}, not dead: nothing to retry, nothing "
            "changed.",
            "outbox_pending": "waiting",
            "outbox_in_flight": "being sent",
            "outbox_done": "delivered",
            "outbox_dead_state": "dead",
        },
        "ru": {
            "outbox_nav": "Исходящие",
            "outbox_title": "Исходящие",
            "outbox_help": "Комментарии и метки в задачах Jira и записи в LRS уходят через "
            "очередь исходящих. Каждое действие повторяется в течение суток; если оно так и "
            "не прошло или получатель сразу отказал, оно остаётся в «неотправленных», пока "
            "его не отправят снова.",
            "outbox_waiting": "В очереди",
            "outbox_delivered": "Доставлено",
            "outbox_dead": "Не отправлено",
            "outbox_tab_count": "{name} ({count})",
            "outbox_none_waiting": "В очереди ничего нет.",
            "outbox_none_delivered": "Пока ничего не доставлено.",
            "outbox_none_dead": "Неотправленных нет: всё доставлено или в пути.",
            "outbox_effect": "Действие",
            "outbox_key": "Ключ",
            "outbox_attempts": "Попытки",
            "outbox_error": "Последняя ошибка",
            "outbox_first_due": "Впервые в очереди",
            "outbox_changed": "Последнее изменение",
            "outbox_next": "Следующая попытка",
            "outbox_retry": "Отправить снова",
            "outbox_retry_label": "Отправить снова действие {id}",
            "outbox_older": "Раньше",
            "outbox_newest": "К самым новым",
            "outbox_retried": "Действие {id} ({effect}) будет отправлено снова, попытки "
            "начнутся заново.",
            "outbox_not_dead": "Действие {id} сейчас в состоянии «{state}», а не "
            "«не отправлено»: повторять нечего, ничего не изменилось.",
            "outbox_pending": "в очереди",
            "outbox_in_flight": "отправляется",
            "outbox_done": "доставлено",
            "outbox_dead_state": "не отправлено",
        },
    }
)
nav.add("webui.outbox", "outbox_nav", lambda v: v.is_admin, 80)
STATUS_WORDS = {
    "pending": "outbox_pending",
    "in_flight": "outbox_in_flight",
    "done": "outbox_done",
    "dead": "outbox_dead_state",
}


@bp.get("/outbox")
def outbox() -> str:
    admin("outbox.view")
    state = request.args.get("state", "waiting")
    if state not in STATES:
        abort(400)
    given = request.args.get("before")
    before = row_id(given) if given is not None else None
    store = ui().store
    found = store.outbox.page(STATES[state], before, PAGE + 1)
    items, more = found[:PAGE], len(found) > PAGE
    counts = {name: store.outbox.count(STATES[name]) for name in ("waiting", "dead")}
    return render_template(
        "outbox.html",
        state=state,
        states=list(STATES),
        items=items,
        older=items[-1].id if more else None,
        paged=before is not None,
        counts=counts,
        status_words=STATUS_WORDS,
    )


@bp.post("/outbox/retry")
def retry() -> BaseResponse:
    admin("outbox.retry")
    effect = row_id(request.form.get("effect"))
    target = f"effect:{effect}"
    store = ui().store
    item = store.outbox.get(effect)
    if item is None:
        refuse(404, "outbox.retry", target)
    name = f"{item.target}/{item.action}"
    if store.outbox.retry(effect):
        audit("outbox.retry", target, effect=name, outcome="pending", previous="dead")
        flash(t("outbox_retried", id=effect, effect=name), "ok")
    else:
        # Retried already (a double submit), delivered, or still on its way.
        now = store.outbox.get(effect)
        status = now.status if now else item.status
        audit("outbox.retry", target, effect=name, outcome="unchanged", state=status)
        flash(t("outbox_not_dead", id=effect, state=t(STATUS_WORDS[status])), "info")
    return redirect(url_for("webui.outbox", state="dead"), 303)
