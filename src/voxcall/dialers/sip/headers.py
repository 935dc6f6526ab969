"""SIP header fields (RFC 3261 §7.3): names in full and conventional spelling, and the
ordered, multi-valued, case-insensitive collection a message carries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from voxcall.dialers.sip.syntax import split_outside

# RFC 3261 §7.3.3 compact forms, plus those of the event/refer extensions.
_COMPACT_FORMS = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "u": "Allow-Events",
}

# Spelling used when we write a header whose name arrived in another case ("cseq", "TO").
_CANONICAL_NAMES = {
    name.lower(): name
    for name in (
        *_COMPACT_FORMS.values(),
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authentication-Info",
        "Authorization",
        "CSeq",
        "Call-Info",
        "Content-Disposition",
        "Content-Language",
        "Date",
        "Error-Info",
        "Expires",
        "In-Reply-To",
        "MIME-Version",
        "Max-Forwards",
        "Min-Expires",
        "Min-SE",
        "Organization",
        "P-Asserted-Identity",
        "Priority",
        "Privacy",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "RSeq",
        "Reason",
        "Record-Route",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Session-Expires",
        "Timestamp",
        "Unsupported",
        "User-Agent",
        "WWW-Authenticate",
        "Warning",
    )
}

# Headers whose comma-separated values are separate elements (RFC 3261 §7.3.1).
_LIST_HEADERS = frozenset(
    {"via", "route", "record-route", "contact", "allow", "supported", "require", "proxy-require"}
)


def canonical_header_name(name: str) -> str:
    """Full, conventionally spelled header name: "v" -> "Via", "cseq" -> "CSeq"."""
    lower = name.lower()
    full = _COMPACT_FORMS.get(lower)
    if full is not None:
        return full
    return _CANONICAL_NAMES.get(lower, name)


class Headers:
    """Ordered, multi-valued, case-insensitive SIP headers.

    Names are stored in full form (compact "v" becomes "Via") and conventional spelling for
    known headers; each stored entry is one header line. Iteration yields (name, value) in
    arrival order, which is also the order they are serialised in.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            self.add(name, value)

    def get(self, name: str) -> str | None:
        """The first value (for list headers, the first element), or None if absent."""
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """All values in order; list headers (Via, Route, Contact...) are split on commas."""
        key = canonical_header_name(name).lower()
        lines = [value for item_name, value in self._items if item_name.lower() == key]
        if key not in _LIST_HEADERS:
            return lines
        values: list[str] = []
        for line in lines:
            values.extend(part.strip(" \t") for part in split_outside(line, ","))
        return [value for value in values if value]

    def add(self, name: str, value: str) -> None:
        """Append one header line."""
        self._items.append((canonical_header_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace all lines of `name` by one, at the position of the first (or at the end)."""
        canonical = canonical_header_name(name)
        key = canonical.lower()
        new_items: list[tuple[str, str]] = []
        placed = False
        for item in self._items:
            if item[0].lower() != key:
                new_items.append(item)
            elif not placed:
                new_items.append((canonical, value))
                placed = True
        if not placed:
            new_items.append((canonical, value))
        self._items = new_items

    def remove(self, name: str) -> None:
        """Remove every line of `name` (no error if there is none)."""
        key = canonical_header_name(name).lower()
        self._items = [item for item in self._items if item[0].lower() != key]

    def count(self, name: str) -> int:
        """How many header lines of `name` there are (not split on commas)."""
        key = canonical_header_name(name).lower()
        return sum(1 for item_name, _ in self._items if item_name.lower() == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical_header_name(name).lower()
        return any(item_name.lower() == key for item_name, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def copy(self) -> Headers:
        clone = Headers()
        clone._items = list(self._items)
        return clone
