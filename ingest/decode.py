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
    """Inflate gzip (several members allowed), never producing more than `limit` bytes."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            while data:
                chunk = inflater.decompress(data, limit + 1 - len(out))
                out += chunk
                if len(out) > limit:
                    raise BodyError(413, f"body is over {limit} bytes after decompression")
                data = inflater.unconsumed_tail
                if inflater.eof:
                    break
                if not chunk and not data:
                    break
        except zlib.error as exc:
            raise BodyError(400, f"body is not valid gzip: {exc}") from None
        if not inflater.eof:
            raise BodyError(400, "body is not valid gzip: truncated stream")
        data = inflater.unused_data
    return bytes(out)


def _decode_json(data: bytes | str):
    try:
        return _decoder.decode(data)
    except UnicodeDecodeError:
        # Keep the records: invalid bytes in a logged string become U+FFFD.
        return _decoder.decode(data.decode("utf-8", "replace"))
    except RecursionError:
        raise msgspec.DecodeError(_NESTED_TOO_DEEPLY) from None


class Item(msgspec.Struct):
    """One top-level item of the body: a decoded value, or the reason it did not decode."""

    value: object = None
    error: str | None = None


def split_items(data: bytes) -> list[Item]:
    """A JSON object, a JSON array of items, or NDJSON / text lines (one item per line).

    A line that is not JSON keeps its text in `value` (line formats such as nginx `combined`
    read it) and the JSON error in `error`.
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
                return [_element_item(element) for element in elements]
        lines = [line.strip() for line in stripped.split(b"\n") if line.strip()]
        if len(lines) == 1 and lines[0][:1] in (b"{", b"["):
            raise BodyError(400, f"body is not valid JSON: {whole_error}") from None
        return line_items(lines)
    if isinstance(value, list):
        return [Item(value=v) for v in value]
    return [Item(value=value)]


def line_items(lines: list[bytes]) -> list[Item]:
    """One item per line (lines already stripped, none blank): its JSON value, or for a line
    that is not JSON its text and the JSON error."""
    if all(line[:1] == b"{" and line[-1:] == b"}" for line in lines):
        # NDJSON of objects: one decode of the lines as an array is several times faster than a
        # decode per line; a bad line falls back to the line-by-line path below.
        try:
            values = _decode_json(b"[" + b",".join(lines) + b"]")
        except msgspec.DecodeError:
            values = None
        # A line such as `{"a":1},{"b":2}` would pass as two values: one item per line only.
        if values is not None and len(values) == len(lines):
            return [Item(value=v) for v in values]
    items = []
    for line in lines:
        try:
            items.append(Item(value=_decode_json(line)))
        except msgspec.DecodeError as exc:
            text = line.decode("utf-8", "replace")
            items.append(Item(value=text, error=f"line is not valid JSON: {exc}"))
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
