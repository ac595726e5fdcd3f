"""export/requests.csv: the requests/ filter as streamed CSV, safe to open in a spreadsheet."""

import csv
import io

import pytest

from monitor.api.export import cell
from tests.records import record

URL = "/api/v1/projects/shop/export/requests.csv"


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_a_spreadsheet_would_run_gets_an_apostrophe(start):
    assert cell(start + "HYPERLINK(1)") == "'" + start + "HYPERLINK(1)"
    assert cell("plain " + start) == "plain " + start


def test_it_exports_the_filtered_requests_with_formulas_neutralised(api, post_logs):
    post_logs(
        [
            record(1, client="=cmd|' /C calc'!A0", user_agent="@SUM(1)"),
            record(2, client="-2+3", status=500),
            record(3, client="ok", response_body="+danger", status=409, method="POST"),
        ]
    )
    rows = read_csv(api.get(URL))
    assert [r["request_id"] for r in rows] == ["req-3", "req-2", "req-1"]
    assert rows[2]["client"] == "'=cmd|' /C calc'!A0"
    assert rows[2]["user_agent"] == "'@SUM(1)"
    assert rows[1]["client"] == "'-2+3"
    assert rows[0]["response_body"] == "'+danger"
    assert rows[0]["cause"] == "duplicate"
    assert [r["request_id"] for r in read_csv(api.get(URL + "?status=500"))] == ["req-2"]


def test_it_streams_every_row_across_keyset_pages(api, post_logs, monkeypatch):
    monkeypatch.setattr("monitor.api.export.PAGE", 3)
    post_logs([record(i) for i in range(10)])
    rows = read_csv(api.get(URL))
    assert [r["request_id"] for r in rows] == [f"req-{i}" for i in range(9, -1, -1)]
    assert len(read_csv(api.get(URL + "?limit=4"))) == 4


def test_it_stops_at_the_configured_maximum(api, post_logs, settings):
    settings.CONFLICTWATCH_EXPORT_MAX_ROWS = 5
    post_logs([record(i) for i in range(8)])
    assert len(read_csv(api.get(URL))) == 5
    assert api.get(URL + "?limit=6").status_code == 400


def test_a_bad_filter_is_a_json_400_before_any_csv(api, shop):
    response = api.get(URL + "?status=abc")
    assert response.status_code == 400
    assert response.json()["error"].startswith("status:")


def test_it_answers_a_client_that_accepts_only_csv(api, shop):
    response = api.get(URL, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    bad = api.get(URL + "?cause=nope&format=csv", HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("cause:")


def test_the_export_says_it_is_utf8(api, post_logs):
    # Without a charset, text/csv is US-ASCII (RFC 2046): HTTP clients read a logged
    # "café" as "cafÃ©".
    post_logs([record(1, client="café")])
    response = api.get(URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert read_csv(response)[0]["client"] == "café"


def test_durations_export_without_float_noise(api, post_logs):
    post_logs([record(1, duration_ms=0.000487052 * 1000)])
    assert read_csv(api.get(URL))[0]["duration_ms"] == "0.487052"
