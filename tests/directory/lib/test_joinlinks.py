"""Join links, server URLs and source pages (directory.lib.joinlinks): pure, no Django needed."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.lib.joinlinks import (
    InvalidJoinLink,
    InvalidServerUrl,
    JoinLink,
    SourceEntry,
    detect_source_kind,
    extract,
    extract_from_html,
    extract_from_json_feed,
    extract_from_markdown,
    find_join_links,
    format_base_url,
    parse_join_link,
    parse_server_url,
)
from tests.conftest import REPO

SNAPSHOT = REPO / "fixtures" / "snapshot"
SOURCES = SNAPSHOT / "sources"

KEY = "a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238"
OTHER_KEY = "118df8c6c471ac0468c7c77e1cdc12f24a139ee8a07c6e3bf4e7855640dad821"
OFFICIAL = f"https://open.getsession.org/session?public_key={KEY}"


def _base32z(data: bytes) -> str:
    """An independent z-base-32 encoder (MSB first, zero padding bits), as oxenc writes it."""
    bits = "".join(f"{byte:08b}" for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(
        "ybndrfg8ejkmcpqxot1uwisza345h769"[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5)
    )


# -- parsing one link ----------------------------------------------------------------------------


def test_plain_join_link_parses_into_its_parts():
    link = parse_join_link(OFFICIAL)
    assert link == JoinLink("https", "open.getsession.org", None, "session", KEY)
    assert link.base_url == "https://open.getsession.org"
    assert link.url == OFFICIAL
    assert link.address == ("https", "open.getsession.org", None)


def test_join_link_with_uppercase_key_is_normalised():
    assert parse_join_link(OFFICIAL.replace(KEY, KEY.upper())).pubkey == KEY


def test_scheme_and_host_are_lower_cased_but_token_keeps_its_case():
    link = parse_join_link(f"HTTP://SOG.Caliban.ORG/CrazyGamers?public_key={KEY}")
    assert (link.scheme, link.host, link.token) == ("http", "sog.caliban.org", "CrazyGamers")
    assert link.token_key == "crazygamers"


def test_token_case_does_not_change_identity():
    upper = parse_join_link(f"http://h.example/Room?public_key={KEY}")
    lower = parse_join_link(f"http://h.example/room?public_key={KEY}")
    assert upper != lower  # the display case differs...
    assert upper.identity == lower.identity  # ...but it is the same room


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("http://h.example:80/r?public_key=", None),
        ("https://h.example:443/r?public_key=", None),
        ("https://h.example:80/r?public_key=", 80),
        ("http://h.example:443/r?public_key=", 443),
        ("http://1.2.3.4:8888/r?public_key=", 8888),
    ],
)
def test_explicit_default_port_is_dropped_and_others_kept(text, port):
    link = parse_join_link(text + KEY)
    assert link.port == port
    assert link.base_url.endswith(f":{port}") == (port is not None)


@pytest.mark.parametrize(
    "text",
    [
        f"https://open.getsession.org/r/session?public_key={KEY}",
        f"https://open.getsession.org/session/?public_key={KEY}",
        f"https://open.getsession.org/r/session/?public_key={KEY}",
        f"https://open.getsession.org/session&public_key={KEY}",
        f"https://open.getsession.org/session?utm_source=x&public_key={KEY}",
        f"https://open.getsession.org/session%3Fpublic_key={KEY}",
        f"https://open.getsession.org/session?public_key%3D{KEY}",
        f"https://open.getsession.org/session?PUBLIC_KEY={KEY}",
        f"https://open.getsession.org/session?public_key={KEY}SX",
        f"https://open.getsession.org/session?public_key={KEY}#invite",
        f"https://open.getsession.org/session?public_key={KEY}&ref=web",
        f"https://open.getsession.org/session?public_key={KEY}.",
        f"https://open.getsession.org/session?public_key={KEY}%20",
        f"https://open.getsession.org/session?x=1&amp;public_key={KEY}",
        f"  {OFFICIAL}\n",
        f"https://open.getsession.org./session?public_key={KEY}",
    ],
)
def test_variants_seen_in_the_wild_give_the_canonical_link(text):
    assert parse_join_link(text).url == OFFICIAL


def test_trailing_junk_after_key_is_ignored():
    # Exactly the case found on euroexit.net: two letters glued onto the key.
    link = parse_join_link(
        "https://dm.euroexit.net/dmopen?public_key="
        "b2a4eab1f7c59766b1197e07ae5d30dcc49fdcc9610c5cfe7a1fe70292088059SX"
    )
    assert link.pubkey.endswith("088059")


def test_base64_key_is_converted_to_hex():
    raw = bytes.fromhex(KEY)
    padded = base64.b64encode(raw).decode()
    for key in (padded, padded.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert (
            parse_join_link(f"https://open.getsession.org/session?public_key={key}").url == OFFICIAL
        )


def test_percent_encoded_base64_key_is_decoded():
    key = base64.b64encode(bytes.fromhex(KEY)).decode()
    quoted = key.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert parse_join_link(f"https://open.getsession.org/session?public_key={quoted}").pubkey == KEY


def test_base32z_key_is_converted_to_hex():
    key = _base32z(bytes.fromhex(KEY))
    assert len(key) == 52
    assert parse_join_link(f"https://open.getsession.org/session?public_key={key}").pubkey == KEY


def test_ipv4_host_is_kept_as_a_literal():
    link = parse_join_link(f"http://95.217.236.112/CrazyGamers?public_key={KEY}")
    assert link.address == ("http", "95.217.236.112", None)


@pytest.mark.parametrize(
    "text",
    [
        f"http://[2001:DB8:0::1]:8080/room?public_key={KEY}",
        f"https://[2606:4700::1111]/room?public_key={KEY}",
        f"http://[::ffff:8.8.8.8]/room?public_key={KEY}",
        f"http://2606:4700::1111/room?public_key={KEY}",
        f"http://[::1%eth0]/room?public_key={KEY}",
        f"http://[::1/room?public_key={KEY}",
    ],
)
def test_ipv6_hosts_are_refused_as_session_clients_refuse_them(text):
    """Session Desktop's `openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/
    OpenGroupUtils.ts`: hosts are dot-separated labels of letters, digits and '-') and
    libsession's `parse_url` (`src/config/community.cpp`: the host stops at the first character
    that is not a letter, digit, '-' or '.', then needs a dot) both refuse an IPv6 literal, so a
    room there cannot be joined. The issue "Speak the Session ecosystem's protocols exactly"
    changed this: the bracketed literal used to be accepted (this test asserted
    ``base_url == "http://[2001:db8::1]:8080"``); it is now refused with this reason."""
    with pytest.raises(InvalidJoinLink, match=re.escape("IPv6 hosts: Session clients cannot join")):
        parse_join_link(text)
    assert find_join_links(f"see {text} here") == []


def test_ipv6_server_urls_are_refused_too():
    """libsession's `parse_url` (`src/config/community.cpp`) reads base URLs alone, and refuses
    an IPv6 host there as in a full link."""
    with pytest.raises(InvalidServerUrl, match=re.escape("IPv6 hosts: Session clients cannot")):
        parse_server_url("http://[::1]:8080")


def test_internationalised_host_becomes_punycode():
    link = parse_join_link(f"https://bücher.example/room?public_key={KEY}")
    assert link.host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"ftp://h.example/room?public_key={KEY}", "unsupported scheme 'ftp'"),
        (f"javascript://h.example/room?public_key={KEY}", "unsupported scheme"),
        (f"h.example/room?public_key={KEY}", "missing http:// or https://"),
        (f"http://user:pw@h.example/room?public_key={KEY}", "user info"),
        (f"http://localhost/room?public_key={KEY}", "a dot is required"),
        (f"http:///room?public_key={KEY}", "missing host"),
        (f"http://h_x.example/room?public_key={KEY}", "invalid host name"),
        (f"http://-h.example/room?public_key={KEY}", "invalid host name"),
        (f"http://h.123/room?public_key={KEY}", "numeric top-level domain"),
        (f"http://256.1.1.1/room?public_key={KEY}", "invalid IP address"),
        (f"http://[::1%eth0]/room?public_key={KEY}", "IPv6 hosts"),
        (f"http://h.example:0/room?public_key={KEY}", "invalid port"),
        (f"http://h.example:65536/room?public_key={KEY}", "invalid port"),
        (f"http://h.example:http/room?public_key={KEY}", "invalid port"),
        (f"http://h.example/room.php?public_key={KEY}", "invalid room token"),
        (f"http://h.example/{'a' * 65}?public_key={KEY}", "invalid room token"),
        (f"http://h.example/?public_key={KEY}", "expected /<room token>"),
        (f"http://h.example/view/room?public_key={KEY}", "expected /<room token>"),
        ("http://h.example/room", "missing ?public_key="),
        ("http://h.example/room?key=1", "missing ?public_key="),
        (f"http://h.example/room?public_key={KEY[:40]}", "public_key must be 64 hex digits"),
        (f"http://h.example/room?public_key={KEY}0", "more than 64 hex digits"),
        (f"http://h.example/room?public_key=05{KEY}", "more than 64 hex digits"),
        (f"http://h .example/room?public_key={KEY}", "spaces or control characters"),
        (f"http://h.example/room?public_key={KEY}\x00", "spaces or control characters"),
        (
            f"http://{'a' * 60}.{'b' * 60}.{'c' * 60}.{'d' * 60}.example/room?public_key={KEY}",
            "longer than 300",
        ),
        (f"http://h.example/room?public_key={KEY}{'x' * 1000}", "longer than 1000"),
        ("", "missing http://"),
    ],
)
def test_bad_join_links_are_refused_with_a_reason(text, reason):
    """(The IPv6 zone id case used to be refused as "invalid IP address"; since the issue "Speak
    the Session ecosystem's protocols exactly" every IPv6 host is refused, for that reason.)"""
    with pytest.raises(InvalidJoinLink, match=re.escape(reason)):
        parse_join_link(text)


def test_non_text_is_refused():
    with pytest.raises(InvalidJoinLink, match="expected text"):
        parse_join_link(None)  # type: ignore[arg-type]


def test_invalid_join_link_is_a_value_error():
    assert issubclass(InvalidJoinLink, ValueError)


# -- server base URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("https://open.getsession.org", ("https", "open.getsession.org", None)),
        ("HTTPS://Open.GetSession.org/", ("https", "open.getsession.org", None)),
        ("http://1.2.3.4:8888/", ("http", "1.2.3.4", 8888)),
        ("http://sog.caliban.org:80", ("http", "sog.caliban.org", None)),
    ],
)
def test_server_url_is_normalised_like_join_links(text, address):
    assert parse_server_url(text) == address
    assert parse_server_url(format_base_url(*address)) == address


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://open.getsession.org/session", "no path"),
        ("https://open.getsession.org?x=1", "no path"),
        ("open.getsession.org", "missing http://"),
        ("gopher://open.getsession.org", "unsupported scheme"),
        ("https://me@open.getsession.org", "user info"),
        ("https://localhost", "a dot is required"),
        ("https://" + "a" * 300 + ".org", "at most 300"),
    ],
)
def test_bad_server_urls_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidServerUrl, match=re.escape(reason)):
        parse_server_url(text)


def test_link_address_matches_its_parsed_base_url():
    link = parse_join_link(f"http://Chat.PrivacyCountry.org:8888/pcf?public_key={KEY}")
    assert parse_server_url(link.base_url) == link.address


# -- finding links in text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        (f"sogs.example/lobby?public_key={KEY}", f"http://sogs.example/lobby?public_key={KEY}"),
        (
            f"Join: Chat.Sogs.Example:8080/Lobby?public_key={KEY.upper()} today",
            f"http://chat.sogs.example:8080/Lobby?public_key={KEY}",
        ),
        (
            f"(143.198.213.255:80/main?public_key={KEY})",
            f"http://143.198.213.255/main?public_key={KEY}",
        ),
        (
            f'<a href="sogs.example/lobby?public_key={KEY}">',
            f"http://sogs.example/lobby?public_key={KEY}",
        ),
    ],
)
def test_links_without_a_scheme_are_read_as_http_links(text, url):
    """Session Desktop accepts a link without a scheme (`openGroupV2CompleteURLRegex`, whose
    protocol is optional) and joins it over http (`prefixify`, both in
    `ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`; its own examples include
    ``143.198.213.255:80/main?public_key=...``); Android's `OpenGroupUrlParser.parseUrl`
    (`libsession/.../utilities/OpenGroupUrlParser.kt`) prefixes "http://" too."""
    assert [link.url for link in find_join_links(text)] == [url]


@pytest.mark.parametrize(
    "text",
    [
        f"localhost/lobby?public_key={KEY}",  # no dot: Desktop's hostname needs one
        f"lobby?public_key={KEY}",
        f"https://github.com/someone/sogs.example/lobby?public_key={KEY}",  # inside a path
        f"https://h.example/go?to=sogs.example/lobby?public_key={KEY}",  # inside a query
        f"someone@sogs.example/lobby?public_key={KEY}",
        f"www.sogs.example/r/lobby?public_key={KEY}",  # Android would take "r" as the room
        f"sogs.example/lo.bby?public_key={KEY}",
        f"sogs.example/lobby?public_key={KEY[:40]}",
        f"sogs.example/lobby?public_key={KEY}0",
        f"sogs.example/lobby?public_key={base64.b64encode(bytes.fromhex(KEY)).decode()}",
        f"sogs.example/lobby?x=1&public_key={KEY}",  # Desktop wants ?public_key= at once
        f"sogs.example:0/lobby?public_key={KEY}",
        f"999.1.1.1/lobby?public_key={KEY}",
        f"sogs.123/lobby?public_key={KEY}",
    ],
)
def test_text_that_is_no_schemeless_link_gives_none(text):
    """What Desktop's `openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/
    OpenGroupUtils.ts`: a dotted host, an optional port from 1, ``/token?public_key=`` and 64
    hex digits, whole string) refuses is not a link without a scheme, and neither is one that
    merely continues another URL."""
    assert find_join_links(text) == []


def test_a_schemeless_and_a_full_spelling_of_one_link_are_one_link():
    """Desktop's `prefixify` (`ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`) makes
    both the same http URL, so both name the same room."""
    text = f"sogs.example/lobby?public_key={KEY} and http://sogs.example/lobby?public_key={KEY}"
    assert [link.url for link in find_join_links(text)] == [
        f"http://sogs.example/lobby?public_key={KEY}"
    ]


def test_a_json_feed_entry_without_a_scheme_is_an_http_link():
    """Desktop's `prefixify` (`ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`) and
    Android's `OpenGroupUrlParser.parseUrl` prefix "http://" to such a link wherever it comes
    from; a feed's `url` is source text too."""
    feed = json.dumps(
        [
            {"url": f"sogs.example/lobby?public_key={KEY}", "tags": "chat", "nsfw": "0"},
            {"url": f"see sogs.example/other?public_key={KEY}"},  # not a link, only text
        ]
    )
    entries = extract_from_json_feed(feed)
    assert [(entry.link.url, entry.tags) for entry in entries] == [
        (f"http://sogs.example/lobby?public_key={KEY}", ("chat",))
    ]


def test_a_strict_parse_still_wants_the_scheme():
    """libsession's `parse_url` (`src/config/community.cpp`) throws "invalid/missing
    protocol://": one link given on its own (a submission, `crawl --server`) needs its scheme;
    only links in source text are prefixed."""
    with pytest.raises(InvalidJoinLink, match="missing http://"):
        parse_join_link(f"sogs.example/lobby?public_key={KEY}")


def test_links_are_found_in_prose():
    text = f"Join us at {OFFICIAL}, or http://1.2.3.4:8888/Tech?public_key={OTHER_KEY}!"
    assert [link.url for link in find_join_links(text)] == [
        OFFICIAL,
        f"http://1.2.3.4:8888/Tech?public_key={OTHER_KEY}",
    ]


def test_json_feed_escaped_slashes():
    # session.directory writes its feed with PHP's json_encode, which escapes every slash.
    text = '[{"url":"' + OFFICIAL.replace("/", "\\/") + '","nsfw":"0"}]'
    assert json.loads(text)[0]["url"] == OFFICIAL
    assert [link.url for link in find_join_links(text)] == [OFFICIAL]


def test_json_unicode_escapes_are_undone():
    text = OFFICIAL.replace("/", "\\u002f").replace("?", "\\u003F")
    assert [link.url for link in find_join_links(text)] == [OFFICIAL]


def test_html_entities_are_undone():
    text = f'<a href="https://open.getsession.org/session?x=1&amp;public_key={KEY}">join</a>'
    assert [link.url for link in find_join_links(text)] == [OFFICIAL]


def test_duplicates_are_dropped_keeping_the_first_spelling():
    text = (
        f"http://h.example/Room?public_key={KEY} http://H.EXAMPLE:80/room?public_key={KEY.upper()}"
        f" [http://h.example/Room?public_key={KEY}](http://h.example/Room?public_key={KEY})"
    )
    assert [link.token for link in find_join_links(text)] == ["Room"]


def test_same_token_on_other_servers_or_keys_is_kept():
    text = (
        f"http://a.example/room?public_key={KEY} https://a.example/room?public_key={KEY} "
        f"http://a.example/room?public_key={OTHER_KEY} http://a.example:8080/room?public_key={KEY}"
    )
    assert len(find_join_links(text)) == 4


def test_link_glued_after_its_own_truncated_copy_is_recovered():
    # As in the ASGL list: the link was pasted over a truncated copy of itself.
    text = f"http://20.168.47.58/Bipolar?public_key={KEY[:18]}/Bipolar?public_key={KEY}"
    assert [link.url for link in find_join_links(text)] == [
        f"http://20.168.47.58/Bipolar?public_key={KEY}"
    ]


def test_glued_copy_with_another_token_is_not_trusted():
    text = f"http://20.168.47.58/Other?public_key={KEY[:18]}/Bipolar?public_key={KEY}"
    assert find_join_links(text) == []


def test_invalid_candidates_are_skipped_without_hiding_valid_ones():
    text = (
        f"http://user@h.example/a?public_key={KEY} http://localhost/b?public_key={KEY} "
        f"http://999.1.1.1/c?public_key={KEY} http://h.example/d?public_key={KEY}0 "
        f"http://h.example/ok?public_key={KEY}"
    )
    assert [link.token for link in find_join_links(text)] == ["ok"]


def test_text_without_links_gives_nothing():
    assert find_join_links("") == []
    assert find_join_links("public_key=" + KEY) == []
    assert find_join_links("https://open.getsession.org/session") == []


# -- source pages --------------------------------------------------------------------------------


def test_html_links_in_hrefs_and_text_are_found_once():
    body = (
        f'<p><a href="{OFFICIAL}">{OFFICIAL}</a></p>'
        f"<p>http://h.example/<b>room</b>?public_key={OTHER_KEY}</p>"
    )
    entries = extract_from_html(body)
    assert [entry.link.token for entry in entries] == ["session", "room"]
    assert all(entry.tags == () and entry.nsfw is None for entry in entries)


def test_markdown_hashtag_line_gives_the_tags_of_the_link_above():
    body = "\n".join(
        [
            "- [X] ADL Book",
            "> Book club",
            "```",
            f"http://adl.army/books?public_key={KEY}",
            "```",
            "hashtag `#session`,`#Books`,`#`,`#Reading Club`,`chat`",
            "*****",
            f"http://adl.army/untagged?public_key={KEY}",
            "*****",
            "hashtag `#not-for-the-link-above`",
        ]
    )
    entries = extract_from_markdown(body)
    assert [(entry.link.token, entry.tags) for entry in entries] == [
        ("books", ("session", "books", "reading club", "chat")),
        ("untagged", ()),
    ]


def test_markdown_link_listed_twice_unites_its_tags():
    body = (
        f"http://h.example/im?public_key={KEY}\nhashtag `#session`,`#im`\n***\n"
        f"http://h.example/IM?public_key={KEY}\nhashtags: #privacy, #im\n"
    )
    (entry,) = extract_from_markdown(body)
    assert entry.tags == ("session", "im", "privacy")


def test_json_feed_entries_give_tags_and_nsfw():
    body = json.dumps(
        [
            {"url": OFFICIAL, "tags": "Session, Help,,lang:en", "nsfw": "0"},
            {"url": f"http://h.example/adult?public_key={KEY}", "tags": "x", "nsfw": "1"},
        ]
    )
    assert extract_from_json_feed(body) == [
        SourceEntry(parse_join_link(OFFICIAL), ("session", "help", "lang:en"), False),
        SourceEntry(parse_join_link(f"http://h.example/adult?public_key={KEY}"), ("x",), True),
    ]


def test_json_feed_bad_entries_are_skipped():
    body = json.dumps(
        [
            "not an object",
            None,
            {"tags": "no url"},
            {"url": 42},
            {"url": "<i>Listing disabled by administrator</i>", "tags": "chat"},
            {"url": OFFICIAL, "tags": 7, "nsfw": "maybe"},
            {"url": OFFICIAL.replace("session", "b"), "tags": ["a", 3, None, "#B"], "nsfw": 1},
        ]
    )
    entries = extract_from_json_feed(body)
    assert [(entry.link.token, entry.tags, entry.nsfw) for entry in entries] == [
        ("session", (), None),
        ("b", ("a", "b"), True),
    ]


@pytest.mark.parametrize(
    "body", ["", "not json", "{}", '{"url": 1}', "[" * 100_000, b"\xff\xfe\x00garbage", "null"]
)
def test_broken_json_feed_gives_no_entries(body):
    assert extract_from_json_feed(body) == []


def test_json_feed_duplicates_are_merged():
    body = json.dumps(
        [
            {"url": OFFICIAL, "tags": "a", "nsfw": "0"},
            {"url": OFFICIAL.replace("/session", "/SESSION"), "tags": "b,a", "nsfw": "1"},
        ]
    )
    (entry,) = extract_from_json_feed(body)
    assert (entry.link.token, entry.tags, entry.nsfw) == ("session", ("a", "b"), True)


def test_json_feed_mojibake_tags_are_repaired():
    tags = "Ukraine,Ð£ÐºÑ€Ð°Ð¸Ð½Ð°,espa&ntilde;ol"  # noqa: RUF001 (as found in the real feed)
    body = json.dumps([{"url": OFFICIAL, "tags": tags}])
    assert extract_from_json_feed(body)[0].tags == ("ukraine", "украина", "español")


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        ('[{"url": "x"}]', None, "json"),
        ('  {"a": 1}', "text/plain", "json"),
        ("<!DOCTYPE html><html><body></body></html>", None, "html"),
        ("<html><body>[not json</body></html>", "application/json", "html"),
        ("<p>fragment</p>", "text/html; charset=utf-8", "html"),
        ("# List\n\n- [X] Room\n<div>x</div>", "text/plain", "markdown"),
        ("[broken json", "application/json", "json"),
        ("[broken json", None, "markdown"),
        (b"\xef\xbb\xbf[]", None, "json"),
    ],
)
def test_source_kind_is_sniffed_from_the_body(body, content_type, kind):
    assert detect_source_kind(body, content_type) == kind


def test_extract_dispatches_on_kind():
    body = f"<p>{OFFICIAL}</p>"
    assert extract(body, "html") == extract_from_html(body)
    with pytest.raises(ValueError, match="unknown source kind"):
        extract(body, "rss")  # type: ignore[arg-type]


def test_bytes_bodies_are_decoded_defensively():
    body = b"\xef\xbb\xbf<p>\xff\xfe broken " + OFFICIAL.encode() + b" \x80</p>"
    assert [entry.link.url for entry in extract_from_html(body)] == [OFFICIAL]
    utf16 = ("\ufeff" + OFFICIAL).encode("utf-16")
    assert [entry.link.url for entry in extract_from_markdown(utf16)] == [OFFICIAL]


# -- the real sources and crawl ------------------------------------------------------------------

# A deliberately simple reading of the join-link grammar (the one sc.info uses: any host without
# "/", a bare "/token", "?public_key=" and 64 hex digits), run over the text with HTML entities
# and JSON's "\/" undone. It cannot see links glued onto a truncated copy of themselves.
_SIMPLE_LINK = re.compile(
    r"(https?)://([^/\s\"'<>]+)/([A-Za-z0-9_-]+)\?public_key=([0-9a-fA-F]{64})", re.IGNORECASE
)


def _simple_identities(text: str) -> set[tuple[str, ...]]:
    text = html.unescape(text).replace("\\/", "/")
    return {tuple(part.lower() for part in found) for found in _SIMPLE_LINK.findall(text)}


def _identities(entries: list[SourceEntry]) -> set[tuple[str, ...]]:
    return {
        (
            e.link.scheme,
            e.link.host + (f":{e.link.port}" if e.link.port else ""),
            e.link.token_key,
            e.link.pubkey,
        )
        for e in entries
    }


def _source(name: str) -> bytes:
    return (SOURCES / name).read_bytes()


# Counts checked by hand: `grep -c public_key=` lists the occurrences; ASGL repeats
# sog.caliban.org/im, EURO repeats landedin.euroexit.net/porn, SIMP shows every link in its href
# and its text, and SDIR-JSON has one exact duplicate, one token differing only in case and one
# "<i>Listing disabled by administrator</i>" url. ASGL's Australia and Bipolar lines (718, 878)
# carry a truncated copy of the link before the full one; SDIR-JSON confirms their keys.
@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("ASGL", "markdown", 120),
        ("EURO", "html", 16),
        ("NSFW", "html", 5),
        ("SIMP", "html", 8),
        ("SDIR-JSON", "json", 56),
    ],
)
def test_real_sources_give_every_distinct_link(name, kind, expected):
    body = _source(name)
    assert detect_source_kind(body) == kind
    entries = extract(body, kind)
    assert len(entries) == expected
    found = _identities(entries)
    simple = _simple_identities(body.decode("utf-8"))
    glued = {
        (
            "http",
            "20.168.47.58",
            token,
            "52bca7cca122eeea612c7f75ca4c39660725929a5061f35947154a9362fdd540",
        )
        for token in ("australia", "bipolar")
    }
    assert found == (simple | glued if name == "ASGL" else simple)


def test_real_markdown_source_tags_every_link():
    entries = extract_from_markdown(_source("ASGL"))
    assert all(entry.tags and entry.tags[0] == "session" for entry in entries)
    books = next(entry for entry in entries if entry.link.token == "books")
    assert books.tags == ("session", "adl", "books", "reading")


def test_real_json_feed_tags_and_flags():
    entries = {entry.link.url: entry for entry in extract_from_json_feed(_source("SDIR-JSON"))}
    assert all(entry.nsfw is False for entry in entries.values())  # the feed says "0" everywhere
    espanol = entries[f"http://sog.caliban.org/espanol?public_key={OTHER_KEY}"]
    assert espanol.tags == ("español", "latino", "españa")


def test_every_room_in_the_real_crawl_has_a_valid_join_link():
    servers = json.loads((SNAPSHOT / "servers.json").read_text(encoding="utf-8"))
    rooms = 0
    for server in servers:
        assert format_base_url(*parse_server_url(server["base_url"])) == server["base_url"]
        for room in server["rooms"]:
            link = parse_join_link(
                f"{server['base_url']}/{room['token']}?public_key={server['pubkey']}"
            )
            assert (link.base_url, link.token, link.pubkey) == (
                server["base_url"],
                room["token"],
                server["pubkey"],
            )
            rooms += 1
    assert rooms == 97


# -- properties ------------------------------------------------------------------------------------

_dns_hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(
        st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
        min_size=1,
        max_size=3,
    ),
    st.from_regex(r"[a-z][a-z0-9]{1,10}", fullmatch=True),
)
_hosts = st.one_of(_dns_hosts, st.ip_addresses(v=4).map(str))
_tokens = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
_keys = st.binary(min_size=32, max_size=32).map(bytes.hex)


@st.composite
def join_links(draw: st.DrawFn) -> JoinLink:
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(st.none() | st.integers(1, 65535))
    port = None if port == {"http": 80, "https": 443}[scheme] else port
    return JoinLink(scheme, draw(_hosts), port, draw(_tokens), draw(_keys))


@given(join_links())
def test_canonical_url_round_trips(link):
    assert parse_join_link(link.url) == link


@given(join_links(), st.booleans(), st.booleans(), st.booleans())
def test_messy_spellings_parse_to_the_same_link(link, preview, slash, shout):
    port = link.port or {"http": 80, "https": 443}[link.scheme]
    path = ("/r/" if preview else "/") + link.token + ("/" if slash else "")
    text = f"{link.scheme}://{link.host}:{port}{path}?public_key={link.pubkey}"
    if shout:
        text = text.replace(link.scheme, link.scheme.upper(), 1).replace(
            link.pubkey, link.pubkey.upper()
        )
    assert parse_join_link(text) == link


@given(st.text(), join_links(), st.text())
def test_a_link_between_arbitrary_text_is_found(before, link, after):
    found = find_join_links(f"{before} {link.url} {after}")
    assert link.identity in {other.identity for other in found}


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list("/?&=%:.#[]\\\"'<>"))))
def test_finding_links_never_raises(text):
    for link in find_join_links(text + f" {OFFICIAL}" + text):
        assert parse_join_link(link.url) == link


@given(st.binary(max_size=2000), st.sampled_from([b"", b"<p>public_key=", b'[{"url": "']))
def test_extractors_never_raise_on_arbitrary_bytes(body, prefix):
    for kind in ("html", "json", "markdown"):
        for entry in extract(prefix + body, kind):
            assert parse_join_link(entry.link.url) == entry.link
    assert detect_source_kind(prefix + body) in ("html", "json", "markdown")
