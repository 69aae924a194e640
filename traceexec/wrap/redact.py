"""Redaction of secret-bearing command arguments before they are recorded.

By default: the value after ``--password``/``--token``-like options, the value
of ``--token=X`` and ``password=X`` forms, ``Authorization: ...`` header
arguments, and the password of ``scheme://user:password@host`` URLs.  User
patterns (``--redact REGEX``) replace each match.  Standard library only, and
``re`` only when the user gives a pattern (start-up cost).
"""

MASK = "[REDACTED]"
SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api-key",
                "api_key", "access-key", "access_key", "private-key", "private_key",
                "credential", "auth")
SECRET_HEADERS = ("authorization:", "proxy-authorization:", "x-api-key:", "cookie:")


def _is_secret_name(name: str) -> bool:
    name = name.lower().lstrip("-")
    return any(word in name for word in SECRET_WORDS)


def _redact_url(arg: str) -> str:
    scheme, sep, rest = arg.partition("://")
    if not sep:
        return arg
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return arg
    user = userinfo.split(":", 1)[0]
    return "%s://%s:%s@%s%s%s" % (scheme, user, MASK, host, slash, path)


def _redact_tokens(tokens) -> list:
    out = []
    hide = 0
    for token in tokens:
        bare = token.strip("\"'")
        lowered = bare.lower()
        if hide:
            out.append(MASK)
            hide -= 1
            continue
        if bare.startswith("-") and "=" not in bare and _is_secret_name(bare) and out:
            out.append(token)
            hide = 1
            continue
        header = next((h for h in SECRET_HEADERS if lowered.startswith(h)), None)
        if header is not None:
            if lowered == header:  # "Authorization:" "Bearer" "xyz" as separate words
                out.append(token)
                hide = 2
            else:
                out.append(token.split(":", 1)[0] + ": " + MASK)
            continue
        name, eq, _ = token.partition("=")
        if eq and name and _is_secret_name(name):
            out.append(name + "=" + MASK)
            continue
        out.append(_redact_url(token) if "://" in token else token)
    return out


def redact_args(argv, patterns=(), enabled=True) -> list:
    """A copy of ``argv`` fit to record.

    Arguments with spaces (``sh -c`` strings) are redacted word by word too.

    >>> redact_args(["curl", "--token", "abc", "https://u:pw@h/p"])
    ['curl', '--token', '[REDACTED]', 'https://u:[REDACTED]@h/p']
    """
    if not enabled:
        return list(argv)
    # Arguments with spaces (sh -c strings) are redacted word by word, on their own.
    spaced = {i: arg for i, arg in enumerate(argv) if " " in arg}
    out = _redact_tokens(["" if i in spaced else arg for i, arg in enumerate(argv)])
    for i, arg in spaced.items():
        if out[i] == MASK:  # the value of a secret option stays hidden whole
            continue
        if arg.lower().startswith(SECRET_HEADERS):  # "Authorization: Bearer x" as one argument
            out[i] = arg.split(":", 1)[0] + ": " + MASK
        else:
            out[i] = " ".join(_redact_tokens(arg.split(" ")))
    if patterns:
        import re
        for pattern in patterns:
            regex = re.compile(pattern)
            out = [regex.sub(MASK, arg) for arg in out]
    return out
