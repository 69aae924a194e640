"""Secret-bearing arguments are hidden before they are recorded."""
import pytest

from traceexec.wrap.redact import MASK, redact_args

CASES = [
    (["mysql", "--password", "pw1"], ["mysql", "--password", MASK]),
    (["app", "--token=abc"], ["app", "--token=" + MASK]),
    (["app", "--api-key", "k"], ["app", "--api-key", MASK]),
    (["env", "PASSWORD=x", "DB_TOKEN=y", "user=bob"],
     ["env", "PASSWORD=" + MASK, "DB_TOKEN=" + MASK, "user=bob"]),
    (["curl", "-H", "Authorization: Bearer abc"], ["curl", "-H", "Authorization: " + MASK]),
    (["git", "clone", "https://bob:pw@example.com/r.git"],
     ["git", "clone", "https://bob:%s@example.com/r.git" % MASK]),
    (["git", "clone", "https://example.com/r.git"], ["git", "clone", "https://example.com/r.git"]),
    (["sh", "-c", "mysql --password pw1 db"], ["sh", "-c", "mysql --password %s db" % MASK]),
    (["ls", "-l", "/tmp"], ["ls", "-l", "/tmp"]),
    (["--password"], ["--password"]),
]


@pytest.mark.parametrize("argv,expected", CASES)
def test_default_redaction(argv, expected):
    assert redact_args(argv) == expected


def test_user_patterns_and_switch_off():
    assert redact_args(["deploy", "key-1234"], patterns=[r"key-\d+"]) == ["deploy", MASK]
    assert redact_args(["app", "--token", "t"], enabled=False) == ["app", "--token", "t"]
