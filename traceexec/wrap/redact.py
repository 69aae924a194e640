"""Redaction of secret-bearing command arguments before they are recorded.

By default: the value after ``--password``/``--token``-like options (also
``-p`` for mysql and sshpass, ``-p`` for ``docker login``, ``-u user:pass``
for curl), the value of ``--token=X`` and ``password=X`` forms, ``Authorization:``
and similar header values, openssl's ``pass:X``, and the password of
``scheme://user:password@host`` URLs.  Names that say key (``STRIPE_KEY``,
``--encryption-key``, ``MASTERKEY``, ``GITHUB_PAT``, ``GCP_CREDENTIALS``) hide
their value, as do values that are private-key material (``-----BEGIN ...
PRIVATE KEY-----``) or tokens of well-known forms (``ghp_...``, ``glpat-...``).
Arguments that hold a shell command
(``sh -c '...'``, a DAG's ``--params``) are read as the shell reads them,
quotes and tabs included, and only the secret parts are replaced.  User
patterns (``--redact REGEX``) replace each match.  Standard library only,
and ``re`` only when the user gives a pattern (start-up cost).

``redact_args`` is what a span records for ``process.command_args``;
``redact_text`` is for any other command-line text (a DAG step's command, a
nested DAG's params).
"""

MASK = "[REDACTED]"
SECRET_WORDS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
                "api-key", "api_key", "access-key", "access_key", "private-key", "private_key",
                "credential", "auth")
NOT_A_VALUE = ("-stdin", "-file", "-fd", "-env", "-path", "_file", "_path", "-id", "_id",
               "-name", "_name")
"""Secret-named options that take no secret (``--password-stdin``, ``--token-file PATH``)."""
PUBLIC_KEYS = ("publickey", "public_key", "public-key", "pubkey")
"""Key names whose value is no secret."""
TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-",
                  "xoxp-", "xoxa-", "xapp-", "sk_live_", "rk_live_", "sk-proj-", "npm_",
                  "hf_", "AKIA", "ASIA", "dop_v1_", "pypi-")
"""Tokens recognised by their form (at least 16 characters after the prefix)."""
PASSWORD_OPTIONS = {"sshpass": ("-p",), "ssh-keygen": ("-N", "-P"), "zip": ("-P",),
                    "unzip": ("-P",), "openssl": ("-k",), "smbclient": ("-U",)}
"""Short options that take a password as the next word, per program."""
LOGINS = frozenset(("docker", "podman", "buildah", "skopeo", "helm", "oras", "az", "nerdctl"))
"""Programs whose ``login`` takes ``-p PASSWORD``."""
SECRET_HEADERS = ("authorization:", "proxy-authorization:", "x-api-key:", "cookie:",
                  "x-auth-token:", "private-token:")
MYSQL = frozenset(("mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow",
                   "mysqlcheck", "mariadb", "mariadb-dump", "mariadb-admin"))
WRAPPERS = frozenset(("sudo", "env", "exec", "time", "nice", "nohup", "command", "timeout",
                      "traceexec", "xargs", "doas"))
SEPARATORS = frozenset((";", "|", "&", "&&", "||", "(", ")", "\n", "{", "}", "!"))
_BLANKS = " \t\n"


def _is_secret_name(name: str, option: bool = False) -> bool:
    """Whether a variable or option name says its value is a secret.

    >>> [_is_secret_name(n) for n in ("STRIPE_KEY", "MASTERKEY", "GH_PAT", "SSH_PUBLIC_KEY")]
    [True, True, True, False]
    """
    name = name.lower().lstrip("-")
    if any(name.endswith(end) for end in NOT_A_VALUE):
        return False
    if any(word in name for word in SECRET_WORDS):
        return True
    if name.endswith("key"):  # *_KEY, *KEY; a bare --key is a file (curl, openssl, sort)
        return not name.endswith(PUBLIC_KEYS) and not (option and name == "key")
    return name == "pat" or name.endswith(("_pat", "-pat"))


def _is_name(text: str) -> bool:
    return bool(text) and text[0].isalpha() and all(
        c.isascii() and (c.isalnum() or c in "_.-") for c in text)


def is_key_material(value: str) -> bool:
    """Private-key material, or a token of a well-known form."""
    if "PRIVATE KEY" in value and "-----" in value:
        return True
    if not value.startswith(TOKEN_PREFIXES):  # one look for all (every word of every step)
        return False
    for prefix in TOKEN_PREFIXES:
        if value.startswith(prefix):
            rest = value[len(prefix):]
            return len(rest) >= 16 and all(c.isalnum() or c in "_-" for c in rest)
    return False


def redact_url(word: str) -> str:
    """``scheme://user:password@host/...`` with the password hidden (it may hold ``@ : / # ?``)."""
    at_scheme = word.find("://")
    if at_scheme < 0:
        return word
    start = at_scheme + 3
    slash = word.find("/", start)
    authority_end = slash if slash >= 0 else len(word)
    at = word.rfind("@", start, authority_end)
    if at < 0:  # a password with "/" in it: the last "@" before a host
        at = word.rfind("@", start)
        if at < 0 or word[at - 1] == "/" or ":" not in word[start:at]:
            return word
    userinfo = word[start:at]
    user, colon, _ = userinfo.partition(":")
    if not colon or "/" in user:
        return word
    return word[:start] + user + ":" + MASK + word[at:]


def _header(value: str):
    lowered = value.lower()
    for header in SECRET_HEADERS:
        if lowered.startswith(header):
            return value[:len(header)]
    return None


class _Reader:
    """The words of one command, and what each must be replaced with."""

    def __init__(self):
        self.program = None
        self.hide = 0          # how many following words to hide whole
        self.user_pass = False  # the next word is curl's user:password
        self.docker_login = False

    def new_command(self):
        self.__init__()

    def word(self, word: str):
        """The replacement for ``word`` (``None``: keep it)."""
        if self.hide:
            self.hide -= 1
            return MASK
        if self.user_pass:
            self.user_pass = False
            user, colon, _ = word.partition(":")
            return user + ":" + MASK if colon else None
        if self.program is None:
            if "=" in word.partition("/")[0] and not word.startswith("-"):
                return self._assignment(word)
            name = word.rsplit("/", 1)[-1]
            if name not in WRAPPERS:
                self.program = name
            return None
        if self.program in LOGINS and word == "login":
            self.docker_login = True
        return self._option(word)

    def _assignment(self, word: str):
        name, _, value = word.partition("=")
        if _is_secret_name(name):
            return name + "=" + MASK
        return self._value(word, name + "=", value)

    def _option(self, word: str):
        bare = word.lower()
        if word in PASSWORD_OPTIONS.get(self.program, ()):
            self.hide = 1
            return None
        if self.program in MYSQL or self.program in ("sshpass", "7z", "7za"):
            if word.startswith("-p") and len(word) > 2 and not word.startswith("--"):
                return "-p" + MASK
        if self.program == "curl":
            if word in ("-u", "--user", "-U", "--proxy-user"):
                self.user_pass = True
                return None
            for prefix in ("-u", "--user=", "-U", "--proxy-user="):
                if word.startswith(prefix) and len(word) > len(prefix) and ":" in word:
                    user = word[len(prefix):].partition(":")[0]
                    return word[:len(prefix)] + user + ":" + MASK
        if self.docker_login and word == "-p":
            self.hide = 1
            return None
        header = _header(word)
        if header is not None:
            if header.lower() == bare:  # "Authorization:" "Bearer" "xyz" as separate words
                self.hide = 2 if bare in ("authorization:", "proxy-authorization:") else 1
                return None
            return header + " " + MASK
        if word.startswith("-") and "=" not in word and _is_secret_name(word, option=True):
            self.hide = 1
            return None
        name, eq, value = word.partition("=")
        if eq and name:
            if _is_secret_name(name, option=name.startswith("-")):
                return name + "=" + MASK
            return self._value(word, name + "=", value)
        return self._value(word, "", word)

    def _value(self, word: str, prefix: str, value: str):
        if is_key_material(value):
            return prefix + MASK
        inner, eq, rest = value.partition("=")  # --set db.password=x, --from-literal=API_KEY=x
        if eq and rest and _is_name(inner) and _is_secret_name(inner.rpartition(".")[2]):
            return prefix + inner + "=" + MASK
        header = _header(value)
        if header is not None:
            if header == value:  # name=Authorization: Basic xyz, split into words
                self.hide = 2 if value.lower() in SECRET_HEADERS[:2] else 1
                return None
            return prefix + header + " " + MASK
        if value.startswith("pass:") and len(value) > 5:  # openssl -passin pass:SECRET
            return prefix + "pass:" + MASK
        if "://" in value:
            redacted = redact_url(value)
            if redacted != value:
                return prefix + redacted
        return None


def _shell_words(text: str) -> list:
    """(start, end, value) of each word of ``text`` as sh splits it; separators have
    ``value`` None.  Quotes and backslashes are honoured; expansions are left alone."""
    words = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t":
            i += 1
            continue
        if char in ";|&()\n":
            end = i + 2 if text[i:i + 2] in ("&&", "||") else i + 1
            words.append((i, end, None))
            i = end
            continue
        start, value = i, []
        while i < n and text[i] not in _BLANKS and text[i] not in ";|&()":
            char = text[i]
            if char == "'":
                close = text.find("'", i + 1)
                close = n if close < 0 else close
                value.append(text[i + 1:close])
                i = close + 1
            elif char == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                        i += 1
                    value.append(text[i])
                    i += 1
                i += 1
            elif char == "\\" and i + 1 < n:
                value.append(text[i + 1])
                i += 2
            else:
                value.append(char)
                i += 1
        words.append((start, min(i, n), "".join(value)))
    return words


def redact_text(text: str) -> str:
    """``text``, a shell command line, with its secret parts replaced.

    >>> redact_text('mysql -u root --password="two words" db; echo done')
    'mysql -u root --password=[REDACTED] db; echo done'
    """
    reader = _Reader()
    out, last = [], 0
    for start, end, value in _shell_words(text):
        if value is None:
            reader.new_command()
            continue
        replacement = reader.word(value)
        if replacement is not None and replacement != value:
            gap = text[last:start]
            if replacement == MASK and out and out[-1] == MASK and not gap.strip():
                last = end  # one mask for a value of several words
                continue
            out.append(gap)
            out.append(replacement)
            last = end
    out.append(text[last:])
    return "".join(out)


def _is_shell_text(previous, arg: str) -> bool:
    """An argument that holds shell words (``sh -c STRING``, quoted params), not one value."""
    if not any(c in arg for c in _BLANKS):
        return False
    return previous == "-c" or any(c in arg for c in "'\";|&$`\n")


def redact_args(argv, patterns=(), enabled=True) -> list:
    """A copy of ``argv`` fit to record.

    Each argument is one word; one that holds a shell command (it has blanks)
    is also redacted as shell text.

    >>> redact_args(["curl", "--token", "abc", "https://u:pw@h/p"])
    ['curl', '--token', '[REDACTED]', 'https://u:[REDACTED]@h/p']
    """
    if not enabled:
        return list(argv)
    reader = _Reader()
    out = []
    previous = None
    for arg in argv:
        if previous != "-c" and is_key_material(arg):  # a key pasted as one argument
            reader.word("")
            out.append(MASK)
            previous = arg
            continue
        if _is_shell_text(previous, arg):
            reader.word("")  # a word all the same, for the reader's position
            replacement = redact_text(arg)
        else:
            replacement = reader.word(arg)
            if replacement is None and any(c in arg for c in _BLANKS):
                # several words in one (``--params 'WHO=ana PASSWORD=x'``): read as text
                text = redact_text(arg)
                replacement = text if text.count(MASK) > arg.count(MASK) else None
        out.append(arg if replacement is None else replacement)
        previous = arg
    if patterns:
        import re
        for pattern in patterns:
            regex = re.compile(pattern)
            out = [regex.sub(MASK, arg) for arg in out]
    return out
