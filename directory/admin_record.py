"""The admin's side of the public record: the public-reason inputs of the actions and change
forms that hide, un-hide, re-rate or take rooms out of a listing, and the record's own list.

The reason is stored by directory/changes.py with the history row of the change.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from directory import changes
from directory.models import PublicChange

REASON_HELP = (
    "Hiding or un-hiding, a new age rating and taking rooms out of a listing are shown on the "
    "public record (/changes/) with this reason; your name and the private note are not."
)
REASON_FIELDS = ["public_reason", "public_reason_text", "private_note"]
REASON_FIELDSET = ("Public reason", {"fields": REASON_FIELDS, "description": REASON_HELP})
MISSING = "Choose a public reason first: it is shown on the public record (/changes/)."


class PublicReasonFields(forms.Form):
    """The reason inputs, shared by the action bar and the change forms."""

    public_reason = forms.ChoiceField(
        choices=[("", "public reason…"), *PublicChange.Reason.choices], required=False
    )
    public_reason_text = forms.CharField(
        max_length=changes.REASON_TEXT_MAX,
        required=False,
        label="Public text",
        widget=forms.TextInput(attrs={"placeholder": "public text (optional)"}),
    )
    private_note = forms.CharField(
        required=False,
        label="Private note",
        widget=forms.TextInput(attrs={"placeholder": "private note (moderators only)"}),
    )


def reason_from(data: dict) -> changes.PublicReason | None:
    """The reason in submitted form data, None when none was chosen; ValidationError when the
    text does not fit the choice."""
    code = (data.get("public_reason") or "").strip()
    if not code:
        return None
    return changes.PublicReason(
        code,
        (data.get("public_reason_text") or "").strip(),
        (data.get("private_note") or "").strip(),
    )


class ReasonActionForm(ActionForm, PublicReasonFields):
    """The action bar with a public reason beside the menu (for hide, unhide, set rating)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in REASON_FIELDS:  # after the menu and the inputs of subclasses
            self.fields[name] = self.fields.pop(name)


def chosen_reason(model_admin: admin.ModelAdmin, request: HttpRequest):
    """The reason chosen beside the action menu, or None after telling the moderator."""
    try:
        reason = reason_from(request.POST)
    except ValidationError as error:
        model_admin.message_user(request, " ".join(error.messages), messages.ERROR)
        return None
    if reason is None:
        model_admin.message_user(request, MISSING, messages.ERROR)
    return reason


class ReasonForm(forms.ModelForm, PublicReasonFields):
    """A change form that asks for a public reason when a public field changes (also when
    reverting to an older version from the history)."""

    # Set by clean(); not named like the fields (a None attribute would remove a field).
    reason_given: changes.PublicReason | None = None
    public_changed: tuple[str, ...] = ()

    def _public_changes(self) -> tuple[str, ...]:
        """The public fields whose new value differs from the stored one. Compared with the
        database, not with the form's initial values: a revert's form starts from the old
        version, so hiding by reverting would not look like a change."""
        fields = changes.PUBLIC_FIELDS.get(self._meta.model, ())
        stored = None
        if fields and self.instance.pk is not None:
            stored = self._meta.model.objects.filter(pk=self.instance.pk).values(*fields).first()
        if stored is None:
            return ()
        data = self.cleaned_data
        return tuple(field for field in fields if field in data and data[field] != stored[field])

    def clean(self) -> dict:
        data = super().clean()
        self.public_changed = self._public_changes()
        try:
            self.reason_given = reason_from(data)
        except ValidationError as error:
            self.add_error("public_reason_text", error)
            return data
        if self.reason_given is None and self.needs_reason():
            self.add_error("public_reason", MISSING)
        return data

    def needs_reason(self) -> bool:
        return bool(self.public_changed)


class ListingReasonForm(ReasonForm):
    """A listing's form: taking rooms out of its chosen rooms needs a public reason."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.rooms_before = set(instance.rooms.all()) if instance.pk else set()

    def room_changes(self) -> tuple[set, set]:
        """(added, removed) chosen rooms."""
        after = set(self.cleaned_data.get("rooms") or [])
        return after - self.rooms_before, self.rooms_before - after

    def needs_reason(self) -> bool:
        return "rooms" in self.changed_data and bool(self.room_changes()[1])


@admin.register(PublicChange)
class PublicChangeAdmin(admin.ModelAdmin):
    """The public record with who made each change: read-only, for moderators and operators."""

    list_display = ["at", "action", "__str__", "reason", "reason_text", "moderator"]
    list_filter = ["action", "reason", ("moderator", admin.RelatedOnlyFieldListFilter), "at"]
    search_fields = ["room_token", "name", "server_url", "server_pubkey", "reason_text"]
    date_hierarchy = "at"
    list_select_related = ["moderator"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record is kept whole


class _PublicHistory:
    """Each object's history page lists its entries of the public record too, with who made
    them and the private note."""

    object_history_template = "admin/directory/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        extra = dict(extra_context or {})
        if str(object_id).isdigit():
            subject = self.public_record_of(int(object_id))
            extra["public_changes"] = PublicChange.objects.filter(**subject).select_related(
                "moderator"
            )
        return super().history_view(request, object_id, extra)

    def public_record_of(self, pk: int) -> dict:
        name = self.model._meta.model_name
        return {"server_id": pk, "room_token": ""} if name == "server" else {f"{name}_id": pk}


class PublicReasonMixin(_PublicHistory):
    """For a ModelAdmin: the change form asks for a public reason, and the save records it."""

    form = ReasonForm

    def save_model(self, request, obj, form, change) -> None:
        changes.save_with_reason(obj, form.public_changed, form.reason_given)


class ListingReasonMixin(_PublicHistory):
    """For the listings' ModelAdmin: rooms added to or taken out of a listing's chosen rooms
    are recorded, with the reason (needed for taking out)."""

    form = ListingReasonForm

    def save_model(self, request, obj, form, change) -> None:
        if form.reason_given is not None:
            obj._change_reason = form.reason_given.summary
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        added, removed = form.room_changes()
        if added or removed:
            changes.record_listing(form.instance, added, removed, form.reason_given)
