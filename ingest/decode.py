"""Decode an ingest body: size limits, gzip without inflating bombs, JSON / array / NDJSON."""

import re
import zlib

import msgspec

JSON_TYPES = {"application/json", "application/x-ndjson", "application/jsonl", "text/plain"}
ENCODINGS = {"", "identity", "gzip", "x-gzip"}
_decoder = msgspec.json.Decoder()
_NESTED_TOO_DEEPLY = "nested too deeply"
_STRUCTURE = re.compile(rb'["\[\]{},]')
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# Scanned left to right, an escaped backslash is consumed whole, so `\\ud800` is a backslash
# and plain text; a high and low half together are a pair; group 1 is half a pair alone.
_ESCAPE = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
)
# The most records one request may hold: with the body limit, what bounds the work of a request
# (a 20 MiB body of 10 million one-byte lines would otherwise cost half a minute of CPU). Real
# shippers' batches hold a few thousand; 20 MiB of 100-byte lines is 200,000.
MAX_RECORDS = 200_000
# Concatenated gzip files are fine; a body of thousands of members is not a shipper's.
MAX_GZIP_MEMBERS = 10_000
_GZIP_PIECE = 64 * 1024


class BodyError(Exception):
    """The body as a whole is unusable; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_content_type(content_type: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise BodyError(
            415,
            f"unsupported content type {media or '(none)'!r}; "
            "send application/json, application/x-ndjson or text/plain",
        )


def check_encoding(encoding: str) -> str:
    enc = encoding.strip().lower()
    if enc not in ENCODINGS:
        raise BodyError(415, f"unsupported Content-Encoding {enc[:40]!r}; send gzip or none")
    return "gzip" if enc in ("gzip", "x-gzip") else ""


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate gzip, never producing more than `limit` bytes, in time linear in the body.

    Several members (concatenated gzip files) are allowed up to MAX_GZIP_MEMBERS: each costs a
    fresh inflater, and a body of a million tiny members would be all set-up. The input is fed
    in pieces of a view, so that what zlib copies at each member's end is one piece at most.
    """
    out = bytearray()
    view = memoryview(data)
    pos, size, members = 0, len(data), 0
    try:
        while pos < size:
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise BodyError(
                    400,
                    f"body has more than {MAX_GZIP_MEMBERS} gzip members; "
                    "compress the body as one gzip stream",
                )
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while not inflater.eof:
                if pos >= size:
                    raise BodyError(400, "body is not valid gzip: truncated stream")
                piece = view[pos : pos + _GZIP_PIECE]
                out += inflater.decompress(piece, limit + 1 - len(out))
                if len(out) > limit:
                    raise BodyError(413, f"body is over {limit} bytes after decompression")
                pos += len(piece) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
    except zlib.error as exc:
        raise BodyError(400, f"body is not valid gzip: {exc}") from None
    return bytes(out)


def _lone_surrogates_replaced(data: bytes) -> bytes | None:
    """The JSON text with each `\\uXXXX` escape of half a surrogate pair made `\\ufffd`, or
    None when it has none. Python's json.dumps writes such escapes for a string that holds half
    a pair; the decoder refuses them, which would cost the whole body."""
    if b"\\u" not in data:
        return None
    repaired = _ESCAPE.sub(lambda m: m.group() if m.group(1) is None else rb"\ufffd", data)
    return None if repaired == data else repaired


def _decode_one(data: bytes | str, decode):
    try:
        return decode(data)
    except UnicodeDecodeError:
        # Keep the records: invalid bytes in a logged string become U+FFFD.
        return decode(data.decode("utf-8", "replace"))
    except RecursionError:
        raise msgspec.DecodeError(_NESTED_TOO_DEEPLY) from None


def _decoded(data: bytes, decode):
    try:
        return _decode_one(data, decode)
    except msgspec.DecodeError:
        repaired = _lone_surrogates_replaced(data)
        if repaired is None:
            raise
    return _decode_one(repaired, decode)


def _decode_json(data: bytes):
    return _decoded(data, _decoder.decode)


def _decode_lines(data: bytes) -> list:
    return _decoded(data, _decoder.decode_lines)


class Item(msgspec.Struct):
    """One top-level item of the body: a decoded value, or the reason it did not decode."""

    value: object = None
    error: str | None = None


def too_many_records(limit: int) -> BodyError:
    return BodyError(413, f"body holds more than {limit} records; send smaller batches")


def _counted(count: int, limit: int | None) -> None:
    if limit is not None and count > limit:
        raise too_many_records(limit)


def split_items(data: bytes, max_items: int | None = MAX_RECORDS) -> list[Item]:
    """A JSON object, a JSON array of items, or NDJSON / text lines (one item per line).

    A line that is not JSON keeps its text in `value` (line formats such as nginx `combined`
    read it) and the JSON error in `error`. More than `max_items` items is a 413.
    """
    stripped = data.strip()
    if not stripped:
        raise BodyError(400, "body is empty")
    try:
        value = _decode_json(stripped)
    except msgspec.DecodeError as whole_error:
        if str(whole_error) == _NESTED_TOO_DEEPLY and stripped[:1] == b"[":
            # One record nested too deeply must not cost the others of the array.
            elements = _array_elements(stripped)
            if elements is not None:
                _counted(len(elements), max_items)
                return [_element_item(element) for element in elements]
        # Lines are counted before splitting: ten million one-byte lines are refused unsplit.
        _counted(stripped.count(b"\n") + 1, max_items)
        lines = [line.strip() for line in stripped.split(b"\n") if line.strip()]
        _counted(len(lines), max_items)
        if len(lines) == 1 and lines[0][:1] in (b"{", b"["):
            raise BodyError(400, f"body is not valid JSON: {whole_error}") from None
        return line_items(lines, stripped)
    if isinstance(value, list):
        _counted(len(value), max_items)
        return [Item(value=v) for v in value]
    return [Item(value=value)]


# nginx writes `"` as `\x22` in a log_format without `escape=json`: not JSON.
_NGINX_ESCAPE = re.compile(rb"\\x[0-9A-Fa-f]{2}")
_NGINX_ESCAPE_HINT = " (a \\xHH escape: nginx writes them unless its log_format has escape=json)"


def line_items(lines: list[bytes], data: bytes | None = None) -> list[Item]:
    """One item per line (lines already stripped, none blank): its JSON value, or for a line
    that is not JSON its text and the JSON error. `data`: the lines as they came, when the
    caller has them."""
    if all(line[:1] == b"{" and line[-1:] == b"}" for line in lines):
        # NDJSON of objects: one decode of all the lines is several times faster than a decode
        # per line; a bad line falls back to the line-by-line path below. No value can go on
        # past a line that ends in `}` onto one that starts with `{`, so each line holds whole
        # values, and as many values as lines means one per line (`{"a":1} {"b":2}` is two).
        try:
            values = _decode_lines(b"\n".join(lines) if data is None else data)
        except msgspec.DecodeError:
            values = None
        if values is not None and len(values) == len(lines):
            return [Item(value=v) for v in values]
    items = []
    for line in lines:
        try:
            items.append(Item(value=_decode_json(line)))
        except msgspec.DecodeError as exc:
            text = line.decode("utf-8", "replace")
            error = f"line is not valid JSON: {exc}"
            if line[:1] == b"{" and _NGINX_ESCAPE.search(line):
                error += _NGINX_ESCAPE_HINT
            items.append(Item(value=text, error=error))
    return items


def _element_item(element: bytes) -> Item:
    try:
        return Item(value=_decode_json(element))
    except msgspec.DecodeError as exc:
        return Item(error=f"record: not valid JSON: {exc}")


def _array_elements(data: bytes) -> list[bytes] | None:
    """The top-level elements of a JSON array as undecoded bytes, found by scanning (no
    recursion, so depth does not matter); None when the array is not well formed."""
    depth = 0
    start = 0
    elements: list[bytes] = []
    pos = 0
    while True:
        match = _STRUCTURE.search(data, pos)
        if match is None:
            return None
        char, at = match.group(), match.start()
        pos = match.end()
        if char == b'"':
            string = _STRING.match(data, at)
            if string is None:
                return None
            pos = string.end()
        elif char in (b"[", b"{"):
            depth += 1
            if depth == 1:
                start = pos
        elif char in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                last = data[start:at].strip()
                if last:
                    elements.append(last)
                return elements if not data[pos:].strip() else None
        elif depth == 1:  # a comma between top-level elements
            elements.append(data[start:at].strip())
            start = pos
