"""Template helpers of the public site: links that keep a query, QR codes, charts, JSON-LD.

Every SVG here is built from numbers and our own labels only; remote text never reaches markup
except through Django's escaping (format_html).
"""

from __future__ import annotations

import functools
import json

import segno
from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from directory import site_language
from directory.browse import Day, RoomQuery
from directory.lib.roomtext import clean_text

register = template.Library()

# The escapes of Django's json_script, so "</script>" in remote text cannot end the block.
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag
def optional_url(name: str) -> str:
    """The URL of a route another app may not provide yet; '' when it does not resolve."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@register.simple_tag
def language_links(url: str) -> list[dict[str, str]]:
    """This page in every site language (directory/site_language.py)."""
    return site_language.language_links(url or "/")


@register.filter
def og_locale(language: str) -> str:
    """Open Graph's locale form of a language code ('pt-br' -> 'pt_BR')."""
    return str(site_language.babel_locale(language))


@register.filter
def room_language(code: str) -> str:
    """A room's language named in the visitor's language (not Django's `language_name`, which
    knows only the languages Django is translated into)."""
    return site_language.language_name(code)


@register.filter
def local_date(value, format: str = "medium") -> str:
    return site_language.local_date(value, format)


@register.filter
def local_datetime(value, format: str = "medium") -> str:
    return site_language.local_datetime(value, format)


@register.filter
def local_number(value) -> str:
    return site_language.local_number(value)


@register.simple_tag
def query_url(query: RoomQuery, **changes) -> str:
    """A link to the home page with this query, some parameters changed (page reset)."""
    changes.setdefault("page", "")
    params = query.params(**changes)
    return reverse("home") + (f"?{urlencode(params)}" if params else "")


@functools.lru_cache(maxsize=4096)
def qr_svg(data: str, title: str = "QR code") -> SafeString:
    """A QR code as SVG markup, generated here (never fetched from the room's server).

    Kept per process: a join link never changes, and encoding one costs about 20 ms."""
    code = segno.make(data, error="m")
    svg = code.svg_inline(
        scale=4, border=2, omitsize=True, dark="#000", light="#fff", title=title, svgclass="qr"
    )
    return mark_safe(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S308  (no remote text)


@register.simple_tag
def room_qr(room, title: str = "") -> SafeString:
    return qr_svg(room.join_url, title or _("QR code of the join link"))


def _points(values: list[int | None], width: float, height: float, top: float) -> list[tuple]:
    step = width / max(1, len(values) - 1)
    scale = height / max(1, top)
    return [
        (round(i * step, 1), round(height - value * scale, 1))
        for i, value in enumerate(values)
        if value is not None
    ]


@register.simple_tag
def sparkline(values: list[int | None] | None) -> SafeString:
    """A 30-day trend of active users, or a short note when there is no history yet."""
    known = [value for value in values or [] if value is not None]
    if len(known) < 2:
        return format_html(
            '<span class="spark-empty" title="{}">{}</span>',
            _("No activity history yet"),
            _("no trend yet"),
        )
    points = _points(list(values), 60, 16, max(known))
    path = " ".join(f"{x},{y + 1}" for x, y in points)
    return format_html(
        '<svg class="spark" viewBox="0 0 60 18" role="img" aria-label="{}">'
        '<polyline points="{}"/></svg>',
        _("Active users over 30 days: from %(first)s to %(last)s")
        % {
            "first": site_language.local_number(known[0]),
            "last": site_language.local_number(known[-1]),
        },
        path,
    )


def _axis_label(day) -> str:
    """A day on a chart's axis in the visitor's language (CLDR's month and day: "Mar 5",
    "5 мар.")."""
    return site_language.local_month_day(day)


def _chart(title: str, values: list[int | None], days: list, kind: str) -> SafeString:
    width, height, left, bottom = 600, 150, 40, 20
    plot_w, plot_h = width - left - 10, height - bottom - 10
    top = max([value for value in values if value is not None] or [0]) or 1
    step = plot_w / max(1, len(values))
    shapes: list[SafeString] = []
    if kind == "bars":
        for i, value in enumerate(values):
            if value:
                bar_h = value / top * plot_h
                shapes.append(
                    format_html(
                        '<rect x="{}" y="{}" width="{}" height="{}"/>',
                        round(left + i * step + 1, 1),
                        round(10 + plot_h - bar_h, 1),
                        round(max(1, step - 2), 1),
                        round(bar_h, 1),
                    )
                )
    else:
        points = [
            (round(left + i * step + step / 2, 1), round(10 + plot_h - value / top * plot_h, 1))
            for i, value in enumerate(values)
            if value is not None
        ]
        shapes.append(
            format_html('<polyline points="{}"/>', " ".join(f"{x},{y}" for x, y in points))
        )
        shapes.extend(format_html('<circle cx="{}" cy="{}" r="2.5"/>', x, y) for x, y in points)
    labels = format_html(
        '<text x="{}" y="{}" class="axis">{}</text>'
        '<text x="{}" y="{}" class="axis end">{}</text>'
        '<text x="{}" y="18" class="axis end">{}</text>'
        '<text x="{}" y="{}" class="axis end">0</text>',
        left,
        height - 4,
        _axis_label(days[0]),
        width - 10,
        height - 4,
        _axis_label(days[-1]),
        left - 4,
        site_language.local_number(top),
        left - 4,
        10 + plot_h,
    )
    return format_html(
        '<svg class="chart chart-{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="baseline"/>{}{}</svg>',
        kind,
        width,
        height,
        ngettext(
            "%(title)s, last %(days)s day, highest %(top)s",
            "%(title)s, last %(days)s days, highest %(top)s",
            len(values),
        )
        % {
            "title": title,
            "days": site_language.local_number(len(values)),
            "top": site_language.local_number(top),
        },
        left,
        10 + plot_h,
        width - 10,
        10 + plot_h,
        format_html_join("", "{}", ((shape,) for shape in shapes)),
        labels,
    )


@register.simple_tag
def activity_charts(series: list[Day]) -> SafeString:
    """Active users (line) and messages per day (bars), server-side SVG."""
    days = [day.day for day in series]
    users_title = pgettext("chart and table", "Active users")
    messages_title = _("Messages per day")
    users = _chart(users_title, [day.active_users for day in series], days, "line")
    messages = _chart(messages_title, [day.messages for day in series], days, "bars")
    return format_html(
        "<figure><figcaption>{}</figcaption>{}</figure>"
        "<figure><figcaption>{}</figcaption>{}</figure>",
        users_title,
        users,
        messages_title,
        messages,
    )


@register.simple_tag
def uptime_strip(days: list) -> SafeString:
    cells = format_html_join(
        "",
        '<span class="{}" title="{}: {}"></span>',
        (
            (
                "up" if up else "down",
                site_language.local_date(day),
                pgettext("server status on a day", "answered")
                if up
                else pgettext("server status on a day", "no answer"),
            )
            for day, up in days
        ),
    )
    return format_html(
        '<div class="uptime" role="img" aria-label="{}">{}</div>',
        ngettext(
            "Answered on %(up)s of %(days)s day",
            "Answered on %(up)s of %(days)s days",
            len(days),
        )
        % {"up": sum(up for _day, up in days), "days": len(days)},
        cells,
    )


@register.simple_tag
def json_ld(data: dict) -> SafeString:
    """A JSON-LD block, escaped like json_script so remote text cannot close the element."""
    text = json.dumps(data, ensure_ascii=False).translate(_JSON_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))  # noqa: S308


@register.filter
def visible_text(value: object) -> str:
    """Remote text without bidi overrides, control or invisible characters (README, "Privacy
    and security").

    Crawls already clean what they store; this guards pages against older or imported rows.
    """
    return clean_text(value, 100_000, multiline=True) if value else ""
