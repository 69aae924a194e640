"""The local store under a moment of full disk (issue 10, point 2, the store's side)."""
import pytest
import torn_store


def test_torn_incoming_lines_lose_only_the_span_that_warned(tmp_path):
    figures = torn_store.scenario(tmp_path, wrappers=60, torn_every=6, read_every=20)
    assert figures["torn_writers"] == 10 and figures["warned"] == 10, figures
    assert figures["lost"] == 0 and figures["filed"] == figures["sent"] == 50, figures
    assert figures["outcome_changed"] == 0 and figures["tracebacks"] == 0, figures
    # a torn writer leaves at most its 40 bytes (none once writers clean up after
    # themselves): set aside and counted, never glued to the next line
    assert figures["quarantined_pieces"] <= 10, figures
    assert figures["quarantined_bytes"] == 40 * figures["quarantined_pieces"], figures


def _mount_refusal(where):
    """Why a tmpfs cannot be mounted in a private mount namespace here, or None."""
    import subprocess
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t",
                            "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                           capture_output=True, text=True, timeout=30)
    return probe.stderr.strip() or "exit %d" % probe.returncode if probe.returncode else None


def test_a_full_disk_is_said_in_one_line_and_the_index_kept(tmp_path):
    """A real full disk (a small tmpfs, filled): show says so in one line and shows what
    was filed; the index is neither thrown away nor emptied; once there is room again,
    what waited is filed."""
    import json
    import subprocess
    import sys
    import full_disk
    disk = tmp_path / "disk"
    disk.mkdir()
    refusal = _mount_refusal(disk)
    if refusal:
        pytest.skip("cannot mount a tmpfs in a private mount namespace (needs "
                    "CAP_SYS_ADMIN): %s" % refusal)
    result = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                             full_disk.__file__, str(disk)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["outcome_changed"] == 0 and figures["listed_before"] == 5, figures
    for what, shown in (("list", 6), ("show", 1)):  # the list: a heading and 5 traces
        said = figures[what]
        assert said["lines"] == 1 and said["says_full"] and not said["traceback"], said
        assert said["status"] == 0 and said["stdout"] >= shown, said
    assert figures["indexed_while_full"] == 5, figures
    assert figures["listed_after"] == 8, figures
