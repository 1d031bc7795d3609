"""The worker refuses to start on a Faust whose overridden or relied-on code is not the audited one."""
import subprocess
import sys
import textwrap

import pytest

from convoflow.streams.faust_ext import audit


def test_the_installed_versions_and_every_audited_function_are_the_audited_ones():
    assert audit.differences() == []


def test_a_changed_method_is_named_in_one_line(monkeypatch):
    from faust.transport import consumer

    def _new_offset(self, tp):  # a release that changed this method
        return None

    monkeypatch.setattr(consumer.Consumer, "_new_offset", _new_offset)  # the "new release", in this test only
    with pytest.raises(audit.AuditError) as raised:
        audit.check()
    message = str(raised.value)
    assert "faust.transport.consumer:Consumer._new_offset is not the code convoflow audited" in message
    assert "\n" not in message


def test_a_version_that_is_not_the_pinned_one_is_named(monkeypatch):
    monkeypatch.setitem(audit.PINNED, "faust-streaming", "0.15.2")
    assert audit.differences()[0].startswith("faust-streaming 0.15.3 is installed; convoflow's Faust subclasses "
                                             "are audited against 0.15.2")


def test_a_missing_function_is_named(monkeypatch):
    monkeypatch.setitem(audit.AUDITED, "faust.transport.consumer:Consumer._gone_in_this_release", "0" * 16)
    assert any("Consumer._gone_in_this_release is gone" in line for line in audit.differences())


def test_the_worker_command_refuses_to_start_with_one_line_and_exit_2(tmp_path):
    """A Faust whose ProducerBuffer.flush differs, changed before the worker command runs."""
    changed = tmp_path / "changed_faust.py"
    changed.write_text(textwrap.dedent('''
        from faust.transport import producer

        async def flush(self):  # what a new release might do
            return None

        producer.ProducerBuffer.flush = flush
    '''))
    run = subprocess.run(
        [sys.executable, "-c", "import changed_faust, sys; from convoflow.cli import main; "
         "sys.exit(main(['worker', '--broker', 'kafka://127.0.0.1:1', '--data-dir', sys.argv[1], "
         "'--export-dir', sys.argv[1]]))", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "faust.transport.producer:ProducerBuffer.flush is not the code convoflow audited" in lines[0]
