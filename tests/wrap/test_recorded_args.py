"""supervise.recorded_args: what redact.redact_args records, without loading ``redact``
for words that no rule of it can change."""
from hypothesis import given, settings, strategies as st

from traceexec.wrap import redact, supervise

# words that mean something to the redactor, as they would come in plain characters
TELLING = ["login", "mysql", "curl", "sshpass", "docker", "password", "token", "key", "pat",
           "pass", "auth", "secret", "openssl", "zip", "7z", "env", "sudo", "sh", "bash",
           "ghp", "akia", "xoxb", "http", "glpat", "apikey", "mykey", "x.pat", "a,b", "1+1"]
PLAIN_WORDS = st.one_of(st.sampled_from(TELLING), st.text("".join(sorted(supervise.PLAIN)),
                                                          max_size=30))
ANY_WORDS = st.one_of(PLAIN_WORDS, st.sampled_from(
    ["-p", "-psecret", "--password", "--token=x", "-u", "a:b", "Authorization:", "KEY=v",
     "ghp_" + "a" * 20, "AKIA" + "B" * 16, "https://u:p@h", "x y", "-c", "pass:x", "sk-proj-"
     + "c" * 16, "-----BEGIN RSA PRIVATE KEY-----", "--set", "db.password=x"]),
    st.text(max_size=30))


@settings(max_examples=600, deadline=None)
@given(st.lists(PLAIN_WORDS, min_size=1, max_size=8))
def test_plain_words_are_never_changed_by_the_redactor(argv):
    assert not supervise.needs_redactor(argv)
    assert redact.redact_args(argv) == argv


@settings(max_examples=600, deadline=None)
@given(st.lists(ANY_WORDS, min_size=1, max_size=8), st.sampled_from([(), ("b+",)]),
       st.booleans())
def test_recorded_args_are_the_redactors(argv, patterns, enabled):
    assert supervise.recorded_args(argv, patterns, enabled) == \
        redact.redact_args(argv, patterns, enabled)


def test_a_secret_takes_the_redactor():
    for argv in (["mysql", "-psecret"], ["curl", "-u", "ana:pw", "h"], ["x", "--token=t"],
                 ["env", "API_KEY=v", "run"], ["true", "ghp_" + "a" * 20], ["true"]):
        patterns = ("true",) if argv == ["true"] else ()
        assert supervise.needs_redactor(argv, patterns)
        assert supervise.recorded_args(argv, patterns) == redact.redact_args(argv, patterns)
    assert supervise.recorded_args(["true"], ("true",)) == [redact.MASK]
    assert not supervise.needs_redactor(["mysql", "-psecret"], (), False)
