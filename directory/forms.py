"""Forms of the public site: submitting a community and reporting one."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from directory.lib.http import is_public_host, literal_address
from directory.lib.joinlinks import InvalidJoinLink, JoinLink, parse_join_link
from directory.lib.languages import normalise_language
from directory.lib.roomtext import clean_text, normalise_tag
from directory.models import Report

MAX_TAGS = 8


def refuse_inward_host(host: str) -> None:
    """Refuse hosts that name this machine or a private network, by the crawler's own rule
    (`is_public_host`), with a message that says which of the two it is.

    Only literals and local names are decided here; a DNS name that resolves inward is refused
    at connect time by the crawler's guarded client.
    """
    if is_public_host(host):
        return
    if literal_address(host) is None:
        raise forms.ValidationError(_("Links to this machine or a local network are not accepted."))
    raise forms.ValidationError(
        _(
            "%(host)s is a private, loopback or reserved address; a listed community must be "
            "reachable from the internet."
        )
        % {"host": host}
    )


class FreeText(forms.CharField):
    """An optional note of a visitor's to the moderators: a few lines of plain text, cleaned
    as the crawler cleans remote text (no bidi overrides or invisible characters)."""

    MAX_LENGTH = 2000

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(max_length=self.MAX_LENGTH, required=False, **kwargs)

    def clean(self, value: str) -> str:
        return clean_text(super().clean(value), self.MAX_LENGTH, multiline=True)


class SubmissionForm(forms.Form):
    join_url = forms.CharField(
        label=gettext_lazy("Join link"),
        max_length=1000,
        help_text=gettext_lazy("e.g. https://example.org/room?public_key=… (64 hex digits)"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    tags = forms.CharField(
        label=gettext_lazy("Tags (optional)"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Separated by commas or spaces, e.g. music, chat"),
    )
    language = forms.CharField(
        label=gettext_lazy("Language (optional)"),
        max_length=12,
        required=False,
        help_text=gettext_lazy("An ISO 639 code such as en, de, zh; mul for many"),
    )
    note = FreeText(label=gettext_lazy("Note for the moderators (optional)"))

    def clean_join_url(self) -> str:
        try:
            link = parse_join_link(self.cleaned_data["join_url"])
        except InvalidJoinLink as error:
            # The parser's reason stays English: it names the part of the link that is wrong.
            raise forms.ValidationError(
                _("This is not a valid join link: %(reason)s.") % {"reason": error}
            ) from None
        refuse_inward_host(link.host)
        self.link: JoinLink = link
        return link.url

    def clean_tags(self) -> str:
        raw = self.cleaned_data["tags"].replace(",", " ").split()
        tags = [tag for tag in (normalise_tag(word) for word in raw) if tag]
        return " ".join(dict.fromkeys(tags[:MAX_TAGS]))

    def clean_language(self) -> str:
        code = self.cleaned_data["language"].strip()
        if not code:
            return ""
        language = normalise_language(code)
        if not language:
            raise forms.ValidationError(
                _("%(code)s is not a language code we know (e.g. en, de).") % {"code": repr(code)}
            )
        return language


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What is wrong?"), choices=Report.Kind.choices)
    message = FreeText(label=gettext_lazy("Details (optional)"))
