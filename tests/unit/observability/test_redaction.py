"""Redaction of what burro shows of a job outside its store."""

from __future__ import annotations

import pytest

from burro.config import load_config
from burro.errors import ConfigError
from burro.observability.logs import Redactor

ERROR = (
    "ValueError: no account for ada@example.com\n"
    "Traceback (most recent call last):\n"
    '  File "jobs.py", line 3, in sync\n'
    "ValueError: no account for ada@example.com\n"
)


def test_an_error_splits_into_type_message_and_stack_trace() -> None:
    report = Redactor().error(ERROR, "ValueError")

    assert report.type == "ValueError"
    assert report.message == "no account for ada@example.com"
    assert report.stacktrace.startswith("Traceback")
    assert report.summary == "ValueError: no account for ada@example.com"


def test_patterns_mask_messages_and_stack_traces() -> None:
    report = Redactor([r"[\w.]+@[\w.]+", r"\d{16}"]).error(ERROR, "ValueError")

    assert report.summary == "ValueError: no account for [redacted]"
    assert "ada@" not in report.stacktrace
    assert (
        Redactor([r"\d{16}"]).text("card 4111111111111111, cvc 123") == "card [redacted], cvc 123"
    )


def test_hidden_error_messages_leave_the_type_alone() -> None:
    report = Redactor(hide_error_messages=True).error(ERROR, "ValueError")

    assert report == ("ValueError", "", "")
    assert report.summary == "ValueError"


def test_an_error_without_a_traceback_or_type_still_reads() -> None:
    assert Redactor().error("TimeoutError: attempt exceeded", "TimeoutError").stacktrace == ""
    assert Redactor().error(None, None).summary == "Error"


def test_config_refuses_a_pattern_that_is_not_a_regular_expression() -> None:
    with pytest.raises(ConfigError, match="redact_patterns"):
        load_config(redact_patterns=["(unclosed"], env={})


def test_config_refuses_an_unknown_trace_link_mode() -> None:
    with pytest.raises(ConfigError, match="trace_link_mode"):
        load_config(trace_link_mode="sibling", env={})
    assert load_config(trace_link_mode="link", env={}).trace_link_mode == "link"
