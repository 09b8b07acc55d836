"""Session Community join links: strict parsing, finding them in text, and reading source pages.

A join link is ``scheme://host[:port]/token?public_key=<64 hex>``, as Session Desktop's
`openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`) and
libsession's `parse_full_url` (`src/config/community.cpp`) read it. Parsing accepts what either
client accepts (libsession's base64 and base32z keys, its ``/r/<token>`` form) and refuses what
both refuse (IPv6 hosts, hosts without a dot); every result is canonical: lower-case scheme and
host, no default port, 64 lower-case hex digits for the key. In text, a link without a scheme
(``host/token?public_key=<64 hex>``) is read as ``http://`` as Desktop's `prefixify` and
Android's `OpenGroupUrlParser.parseUrl` do.
"""

from __future__ import annotations

import base64
import html
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from bs4 import BeautifulSoup

from directory.lib.roomtext import normalise_tag, repair_mojibake

# libsession refuses full URLs over 267 characters; allow a little slack for hand-written links.
MAX_URL_LENGTH = 300
# Raw input may carry junk after the key, but a join link is never kilobytes long.
MAX_INPUT_LENGTH = 1000
MAX_HOST_LENGTH = 253
DEFAULT_PORTS = {"http": 80, "https": 443}

SourceKind = Literal["html", "json", "markdown"]

IPV6_REFUSED = (
    "IPv6 hosts: Session clients cannot join them (Session Desktop and libsession accept only "
    "host names and IPv4 addresses)"
)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HEX_KEY = re.compile(r"[0-9a-f]{64}(?![0-9a-f])", re.IGNORECASE)
_BASE64_KEY = re.compile(r"[A-Za-z0-9+/_-]{43}=?(?![A-Za-z0-9+/=_-])")
_BASE32Z_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"
_BASE32Z_KEY = re.compile(rf"[{_BASE32Z_ALPHABET}]{{52}}(?![A-Za-z0-9])", re.IGNORECASE)
# Splits what follows "scheme://"; the query may start with "&" (a common typo for "?").
_AFTER_SCHEME = re.compile(
    r"(?P<authority>[^/?&#]*)(?P<path>[^?&]*)(?:[?&](?P<query>.*))?", re.DOTALL
)
_JSON_ESCAPE = re.compile(r"\\u00([0-9a-fA-F]{2})")

# Finding links in text. The authority is loose here and validated afterwards. One quirk of real
# lists is handled: a truncated copy of the link glued in front of the full one
# (".../Bipolar?public_key=52bca7/Bipolar?public_key=<64 hex>"); the two tokens must agree.
# The key is read in a lookahead so that a link glued onto the key ("<hex>http://...") is still
# there for the next match.
_AUTHORITY = r"(?P<authority>[^\s/?#&\"'<>\\`]{1,300})"
_QUERY_PARAM = r"[A-Za-z0-9_.~%+-]{1,64}=[A-Za-z0-9_.~%+-]{0,256}&"
_LINK_IN_TEXT = re.compile(
    rf"(?P<scheme>https?)://{_AUTHORITY}"
    r"(?:/(?P<glued>[A-Za-z0-9_-]{1,64})\?public_key=[0-9a-f]{1,63}(?=/))?"
    r"/(?:r/)?(?P<token>[A-Za-z0-9_-]{1,64})/?"
    rf"(?:\?(?:{_QUERY_PARAM}){{0,8}}|&)public_key=(?=(?P<key>[A-Za-z0-9+/=_-]{{43,80}}))",
    re.IGNORECASE,
)
# A link without a scheme, as Desktop's pattern allows it (a dotted host, an optional port, the
# token, then directly "?public_key=" and 64 hex digits): clients prefix "http://". It must not
# continue a URL or a word, so a path or query that merely contains one is not read as a link.
_BARE_LINK_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9_.~:/@%+=&?#\\-])"
    r"(?P<authority>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::[1-9][0-9]{0,4})?)"
    r"/(?P<token>[A-Za-z0-9_-]{1,64})\?public_key=(?P<key>[0-9a-fA-F]{64})(?![0-9a-fA-F])"
)
_HASHTAG_LINE = re.compile(r"^\s*(?:hash)?tags?\b\s*:?(?P<tags>.*#.*)$", re.IGNORECASE)
_ENTRY_BOUNDARY = re.compile(r"^\s*(?:\*{3,}|-{3,}|#{1,6}\s)")
_HTML_MARKERS = ("<!doctype html", "<html", "<head", "<body")


class InvalidJoinLink(ValueError):
    """The text is not a usable join link; the message says what is wrong with it."""


class InvalidServerUrl(ValueError):
    """The text is not a usable server base URL; the message says what is wrong with it."""


def format_base_url(scheme: str, host: str, port: int | None) -> str:
    """The canonical ``scheme://host[:port]`` of an address from parse_server_url."""
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


@dataclass(frozen=True)
class JoinLink:
    """A canonical join link. Identity is (base_url, token_key, pubkey), not the display case."""

    scheme: str
    host: str
    port: int | None  # None when it is the scheme's default
    token: str  # as the server spells it, for display
    pubkey: str  # 64 lower-case hex digits: the server's X25519 key

    @property
    def base_url(self) -> str:
        return format_base_url(self.scheme, self.host, self.port)

    @property
    def token_key(self) -> str:
        """Tokens match case-insensitively on servers; this is the form to compare and store."""
        return self.token.lower()

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.token}?public_key={self.pubkey}"

    @property
    def address(self) -> tuple[str, str, int | None]:
        return (self.scheme, self.host, self.port)

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.base_url, self.token_key, self.pubkey)


@dataclass(frozen=True)
class SourceEntry:
    """A join link found on a source page, with the tags and NSFW flag the source gave it.

    Tags are normalised but not filtered: reserved words and ``lang:`` tags are the caller's
    to interpret (nsfw_signal and language_from_hashtags read them).
    """

    link: JoinLink
    tags: tuple[str, ...] = ()
    nsfw: bool | None = None


# -- hosts, ports, keys ------------------------------------------------------------------------


def _normalise_ipv4_host(host: str, error: type[ValueError]) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        raise error(f"invalid IP address {host!r}") from None


def _normalise_dns_host(host: str, error: type[ValueError]) -> str:
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise error(f"invalid internationalised host name {host!r}") from None
    host = host.lower().removesuffix(".")
    labels = host.split(".")
    if len(host) > MAX_HOST_LENGTH or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise error(f"invalid host name {host!r}")
    if labels[-1].isdigit():
        raise error(f"invalid host name {host!r}: numeric top-level domain")
    if len(labels) < 2:
        # As in both Session clients: a bare "localhost" is never a public server.
        raise error(f"host name {host!r} has no domain (a dot is required)")
    return host


def _normalise_host(host: str, error: type[ValueError]) -> str:
    if not host:
        raise error("missing host name")
    if host.startswith("[") or ":" in host:
        # Desktop's hostname pattern and libsession's parse_url (host characters are letters,
        # digits, '-' and '.') both refuse an IPv6 literal: no client could join the room.
        raise error(IPV6_REFUSED)
    if re.fullmatch(r"[0-9.]+", host):
        return _normalise_ipv4_host(host, error)
    return _normalise_dns_host(host, error)


def _split_port(authority: str, error: type[ValueError]) -> tuple[str, int | None]:
    host, colon, port_text = authority.rpartition(":")
    if not colon or (":" in host and not host.endswith("]")):
        return authority, None  # no port, or an IPv6 address (refused as a host later)
    if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 0 < int(port_text) < 65536:
        raise error(f"invalid port {port_text!r}")
    return host, int(port_text)


def _parse_authority(
    scheme: str, authority: str, error: type[ValueError]
) -> tuple[str, str, int | None]:
    if "@" in authority:
        raise error("user info (user@host) is not allowed")
    host, port = _split_port(authority, error)
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return scheme, _normalise_host(host, error), port


def _decode_base32z(text: str) -> bytes:
    value = 0
    for char in text.lower():
        value = value * 32 + _BASE32Z_ALPHABET.index(char)
    # 52 characters carry 260 bits: 256 of key and 4 of padding at the end.
    return (value >> 4).to_bytes(32, "big")


def _decode_pubkey(text: str) -> str:
    """64 lower-case hex digits from the start of ``text``; anything after the key is ignored."""
    if match := _HEX_KEY.match(text):
        return match.group().lower()
    if match := _BASE64_KEY.match(text):
        key = match.group().rstrip("=").translate(str.maketrans("-_", "+/"))
        return base64.b64decode(key + "=", validate=True).hex()
    if match := _BASE32Z_KEY.match(text):
        return _decode_base32z(match.group()).hex()
    if re.match(r"[0-9a-f]{65}", text, re.IGNORECASE):
        raise InvalidJoinLink("public_key has more than 64 hex digits")
    raise InvalidJoinLink(
        "public_key must be 64 hex digits (or a 43-44 character base64 or 52 character "
        f"base32z key), got {text[:80]!r}"
    )


# -- parsing one link ----------------------------------------------------------------------------


def _unescape(text: str) -> str:
    """Undo the escaping links pick up in pages: HTML entities, JSON's \\/ and \\u00XX, %XX."""
    text = html.unescape(text).replace("\\/", "/")
    text = _JSON_ESCAPE.sub(lambda match: chr(int(match[1], 16)), text)
    return unquote(text, errors="replace")


def _split_scheme(text: str, error: type[ValueError]) -> tuple[str, str]:
    match = _SCHEME.match(text)
    if match is None:
        raise error("missing http:// or https:// at the start")
    scheme = match[1].lower()
    if scheme not in DEFAULT_PORTS:
        raise error(f"unsupported scheme {scheme!r}: only http and https")
    return scheme, text[match.end() :]


def _parse_room_path(path: str) -> str:
    """The token from "/token", "/r/token" or either with a trailing slash."""
    segments = path.removesuffix("/").split("/")
    if segments[:2] == ["", "r"] and len(segments) == 3:
        segments = ["", segments[2]]
    if len(segments) != 2 or not segments[1]:
        raise InvalidJoinLink(f"expected /<room token> after the host, got {path!r}")
    if not _TOKEN.fullmatch(segments[1]):
        raise InvalidJoinLink(
            f"invalid room token {segments[1]!r}: 1-64 letters, digits, '_' or '-'"
        )
    return segments[1]


def _find_pubkey_text(query: str) -> str:
    for param in query.split("&"):
        name, equals, value = param.partition("=")
        if equals and name.lower() == "public_key":
            return value
    raise InvalidJoinLink("missing ?public_key=... after the room token")


def _parse_prepared(text: str) -> JoinLink:
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidJoinLink(f"longer than {MAX_INPUT_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise InvalidJoinLink("contains spaces or control characters")
    scheme, rest = _split_scheme(text, InvalidJoinLink)
    parts = _AFTER_SCHEME.fullmatch(rest)
    address = _parse_authority(scheme, parts["authority"], InvalidJoinLink)
    token = _parse_room_path(parts["path"])
    pubkey = _decode_pubkey(_find_pubkey_text(parts["query"] or ""))
    link = JoinLink(*address, token=token, pubkey=pubkey)
    if len(link.url) > MAX_URL_LENGTH:
        raise InvalidJoinLink(f"join URL is longer than {MAX_URL_LENGTH} characters")
    return link


def parse_join_link(text: str) -> JoinLink:
    """Parse one join link strictly, or raise InvalidJoinLink saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidJoinLink(f"expected text, got {type(text).__name__}")
    if len(text) > 4 * MAX_INPUT_LENGTH:
        raise InvalidJoinLink(f"longer than {MAX_INPUT_LENGTH} characters")
    return _parse_prepared(_unescape(text.strip()).strip())


def parse_server_url(text: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a server base URL such as ``http://1.2.3.4:8888/``.

    Normalised like join links: lower-case, default port as None. Raises InvalidServerUrl.
    """
    if not isinstance(text, str) or len(text) > MAX_URL_LENGTH:
        raise InvalidServerUrl(f"expected a server URL of at most {MAX_URL_LENGTH} characters")
    text = text.strip()
    if any(char.isspace() or not char.isprintable() for char in text):
        raise InvalidServerUrl("contains spaces or control characters")
    scheme, rest = _split_scheme(text, InvalidServerUrl)
    authority, _, path = rest.partition("/")
    if path or any(char in authority for char in "?#&"):
        raise InvalidServerUrl("a server URL has no path, query or fragment")
    return _parse_authority(scheme, authority, InvalidServerUrl)


# -- finding links in text -----------------------------------------------------------------------


def _link_from_match(match: re.Match[str]) -> JoinLink | None:
    glued = match["glued"]
    if glued is not None and glued.lower() != match["token"].lower():
        return None
    text = f"{match['scheme']}://{match['authority']}/{match['token']}?public_key={match['key']}"
    try:
        return _parse_prepared(text)
    except InvalidJoinLink:
        return None


def _unique_links(links: Iterable[JoinLink]) -> list[JoinLink]:
    unique: dict[tuple[str, str, str], JoinLink] = {}
    for link in links:
        unique.setdefault(link.identity, link)
    return list(unique.values())


def _bare_link_from_match(match: re.Match[str]) -> JoinLink | None:
    text = f"http://{match['authority']}/{match['token']}?public_key={match['key']}"
    try:
        return _parse_prepared(text)
    except InvalidJoinLink:
        return None


def find_join_links(text: str) -> list[JoinLink]:
    """Every valid join link in arbitrary text, first occurrence first, without duplicates.

    Links without a scheme count as ``http://`` links (see the module docstring).
    """
    text = _unescape(text or "")
    if "public_key" not in text.lower():
        return []
    found = [(match.start(), _link_from_match(match)) for match in _LINK_IN_TEXT.finditer(text)]
    found += [
        (match.start(), _bare_link_from_match(match)) for match in _BARE_LINK_IN_TEXT.finditer(text)
    ]
    found.sort(key=lambda item: item[0])
    return _unique_links(link for _, link in found if link is not None)


# -- source pages --------------------------------------------------------------------------------


def _decode_body(body: bytes | str) -> str:
    if isinstance(body, str):
        return body.removeprefix("\ufeff")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", errors="replace")
    return body.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")


def _merge_entries(entries: Iterable[SourceEntry]) -> list[SourceEntry]:
    """One entry per link identity: tags united in order, NSFW if any entry says so."""
    merged: dict[tuple[str, str, str], SourceEntry] = {}
    for entry in entries:
        previous = merged.get(entry.link.identity)
        if previous is None:
            merged[entry.link.identity] = entry
            continue
        tags = tuple(dict.fromkeys(previous.tags + entry.tags))
        flags = {previous.nsfw, entry.nsfw}
        nsfw = True if True in flags else (False if False in flags else None)
        merged[entry.link.identity] = SourceEntry(previous.link, tags, nsfw)
    return list(merged.values())


def _clean_tags(raw_tags: Iterable[object]) -> tuple[str, ...]:
    tags = (normalise_tag(repair_mojibake(tag)) for tag in raw_tags if isinstance(tag, str))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def extract_from_html(body: bytes | str) -> list[SourceEntry]:
    """Links in an HTML page: in attributes and markup, and in the visible text."""
    text = _decode_body(body)
    # The visible text also finds links whose parts sit in separate inline elements.
    has_markup = "<" in text and "public_key" in text.lower()
    visible = BeautifulSoup(text, "lxml").get_text("") if has_markup else ""
    links = find_join_links(text) + find_join_links(visible)
    return _merge_entries(SourceEntry(link) for link in links)


def _hashtag_line_tags(line: str) -> tuple[str, ...] | None:
    match = _HASHTAG_LINE.match(line)
    if match is None:
        return None
    items = re.findall(r"`([^`]*)`", match["tags"]) or match["tags"].split(",")
    return _clean_tags(items)


def _tags_below(lines: list[str], index: int) -> tuple[str, ...]:
    """The tags of the hashtag line that follows a link, before the next entry starts."""
    for line in lines[index + 1 : index + 6]:
        if _ENTRY_BOUNDARY.match(line) or find_join_links(line):
            break
        tags = _hashtag_line_tags(line)
        if tags is not None:
            return tags
    return ()


def extract_from_markdown(body: bytes | str) -> list[SourceEntry]:
    """Links in a Markdown list (ASGL style), each tagged by the hashtag line just below it."""
    lines = _decode_body(body).splitlines()
    entries = [
        SourceEntry(link, _tags_below(lines, index))
        for index, line in enumerate(lines)
        for link in find_join_links(line)
    ]
    return _merge_entries(entries)


def _json_flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, int | str) else ""
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(text)


def _json_entry(item: object) -> SourceEntry | None:
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        return None
    try:
        link = parse_join_link(item["url"])
    except InvalidJoinLink:
        # Without a scheme, read as http as in any source text; else e.g. "<i>Listing disabled
        # by administrator</i>".
        bare = _BARE_LINK_IN_TEXT.fullmatch(_unescape(item["url"].strip()))
        link = _bare_link_from_match(bare) if bare else None
        if link is None:
            return None
    raw_tags = item.get("tags")
    tags = raw_tags.split(",") if isinstance(raw_tags, str) else raw_tags
    return SourceEntry(
        link, _clean_tags(tags if isinstance(tags, list) else []), _json_flag(item.get("nsfw"))
    )


def _load_json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def extract_from_json_feed(body: bytes | str) -> list[SourceEntry]:
    """Entries of a session.directory style feed ``[{url, tags: "a,b", nsfw: "0"|"1"}]``.

    Malformed entries are skipped; a malformed feed gives no entries.
    """
    data = _load_json(_decode_body(body))
    items = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    return _merge_entries(entry for item in items if (entry := _json_entry(item)))


def detect_source_kind(body: bytes | str, content_type: str | None = None) -> SourceKind:
    """Guess a source's format from its body; the Content-Type only breaks ties.

    Bodies win because servers mislabel them (GitHub serves Markdown as text/plain).
    """
    text = _decode_body(body).lstrip()
    if text[:1] in ("[", "{") and _load_json(text) is not None:
        return "json"
    head = text[:4096].lower()
    content_type = (content_type or "").lower()
    if any(marker in head for marker in _HTML_MARKERS) or "html" in content_type:
        return "html"
    return "json" if "json" in content_type else "markdown"


_EXTRACTORS = {
    "html": extract_from_html,
    "json": extract_from_json_feed,
    "markdown": extract_from_markdown,
}


def extract(body: bytes | str, kind: SourceKind) -> list[SourceEntry]:
    """The entries of a source body of the given kind (see detect_source_kind)."""
    try:
        extractor = _EXTRACTORS[kind]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}") from None
    return extractor(body)
