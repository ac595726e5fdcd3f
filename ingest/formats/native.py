"""The native format: each record is already the native record."""

NAME = "native"


def detect(obj: dict) -> bool:
    return "ts" in obj and "method" in obj and "path" in obj and "status" in obj


def parse(obj: dict) -> dict:
    return obj
