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


# Command lines as people type them (CI scripts, READMEs, runbooks): each with the
# secrets that must not be recorded and words that must stay.  Each line is checked
# as an argv (shlex split, as a shell hands it to traceexec) and as the text of sh -c.
PK = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----"
LINES = [
    ("STRIPE_KEY=sk_test_4eC39HqLyjWD ./charge.sh", ["sk_test_4eC39HqLyjWD"], ["./charge.sh"]),
    ("ENCRYPTION_KEY=b64kzq91xw backup --to s3://bkt", ["b64kzq91xw"], ["s3://bkt"]),
    ("SSH_KEY=ssh-priv-v4lue deploy.sh", ["ssh-priv-v4lue"], ["deploy.sh"]),
    ("MASTER_KEY=mk-88123 rails credentials:edit", ["mk-88123"], ["credentials:edit"]),
    ("MASTERKEY=mk-88124 ./app", ["mk-88124"], ["./app"]),
    ("SIGNINGKEY=sg-55aa1 make release", ["sg-55aa1"], ["release"]),
    ("GITHUB_PAT=pat-value-981 gh repo list", ["pat-value-981"], ["repo"]),
    ("GH_PAT=pat-value-982 ./sync", ["pat-value-982"], ["./sync"]),
    ("AZURE_DEVOPS_EXT_PAT=pat-value-983 az devops project list", ["pat-value-983"], ["devops"]),
    ("GOOGLE_CREDENTIALS=gcred-771 terraform plan", ["gcred-771"], ["plan"]),
    ("GCP_SA_CREDENTIALS=gcred-772 gcloud auth list", ["gcred-772"], ["gcloud"]),
    ("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG "
     "aws s3 ls", ["wJalrXUtnFEMIK7MDENG", "AKIAIOSFODNN7EXAMPLE"], ["s3", "ls"]),
    ("env OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrst python3 chat.py",
     ["sk-proj-abcdefghijklmnopqrst"], ["chat.py"]),
    ("env ANTHROPIC_API_KEY=ant-k-123 python3 bot.py", ["ant-k-123"], ["bot.py"]),
    ("export STRIPE_SECRET_KEY=sk_live_abcdefghijklmnop1234", ["sk_live_abcdefghijklmnop1234"],
     ["export"]),
    ("docker run -e DATADOG_API_KEY=dd-991 -e DD_SITE=eu agent",
     ["dd-991"], ["DD_SITE=eu", "agent"]),
    ("docker run --env SENTRY_KEY=sn-44 app", ["sn-44"], ["app"]),
    ("kubectl create secret generic app --from-literal=API_KEY=ak-123 --from-literal=MODE=prod",
     ["ak-123"], ["--from-literal=MODE=prod"]),
    ("helm upgrade web chart --set db.password=hp-1 --set replicas=3", ["hp-1"],
     ["replicas=3"]),
    ("helm install x chart --set stripe.secretKey=sk-2 --set image.tag=v1", ["sk-2"],
     ["image.tag=v1"]),
    ("terraform apply -var 'db_password=tf-pw-1' -var region=eu", ["tf-pw-1"], ["region=eu"]),
    ("terraform apply -var=api_key=tf-key-2", ["tf-key-2"], ["apply"]),
    ("app --encryption-key ek-99 --verbose", ["ek-99"], ["--verbose"]),
    ("app --license-key=lk-12 run", ["lk-12"], ["run"]),
    ("restic -r s3:bucket backup --password-file /etc/restic.pw /data", [],
     ["/etc/restic.pw", "/data"]),
    ("app --ssh-key ssh-sk-1 --host h", ["ssh-sk-1"], ["--host"]),
    ("app --access-token at-77", ["at-77"], ["app"]),
    ("curl --key client.pem --cert client.crt https://h/", [], ["client.pem", "client.crt"]),
    ("sort --key=2,2 data.txt", [], ["--key=2,2", "data.txt"]),
    ("ssh -i ~/.ssh/id_ed25519 deploy@host", [], ["~/.ssh/id_ed25519", "deploy@host"]),
    ("ssh-keygen -t ed25519 -f key -N kp-passphrase-1", ["kp-passphrase-1"], ["ed25519"]),
    ("ssh-keygen -p -f id_rsa -P old-pp-1 -N new-pp-2", ["old-pp-1", "new-pp-2"], ["id_rsa"]),
    ("zip -P zp-pw-1 -r backup.zip data", ["zp-pw-1"], ["backup.zip"]),
    ("7z a -pz7-pw-1 archive.7z data", ["z7-pw-1"], ["archive.7z"]),
    ("openssl enc -aes-256-cbc -k ok-pw-1 -in f -out f.enc", ["ok-pw-1"], ["f.enc"]),
    ("app SSH_PUBLIC_KEY=ssh-ed25519-AAAAC3", [], ["SSH_PUBLIC_KEY=ssh-ed25519-AAAAC3"]),
    ("app --key-file /run/secrets/k --key-id 42", [], ["/run/secrets/k", "42"]),
    ("echo '%s' > ~/.ssh/id_ed25519" % PK, ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"], ["echo"]),
    ("ssh-add - <<< '%s'" % PK, ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"], ["ssh-add"]),
    ("PRIVATE_KEY='%s' ./sign" % PK, ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"], ["./sign"]),
    ("git clone https://oauth2:glpat-abcdefghijklmnop1234@gitlab.com/g/p.git",
     ["glpat-abcdefghijklmnop1234"], ["gitlab.com/g/p.git", "oauth2"]),
    ("git push https://x-access-token:ghs_abcdefghijklmnop1234@github.com/o/r",
     ["ghs_abcdefghijklmnop1234"], ["github.com/o/r"]),
    ("gh api -H 'Authorization: token ghp_abcdefghijklmnopqrstuvwx' /user",
     ["ghp_abcdefghijklmnopqrstuvwx"], ["/user"]),
    ("notify ghp_abcdefghijklmnopqrstuvwx", ["ghp_abcdefghijklmnopqrstuvwx"], ["notify"]),
    ("curl -X POST -d token=xoxb-1234567890123-abcdefghij https://slack.com/api/chat",
     ["xoxb-1234567890123-abcdefghij"], ["https://slack.com/api/chat"]),
    ("slack-send xoxb-1234567890123-abcdefghij '#ops'", ["xoxb-1234567890123-abcdefghij"],
     ["#ops"]),
    ("twine upload -u __token__ -p pypi-AgEIcHlwaS5vcmcabcdefgh dist/*",
     ["pypi-AgEIcHlwaS5vcmcabcdefgh"], ["dist/*"]),
    ("npm config set //registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz",
     ["npm_abcdefghijklmnopqrstuvwxyz"], ["config"]),
    ("huggingface-cli login --token hf_abcdefghijklmnopqrst", ["hf_abcdefghijklmnopqrst"],
     ["login"]),
    ("docker login -u bob -p dl-pw-1 registry.example.com", ["dl-pw-1"],
     ["registry.example.com", "bob"]),
    ("podman login -u bob -p pm-pw-1 quay.io", ["pm-pw-1"], ["quay.io"]),
    ("helm registry login -u bob -p hr-pw-1 ghcr.io", ["hr-pw-1"], ["ghcr.io"]),
    ("az login --service-principal -u app-id -p az-secret-1 --tenant t1", ["az-secret-1"],
     ["app-id", "t1"]),
    ("mysql -u root -pmy-pw-1 shop", ["my-pw-1"], ["shop", "root"]),
    ("PGPASSWORD=pg-pw-1 psql -h db -U app", ["pg-pw-1"], ["db"]),
    ("psql postgresql://app:pg-pw-2@db:5432/shop", ["pg-pw-2"], ["db:5432/shop"]),
    ("redis-cli -u redis://:rd-pw-1@cache:6379 ping", ["rd-pw-1"], ["ping"]),
    ("mongosh 'mongodb://admin:mg-pw-1@db/admin'", ["mg-pw-1"], ["admin"]),
    ("curl -u bob:cu-pw-1 https://api.example.com", ["cu-pw-1"], ["bob"]),
    ("curl -H 'X-API-Key: xk-1' https://api.example.com", ["xk-1"], ["https://api.example.com"]),
    ("wget --header='Authorization: Bearer wg-tk-1' https://h/f", ["wg-tk-1"], ["https://h/f"]),
    ("openssl rsa -in k.pem -passin pass:os-pw-1 -out k2.pem", ["os-pw-1"], ["k2.pem"]),
    ("sshpass -p 'sp pw 1' ssh bob@h", ["sp pw 1"], ["bob@h"]),
    ("vault kv put secret/app api_key=vk-1 owner=ops", ["vk-1"], ["owner=ops"]),
    ("vault login token=vt-1", ["vt-1"], ["login"]),
    ("heroku config:set SECRET_KEY_BASE=hk-1 RACK_ENV=production", ["hk-1"],
     ["RACK_ENV=production"]),
    ("gpg --batch --passphrase gp-1 -d file.gpg", ["gp-1"], ["file.gpg"]),
    ("app --client-secret=cs-1 --client-id=my-app", ["cs-1"], ["--client-id=my-app"]),
    ("git -c http.extraHeader='Authorization: Basic Z2l0OnB3' fetch", ["Z2l0OnB3"], ["fetch"]),
    ("ls -la /var/log", [], ["-la", "/var/log"]),
    ("make -j4 KEYBOARD=us", [], ["KEYBOARD=us"]),
]


@pytest.mark.parametrize("line,secrets,kept", LINES, ids=[l[0][:50] for l in LINES])
def test_real_command_lines(line, secrets, kept):
    import shlex
    as_argv = repr(redact_args(shlex.split(line)))
    as_text = redact_args(["sh", "-c", line])[2]
    for recorded in (as_argv, as_text):
        assert [s for s in secrets if s in recorded] == [], recorded
        assert [k for k in kept if k not in recorded] == [], recorded


def test_the_command_line_table_is_large():
    assert len(LINES) >= 60
