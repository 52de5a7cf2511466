"""Set aside (admins): the events a worker could not read or decide, each with its reason,
a page at a time; Retry gives one (or all) back to the workers once what failed them is
fixed, as `skillrelay events retry` does."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from plugin.commands.events import MAX_AUDITED
from webui import nav, words
from webui.pages._admin import PAGE, admin, row_id
from webui.views import audit, bp, refuse, t, ui

words.add(
    {
        "en": {
            "aside_nav": "Set aside",
            "aside_title": "Events set aside",
            "aside_help": "An event a worker could not read or decide is set aside with its "
            "reason, so it blocks no other event and no engine counts it. Once what failed "
            "it is fixed (an upgrade, a corrected manifest), give it back: a worker decides "
            "it, and sets it aside again if it still fails.",
            "aside_none": "No events are set aside: every event stored was decided.",
            "aside_count": "{count} event(s) set aside.",
            "aside_source": "Source",
            "aside_received": "Received",
            "aside_event": "Event",
            "aside_reason": "Reason",
            "aside_retry": "Give back",
            "aside_retry_label": "Give back event {id}",
            "aside_retry_all": "Give back all {count}",
            "aside_retried": "Event {id} goes back to the workers.",
            "aside_retried_all": "{count} event(s) go back to the workers.",
            "aside_not_aside": "Event {id} is {state}, not set aside: nothing changed.",
            "aside_older": "Older",
            "aside_newest": "Back to the newest",
        },
        "ru": {
            "aside_nav": "Отложенные",
            "aside_title": "Отложенные события",
            "aside_help": "Событие, которое обработчик не смог прочитать или учесть, "
            "откладывается с указанием причины: оно не задерживает другие события и не "
            "учитывается в решениях. Когда причина устранена (обновление, исправленный "
            "манифест), верните его: обработчик учтёт его, а если ошибка повторится, снова "
            "отложит.",
            "aside_none": "Отложенных событий нет: все сохранённые события учтены.",
            "aside_count": "Отложено событий: {count}.",
            "aside_source": "Источник",
            "aside_received": "Получено",
            "aside_event": "Событие",
            "aside_reason": "Причина",
            "aside_retry": "Вернуть",
            "aside_retry_label": "Вернуть событие {id}",
            "aside_retry_all": "Вернуть все ({count})",
            "aside_retried": "Событие {id} возвращено обработчикам.",
            "aside_retried_all": "Возвращено обработчикам событий: {count}.",
            "aside_not_aside": "Событие {id} сейчас в состоянии «{state}», а не отложено: "
            "ничего не изменилось.",
            "aside_older": "Раньше",
            "aside_newest": "К самым новым",
        },
    }
)
nav.add("webui.set_aside", "aside_nav", lambda v: v.is_admin, 85)


@bp.get("/set-aside")
def set_aside() -> str:
    admin("events.view_set_aside")
    given = request.args.get("before")
    before = row_id(given) if given is not None else None
    store = ui().store
    found = store.inbox.list(status="failed", limit=PAGE + 1, before=before)
    items, more = found[:PAGE], len(found) > PAGE
    return render_template(
        "set_aside.html",
        items=items,
        count=store.inbox.count_by_status()["failed"],
        older=items[-1].id if more else None,
        paged=before is not None,
    )


@bp.post("/set-aside/retry")
def retry_set_aside() -> BaseResponse:
    admin("events.retry")
    store = ui().store
    if request.form.get("all") == "1":
        back = store.inbox.retry_failed()
        audit("events.retry", "events:set-aside", count=len(back), ids=back[:MAX_AUDITED])
        flash(t("aside_retried_all", count=len(back)), "ok")
        return redirect(url_for("webui.set_aside"), 303)
    event = row_id(request.form.get("event"))
    target = f"event:{event}"
    item = store.inbox.get(event)
    if item is None:
        refuse(404, "events.retry", target)
    if store.inbox.retry_failed([event]):
        audit("events.retry", target, outcome="new", previous="failed")
        flash(t("aside_retried", id=event), "ok")
    else:  # given back already (a double submit), or never set aside
        now = store.inbox.get(event)
        state = now.status if now else item.status
        audit("events.retry", target, outcome="unchanged", state=state)
        flash(t("aside_not_aside", id=event, state=state), "info")
    return redirect(url_for("webui.set_aside"), 303)
