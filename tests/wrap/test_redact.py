"""Secret-bearing arguments are hidden before they are recorded: command lines people type."""
import pytest

from traceexec.wrap.redact import MASK, redact_args, redact_text

M = MASK
CASES = [
    # options followed by their value
    (["mysql", "--password", "pw1"], ["mysql", "--password", M]),
    (["app", "--api-key", "k"], ["app", "--api-key", M]),
    (["gpg", "--batch", "--passphrase", "open sesame", "-d", "f"],
     ["gpg", "--batch", "--passphrase", M, "-d", "f"]),
    (["vault", "login", "-token", "s.abc"], ["vault", "login", "-token", M]),
    (["az", "login", "--client-secret", "xyz", "-u", "app"],
     ["az", "login", "--client-secret", M, "-u", "app"]),
    # option=value, values with spaces
    (["app", "--token=abc"], ["app", "--token=" + M]),
    (["app", "--password=two words"], ["app", "--password=" + M]),
    (["app", "password=two words"], ["app", "password=" + M]),
    (["mysqldump", "--password=p@ss w0rd", "db"], ["mysqldump", "--password=" + M, "db"]),
    # environment assignments
    (["env", "PASSWORD=x", "DB_TOKEN=y", "user=bob", "run"],
     ["env", "PASSWORD=" + M, "DB_TOKEN=" + M, "user=bob", "run"]),
    (["env", "AWS_SECRET_ACCESS_KEY=abc", "aws", "s3", "ls"],
     ["env", "AWS_SECRET_ACCESS_KEY=" + M, "aws", "s3", "ls"]),
    (["docker", "run", "-e", "POSTGRES_PASSWORD=pw", "postgres"],
     ["docker", "run", "-e", "POSTGRES_PASSWORD=" + M, "postgres"]),
    # programs with their own short options
    (["mysql", "-u", "root", "-pSECRET", "db"], ["mysql", "-u", "root", "-p" + M, "db"]),
    (["mysql", "-u", "root", "-p", "db"], ["mysql", "-u", "root", "-p", "db"]),
    (["mariadb", "-psecret"], ["mariadb", "-p" + M]),
    (["sshpass", "-p", "hunter2", "ssh", "host"], ["sshpass", "-p", M, "ssh", "host"]),
    (["sshpass", "-phunter2", "ssh", "host"], ["sshpass", "-p" + M, "ssh", "host"]),
    (["docker", "login", "-u", "bob", "-p", "pw", "reg.io"],
     ["docker", "login", "-u", "bob", "-p", M, "reg.io"]),
    (["docker", "login", "--password", "pw", "reg.io"],
     ["docker", "login", "--password", M, "reg.io"]),
    (["docker", "login", "--password-stdin", "reg.io"],
     ["docker", "login", "--password-stdin", "reg.io"]),
    (["docker", "run", "-p", "8080:80", "nginx"], ["docker", "run", "-p", "8080:80", "nginx"]),
    (["ssh", "-p", "2222", "host"], ["ssh", "-p", "2222", "host"]),
    (["mkdir", "-p", "out"], ["mkdir", "-p", "out"]),
    (["curl", "-u", "bob:pw", "https://h"], ["curl", "-u", "bob:" + M, "https://h"]),
    (["curl", "--user", "bob:p:w", "https://h"], ["curl", "--user", "bob:" + M, "https://h"]),
    (["curl", "-ubob:pw", "https://h"], ["curl", "-ubob:" + M, "https://h"]),
    (["curl", "--user=bob:pw", "h"], ["curl", "--user=bob:" + M, "h"]),
    (["curl", "-u", "bob", "h"], ["curl", "-u", "bob", "h"]),
    (["openssl", "enc", "-d", "-passin", "pass:s3cret", "-in", "f"],
     ["openssl", "enc", "-d", "-passin", "pass:" + M, "-in", "f"]),
    # headers
    (["curl", "-H", "Authorization: Bearer abc"], ["curl", "-H", "Authorization: " + M]),
    (["curl", "-H", "X-Api-Key: k1"], ["curl", "-H", "X-Api-Key: " + M]),
    (["curl", "--header=Authorization: Basic dXNlcjpwdw=="],
     ["curl", "--header=Authorization: " + M]),
    (["git", "-c", "http.extraHeader=Authorization: Basic abc", "fetch"],
     ["git", "-c", "http.extraHeader=Authorization: " + M, "fetch"]),
    (["wget", "--header", "Cookie: session=abc", "h"], ["wget", "--header", "Cookie: " + M, "h"]),
    # URLs
    (["git", "clone", "https://bob:pw@example.com/r.git"],
     ["git", "clone", "https://bob:%s@example.com/r.git" % M]),
    (["psql", "postgres://app:p@ss:w0rd#1@db:5432/x"], ["psql", "postgres://app:%s@db:5432/x" % M]),
    (["psql", "postgresql://app:a/b?c@db/x"], ["psql", "postgresql://app:%s@db/x" % M]),
    (["app", "--url=redis://:pw@cache:6379"], ["app", "--url=redis://:%s@cache:6379" % M]),
    (["git", "clone", "https://example.com/r.git"], ["git", "clone", "https://example.com/r.git"]),
    (["npm", "view", "https://registry.npmjs.org/@scope/pkg"],
     ["npm", "view", "https://registry.npmjs.org/@scope/pkg"]),
    # shell strings: quotes, tabs, several commands
    (["sh", "-c", "mysql --password pw1 db"], ["sh", "-c", "mysql --password %s db" % M]),
    (["sh", "-c", 'mysql --password="two words" db && echo ok'],
     ["sh", "-c", "mysql --password=%s db && echo ok" % M]),
    (["bash", "-c", "export API_TOKEN='a b c'; deploy"], ["bash", "-c", "export API_TOKEN=%s; deploy" % M]),
    (["sh", "-c", "curl\t-u\tbob:pw\thttps://h"], ["sh", "-c", "curl\t-u\tbob:%s\thttps://h" % M]),
    (["sh", "-c", "curl -H 'Authorization: Bearer t0k' h | jq ."],
     ["sh", "-c", "curl -H Authorization: %s h | jq ." % M]),
    (["sh", "-c", "mysql -pSECRET db; ssh -p 22 host"],
     ["sh", "-c", "mysql -p%s db; ssh -p 22 host" % M]),
    (["sh", "-c", "PGPASSWORD=x psql -h db"], ["sh", "-c", "PGPASSWORD=%s psql -h db" % M]),
    (["sh", "-c", "sudo sshpass -p 'pw with space' ssh h"],
     ["sh", "-c", "sudo sshpass -p %s ssh h" % M]),
    # a nested DAG's params, as the DAG driver passes them
    (["python3", "-m", "traceexec", "run", "child.yaml", "--params",
      "DB_PASSWORD='two words' USER=bob 'API_TOKEN=x y'"],
     ["python3", "-m", "traceexec", "run", "child.yaml", "--params",
      "DB_PASSWORD=%s USER=bob API_TOKEN=%s" % (M, M)]),
    # params with no quotes, the secret not first (the DAG driver's run records and spans)
    (["python3", "-m", "traceexec", "run", "child.yaml", "--params",
      "WHO=ana PASSWORD=hunter2"],
     ["python3", "-m", "traceexec", "run", "child.yaml", "--params",
      "WHO=ana PASSWORD=%s" % M]),
    (["WHO=ana API_TOKEN=t0k MODE=fast"], ["WHO=ana API_TOKEN=%s MODE=fast" % M]),
    # nothing to hide
    (["ls", "-l", "/tmp"], ["ls", "-l", "/tmp"]),
    (["--password"], ["--password"]),
    (["sh", "-c", "echo 'hello world'"], ["sh", "-c", "echo 'hello world'"]),
]


@pytest.mark.parametrize("argv,expected", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_default_redaction(argv, expected):
    assert redact_args(argv) == expected


def test_the_table_is_large():
    assert len(CASES) >= 40


def test_redact_text_for_other_command_lines():
    assert redact_text("deploy --token abc --env prod") == "deploy --token %s --env prod" % M
    assert redact_text("plain words only") == "plain words only"


def test_user_patterns_and_switch_off():
    assert redact_args(["deploy", "key-1234"], patterns=[r"key-\d+"]) == ["deploy", MASK]
    assert redact_args(["app", "--token", "t"], enabled=False) == ["app", "--token", "t"]
