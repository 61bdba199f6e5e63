"""onprem.k8snet.report_file: written when the text differs, at once, never in check mode."""

from __future__ import annotations

import os

from ansible_collections.onprem.k8snet.plugins.modules import report_file


def test_written_once_into_a_new_directory_then_left_alone(tmp_path):
    dest = tmp_path / "reports" / "lab" / "VERIFY.md"
    assert report_file.run({"dest": str(dest), "content": "# one\n"}) == {"changed": True, "dest": str(dest)}
    assert dest.read_text() == "# one\n" and oct(dest.stat().st_mode & 0o777) == "0o644"
    before = dest.stat().st_mtime_ns
    assert report_file.run({"dest": str(dest), "content": "# one\n"})["changed"] is False
    assert dest.stat().st_mtime_ns == before
    assert report_file.run({"dest": str(dest), "content": "# two\n"})["changed"] is True
    assert dest.read_text() == "# two\n" and os.listdir(dest.parent) == ["VERIFY.md"]     # no temporary file left


def test_check_mode_says_it_would_write_and_writes_nothing(tmp_path):
    dest = tmp_path / "VERIFY.md"
    assert report_file.run({"dest": str(dest), "content": "x"}, check_mode=True)["changed"] is True
    assert not dest.exists()


def test_a_report_that_cannot_be_written_names_the_path(tmp_path):
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the directory should be")
    result = report_file.run({"dest": str(blocker / "VERIFY.md"), "content": "x"})
    assert result["failed"] and result["msg"].startswith(f"{blocker / 'VERIFY.md'}: ")
