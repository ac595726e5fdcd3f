"""Cursor pagination of the API's lists, newest first: `limit` is checked like every other
parameter, and a cursor is taken only in the shape the API writes it (a 400 otherwise)."""

from base64 import b64decode
from datetime import datetime
from urllib.parse import parse_qs

from rest_framework.pagination import Cursor, CursorPagination

from monitor.api import params

BAD_CURSOR = "not a cursor this API gave; follow `next` or `previous` as it is"


class NewestFirst(CursorPagination):
    """Newest first by a time field then id; subclasses may order by another time field."""

    ordering = ("-ts", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request):
        # DRF falls back to the default on a bad `limit` (0, -5, abc); say so instead.
        size = params.int_param(request, self.page_size_query_param, 1, self.max_page_size)
        return self.page_size if size is None else size

    def decode_cursor(self, request) -> Cursor | None:
        # DRF's own decoding takes any base64 (a cursor of no keys reads as the first page) and
        # hands the position to the query unread: a position that is not a time was a 500.
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse_qs(text, keep_blank_values=True, strict_parsing=True)
        except ValueError:  # binascii.Error and UnicodeError are ValueErrors
            raise params.bad("cursor", BAD_CURSOR) from None
        if not tokens or set(tokens) - {"o", "r", "p"} or any(len(v) > 1 for v in tokens.values()):
            raise params.bad("cursor", BAD_CURSOR)
        offset = tokens.get("o", ["0"])[0]
        reverse = tokens.get("r", ["0"])[0]
        position = tokens.get("p", [None])[0]
        if not offset.isdigit() or reverse not in ("0", "1"):
            raise params.bad("cursor", BAD_CURSOR)
        if position is not None:
            # The position is the first ordering field of the row the page starts at: a time.
            try:
                when = datetime.fromisoformat(position)
            except ValueError:
                raise params.bad("cursor", BAD_CURSOR) from None
            if when.tzinfo is None:
                raise params.bad("cursor", BAD_CURSOR)
        offset = min(int(offset), self.offset_cutoff)
        return Cursor(offset=offset, reverse=reverse == "1", position=position)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for p in parameters:
            if p["name"] == self.page_size_query_param:
                p["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                p["description"] = f"Rows per page, 1-{self.max_page_size}; default 50."
        return parameters
