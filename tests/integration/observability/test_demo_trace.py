"""``burro demo --trace``: the trace of every job, enqueue to last attempt."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.cli_runner import burro_cli


def test_demo_trace_prints_each_jobs_spans(tmp_path: Path) -> None:
    result = burro_cli("demo", "--trace", "--data-dir", tmp_path / "demo")

    assert result.exit_code == 0, result.output
    spans = [
        line for line in result.stdout.splitlines() if "PRODUCER" in line or "CONSUMER" in line
    ]
    invoice = [line for line in spans if "export_invoice" in line]
    assert [line.split()[1] for line in invoice] == ["send", "process", "process", "process"]
    assert len({line[:8] for line in invoice}) == 1  # one trace: enqueue, then 3 attempts
    assert "→ discarded  ERROR InvoiceRejected" in invoice[-1]
    assert any(line.split()[1] == "fire" for line in spans)  # the recurring clean-up
