"""Log lines: JSON lines carry the event's context and nothing only a terminal could use."""

from __future__ import annotations

import json
import logging

from entrypoints.observability import JsonFormatter, TextFormatter


def test_a_json_line_keeps_the_context_and_leaves_terminal_colours_out() -> None:
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.error",
            "levelname": "INFO",
            "msg": "Started server process [%d]",
            "args": (42,),
            "color_message": "Started server process [\x1b[36m%d\x1b[0m]",
            "request_id": "abc",
            "score_id": None,
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Started server process [42]"
    assert line["request_id"] == "abc"
    assert "color_message" not in line
    assert "score_id" not in line


def test_a_text_line_cannot_be_split_into_a_forged_one() -> None:
    forged = "/health\n2026-11-27 10:59:59,000 INFO scoremate.access: POST /api/v1/auth/login 200\x00"
    record = logging.makeLogRecord({"name": "scoremate.access", "levelname": "INFO", "msg": forged})
    line = TextFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert "\n" not in line and "\x00" not in line
    assert line == "INFO scoremate.access: /health\\x0a2026-11-27 10:59:59,000 INFO scoremate.access: POST " + (
        "/api/v1/auth/login 200\\x00"
    )
