"""Dagu DAG documents with the results Dagu's own tests and docs give for them.

Written for traceexec from the behaviour specified by Dagu's tests at
v1.17.4 (``internal/integration``, ``internal/digraph/scheduler``,
``internal/testdata``, ``examples``) and v2.6.5 (``internal/intg``,
``internal/runtime``, ``internal/cmd/example.go``): each case is a small
document in our words and the outcome Dagu gives it: the run's status in the
file's schema (v2 says ``aborted`` where v1 says ``cancelled``), the exit
status of ``dagu start``, each step's status, outputs and attempts.

``test_dagu_cases.py`` runs each through the driver and checks it at a real
OTLP receiver; ``REFUSED`` are documents each schema refuses.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Case:
    id: str
    yaml: str
    status: str                       # the DAG's status, in the file's schema's words
    exit: int                         # what `traceexec run` (like `dagu start`) exits with
    schema: str = "v1"
    steps: dict = field(default_factory=dict)      # step name -> status
    outputs: dict = field(default_factory=dict)    # output variable -> value (or callable)
    attempts: dict = field(default_factory=dict)   # step name -> process runs
    exit_codes: dict = field(default_factory=dict)  # step name -> exit code
    handlers: dict = field(default_factory=dict)   # handler name -> status
    logs: dict = field(default_factory=dict)       # step name -> text its stdout log holds
    files: dict = field(default_factory=dict)      # extra files beside the DAG
    params: str = ""
    env: dict = field(default_factory=dict)
    source: str = ""                  # where Dagu specifies it


def contains(*parts):
    """An expected output that holds every one of ``parts``."""
    def check(value):
        return value is not None and all(p in value for p in parts)
    check.__name__ = "contains%r" % (parts,)
    return check


CHILD_ECHO = "name: child-echo\nparams:\n  - ITEM: default\nsteps:\n" \
             "  - name: echo-item\n    command: echo \"Processing $1\"\n    output: PROCESSED\n"
CHILD_OUT = "name: child-out\nparams: \"P=none\"\nsteps:\n" \
            "  - name: work\n    command: echo \"value is ${P}\"\n    output: OUTPUT\n"
# v2 intg/precondition_env_test, DEV_PCENT given per case
THRESHOLD = """
type: graph
max_active_steps: 4
env:
  - DEV_PCENT: "%d"
  - DEV_ALERT: "80"
steps:
  - name: check-threshold
    command: echo "alert triggered"
    output: RESULT
    preconditions:
      - condition: "test ${DEV_PCENT} -ge ${DEV_ALERT}"
"""
FAILING_CHILD = "name: failing-child\nsteps:\n  - name: boom\n    command: \"false\"\n"

CASES = [
    # -- v1: flow, chain and graph ----------------------------------------------------------
    Case("v1-chain-runs-in-order", """
name: chained
steps:
  - name: first
    command: echo one
    output: A
  - name: second
    command: echo "two after $A"
    output: B
""", "succeeded", 0, steps={"first": "succeeded", "second": "succeeded"},
         outputs={"A": "one", "B": "two after one"}, source="v1 testdata chain.yaml"),
    Case("v1-chain-failure-cancels-the-rest", """
steps:
  - {name: a, command: "true"}
  - {name: b, command: "sh -c 'exit 3'"}
  - {name: c, command: "true"}
""", "failed", 1, steps={"a": "succeeded", "b": "failed", "c": "cancelled"},
         exit_codes={"b": 3}, source="v1 scheduler_test: upstream failure cancels"),
    Case("v1-chain-keeps-explicit-depends", """
type: chain
steps:
  - {name: setup, command: echo setup}
  - {name: download-a, command: echo a}
  - {name: download-b, command: "false"}
  - name: process-both
    command: echo both
    depends: [download-a, download-b]
  - {name: cleanup, command: echo clean}
""", "failed", 1, steps={"setup": "succeeded", "download-a": "succeeded",
                         "download-b": "failed", "process-both": "cancelled",
                         "cleanup": "cancelled"}, source="v1 chain-explicit-depends.yaml"),
    Case("v1-chain-default-even-with-some-depends", """
steps:
  - {name: a, command: echo a, output: A}
  - {name: b, command: echo b, depends: a, output: B}
  - {name: c, command: "echo c-after-$B", output: C}
""", "succeeded", 0, outputs={"C": "c-after-b"}, source="v1 builder injectChainDependencies"),
    Case("v1-graph-independent-branches-go-on", """
type: graph
steps:
  - {name: root, command: "true"}
  - {name: bad, command: "false", depends: root}
  - {name: after-bad, command: "true", depends: bad}
  - {name: side, command: echo side, depends: root, output: SIDE}
""", "failed", 1, steps={"root": "succeeded", "bad": "failed", "after-bad": "cancelled",
                         "side": "succeeded"}, outputs={"SIDE": "side"},
         source="v1 scheduler_test ErrorStep"),
    Case("v1-depends-by-number-names", """
steps:
  - {name: "1", command: "echo 1"}
  - {name: "2", depends: "1", command: "echo 2", output: OUT}
""", "succeeded", 0, outputs={"OUT": "2"}, source="v1 testdata depends.yaml"),
    Case("v1-complex-dependencies", """
type: graph
steps:
  - {name: start, command: echo start, output: START}
  - {name: branch1, command: echo branch1, depends: start, output: BRANCH1}
  - {name: branch2, command: echo branch2, depends: start, output: BRANCH2}
  - {name: merge, command: echo merge, depends: [branch1, branch2], output: MERGE}
  - {name: final, command: echo final, depends: merge, output: FINAL}
""", "succeeded", 0, outputs={"START": "start", "BRANCH1": "branch1", "BRANCH2": "branch2",
                              "MERGE": "merge", "FINAL": "final"},
         source="v1 TestComplexDependencies"),
    Case("v1-depends-on-an-id", """
type: graph
steps:
  - {name: extract data, id: extract, command: echo raw, output: RAW}
  - {name: load, depends: extract, command: "echo loaded-$RAW", output: DONE}
""", "succeeded", 0, outputs={"DONE": "loaded-raw"}, source="v1 step_id_test"),
    Case("v1-steps-as-a-map", """
steps:
  alpha:
    command: echo alpha
    output: A
  beta:
    command: "echo beta-$A"
    output: B
""", "succeeded", 0, outputs={"A": "alpha", "B": "beta-alpha"},
         source="v1 builder buildSteps map form"),
    Case("v1-keys-in-any-case", """
Name: shouting
Steps:
  - Name: a
    Command: "false"
    ContinueOn: {Failure: true, MarkSuccess: true}
  - NAME: b
    COMMAND: echo done
    OUTPUT: DONE
HandlerOn:
  Exit: {Command: echo bye}
""", "succeeded", 0, steps={"a": "succeeded", "b": "succeeded"}, outputs={"DONE": "done"},
         handlers={"onExit": "succeeded"}, source="v1 mapstructure decode (case-insensitive)"),

    # -- v1: continueOn and partial success -------------------------------------------------
    Case("v1-partial-success", """
steps:
  - name: fail-step
    command: exit 1
    continueOn: {failure: true}
  - name: success-step
    command: echo ran anyway
""", "partially_succeeded", 1, steps={"fail-step": "failed", "success-step": "succeeded"},
         source="v1 partial_success_test basic"),
    Case("v1-mark-success", """
steps:
  - name: fail-step
    command: exit 1
    continueOn: {failure: true, markSuccess: true}
  - name: success-step
    command: echo ran
""", "succeeded", 0, steps={"fail-step": "succeeded", "success-step": "succeeded"},
         source="v1 partial_success_test markSuccess"),
    Case("v1-single-allowed-failure-is-a-failure", """
steps:
  - name: fail-step
    command: exit 1
    continueOn: {failure: true}
""", "failed", 1, steps={"fail-step": "failed"}, source="v1 partial_success_test single"),
    Case("v1-single-marked-success", """
steps:
  - name: fail-step
    command: exit 1
    continueOn: {failure: true, markSuccess: true}
""", "succeeded", 0, source="v1 partial_success_test single markSuccess"),
    Case("v1-continue-on-exit-code", """
steps:
  - name: picky
    command: exit 2
    continueOn: {exitCode: [1, 2]}
  - {name: next, command: echo next, output: N}
""", "partially_succeeded", 1, steps={"picky": "failed", "next": "succeeded"},
         outputs={"N": "next"}, exit_codes={"picky": 2}, source="v1 continueOn.exitCode"),
    Case("v1-continue-on-other-exit-code-stops", """
steps:
  - name: picky
    command: exit 3
    continueOn: {exitCode: 2}
  - {name: next, command: echo next}
""", "failed", 1, steps={"picky": "failed", "next": "cancelled"}),
    Case("v1-continue-on-output-pattern", """
steps:
  - name: noisy
    command: >-
      sh -c 'echo "WARNING: disk nearly full"; exit 1'
    continueOn:
      output: ["WARNING"]
  - {name: next, command: "true"}
""", "partially_succeeded", 1, steps={"noisy": "failed", "next": "succeeded"},
         source="v1 docs continueOn.output"),
    Case("v1-continue-on-output-regex", """
steps:
  - name: noisy
    command: sh -c 'echo "retry code 42"; exit 1'
    continueOn:
      output: "re:code [0-9]+$"
      markSuccess: true
  - {name: next, command: "true"}
""", "succeeded", 0, steps={"noisy": "succeeded", "next": "succeeded"}),
    Case("v1-continue-on-skipped", """
steps:
  - name: maybe
    command: echo never
    preconditions: ["test -f /nonexistent/file"]
    continueOn: {skipped: true}
  - {name: next, command: echo next, output: N}
""", "succeeded", 0, steps={"maybe": "skipped", "next": "succeeded"}, outputs={"N": "next"}),
    Case("v1-skipped-skips-downstream", """
steps:
  - name: maybe
    command: echo never
    preconditions: ["false"]
  - {name: next, command: echo next}
""", "succeeded", 0, steps={"maybe": "skipped", "next": "skipped"},
         source="v1 scheduler isReady: upstream skipped"),

    # -- v1: preconditions --------------------------------------------------------------------
    Case("v1-preconditions-skip-and-run", """
type: graph
steps:
  - {name: run-step, command: echo executed, output: OUT_RUN}
  - name: skip-step
    command: echo never
    preconditions:
      - condition: "`echo no`"
        expected: "yes"
    output: OUT_SKIP
  - name: run-step2
    command: echo "should execute"
    preconditions:
      - condition: "`echo yes`"
        expected: "yes"
    output: OUT_SKIP2
""", "succeeded", 0, steps={"run-step": "succeeded", "skip-step": "skipped",
                            "run-step2": "succeeded"},
         outputs={"OUT_RUN": "executed", "OUT_SKIP2": "should execute"},
         source="v1 TestSkippedPreconditions"),
    Case("v1-singular-precondition-with-regex", """
steps:
  - {name: test, command: echo abc run def, output: OUT1}
  - name: test2
    command: echo match
    depends: test
    output: OUT2
    precondition:
      - condition: "$OUT1"
        expected: "re:^abc.*def$"
""", "succeeded", 0, outputs={"OUT1": "abc run def", "OUT2": "match"},
         source="v1 testdata precondition-regex.yaml"),
    Case("v1-precondition-on-output-and-params", """
params: bar
steps:
  - {name: step1, command: echo start, output: OUT1}
  - name: foo
    command: echo foo
    depends: [step1]
    output: OUT2
    preconditions:
      - condition: $OUT1
        expected: start
  - name: bar
    command: echo bar
    depends: [step1]
    output: OUT3
    preconditions:
      - condition: "$1"
        expected: bar
""", "succeeded", 0, outputs={"OUT1": "start", "OUT2": "foo", "OUT3": "bar"},
         source="v1 testdata issue-810.yaml"),
    Case("v1-dag-preconditions-unmet-cancel-the-run", """
preconditions:
  - condition: "`echo monday`"
    expected: "sunday"
steps:
  - {name: a, command: "touch ran"}
""", "cancelled", 0, steps={"a": "cancelled"},
         source="v1 scheduler: unmet DAG preconditions cancel (no error)"),
    Case("v1-precondition-command-exit-status", """
steps:
  - name: a
    command: echo yes
    preconditions: ["test -d /"]
    output: A
""", "succeeded", 0, outputs={"A": "yes"}),

    # -- v1: retry, repeat, timeouts -----------------------------------------------------
    Case("v1-retry-until-it-works", """
steps:
  - name: flaky
    command: sh -c 'echo . >> tries; [ $(wc -l < tries) -ge 3 ]'
    retryPolicy: {limit: 4, intervalSec: 0}
""", "succeeded", 0, attempts={"flaky": 3}, source="v1 scheduler_test RetryPolicySuccess"),
    Case("v1-retry-exhausted", """
steps:
  - name: never
    command: "false"
    retryPolicy: {limit: 2, intervalSec: 0}
""", "failed", 1, attempts={"never": 3}, source="v1 scheduler_test RetryPolicyFail"),
    Case("v1-retry-only-listed-exit-codes", """
steps:
  - name: wrong-code
    command: exit 5
    retryPolicy: {limit: 3, intervalSec: 0, exitCode: [1]}
""", "failed", 1, attempts={"wrong-code": 1}, exit_codes={"wrong-code": 5},
         source="v1 retryPolicy.exitCode"),
    Case("v1-repeat-with-limit", """
steps:
  - name: repeat-step
    command: echo run
    repeatPolicy: {repeat: true, limit: 3, intervalSec: 0}
""", "succeeded", 0, attempts={"repeat-step": 3}, source="v1 repeat-with-limit.yaml"),
    Case("v1-repeat-limit-before-condition", """
steps:
  - name: count
    command: sh -c 'echo . >> runs; wc -l < runs'
    output: COUNT
    repeatPolicy:
      repeat: true
      limit: 5
      intervalSec: 0
      condition: "`wc -l < runs`"
      expected: "10"
""", "succeeded", 0, attempts={"count": 5}, source="v1 repeat-limit-condition.yaml"),
    Case("v1-repeat-until-expected", """
steps:
  - name: count
    command: sh -c 'echo . >> runs'
    repeatPolicy:
      condition: "`wc -l < runs | tr -d ' '`"
      expected: "3"
      intervalSec: 0
""", "succeeded", 0, attempts={"count": 3}, source="v1 repeat with condition/expected"),
    Case("v1-repeat-while-exit-code", """
steps:
  - name: repeat-on-fail
    command: sh -c 'echo . >> runs; [ $(wc -l < runs) -ge 3 ]'
    repeatPolicy: {exitCode: [1], limit: 5, intervalSec: 0}
""", "succeeded", 0, attempts={"repeat-on-fail": 3}, source="v1 repeat-on-exitcode"),
    Case("v1-step-timeout-is-a-failure", """
steps:
  - {name: slow, command: sleep 5, timeoutSec: 0.3}
  - {name: after, command: "true"}
""", "failed", 1, steps={"slow": "failed", "after": "cancelled"}, exit_codes={"slow": 124}),
    Case("v1-dag-timeout-fails-the-run", """
timeoutSec: 1
steps:
  - {name: quick, command: "true"}
  - {name: slow, command: sleep 10}
  - {name: never, command: "true"}
""", "failed", 1, steps={"quick": "succeeded", "slow": "cancelled", "never": "cancelled"},
         source="v1 scheduler_test Timeout"),

    # -- v1: commands, shells, scripts, params, variables --------------------------------
    Case("v1-pipe-through-the-shell", """
params:
  - NAME: "foo"
steps:
  - name: step1
    command: echo hello $NAME | xargs echo
    output: OUT1
""", "succeeded", 0, outputs={"OUT1": "hello foo"}, source="v1 testdata pipe.yaml"),
    Case("v1-command-list-is-argv", """
steps:
  - name: argv
    command: [printf, "%s|%s", "a b", c]
    output: OUT
""", "succeeded", 0, outputs={"OUT": "a b|c"}, source="v1 command.go list form"),
    Case("v1-named-params-map", """
params:
  NAME: "Dagu"
  AGE: 30
steps:
  - {name: Hello, command: echo $NAME, output: OUT1}
  - {name: Name, command: "echo Hello, $NAME", depends: Hello, output: OUT2}
""", "succeeded", 0, outputs={"OUT1": "Dagu", "OUT2": "Hello, Dagu"},
         source="v1 testdata named-params.yaml"),
    Case("v1-named-params-list-overridden", """
params:
  - NAME: "Dagu"
  - GREETING: "Hello"
steps:
  - {name: s, command: "echo $GREETING, $NAME", output: OUT}
""", "succeeded", 0, params="NAME=World", outputs={"OUT": "Hello, World"}),
    Case("v1-positional-params", """
params: "foo bar"
steps:
  - name: step1
    output: OUT1
    command: echo '$1' is $1, '$2' is $2
""", "succeeded", 0, outputs={"OUT1": "$1 is foo, $2 is bar"},
         source="v1 testdata positional-params.yaml"),
    Case("v1-positional-params-in-a-script", """
params: "foo bar"
steps:
  - name: step1
    output: OUT1
    script: |
      echo '$1' is $1, '$2' is ${2}
""", "succeeded", 0, outputs={"OUT1": "$1 is foo, $2 is bar"},
         source="v1 testdata positional-params-script.yaml"),
    Case("v1-script", """
steps:
  - name: step1
    script: |
      for i in 1 2 3; do printf "%s " $i; done
    output: OUT1
""", "succeeded", 0, outputs={"OUT1": "1 2 3"}, source="v1 testdata script.yaml"),
    Case("v1-script-with-an-interpreter", """
steps:
  - name: py
    command: python3
    script: |
      print(sum(range(5)))
    output: OUT
""", "succeeded", 0, outputs={"OUT": "10"}, source="v1 command + script (perl-script.yaml)"),
    Case("v1-env-and-script", """
env:
  - E1: foo
  - E2: bar
steps:
  - name: step1
    output: OUT1
    script: |
      echo E1 is $E1, E2 is $E2
""", "succeeded", 0, outputs={"OUT1": "E1 is foo, E2 is bar"},
         source="v1 testdata env-script.yaml"),
    Case("v1-env-from-params", """
params: "BASE=/data"
env:
  - ROOT: ${BASE}/root
  - OUT_DIR: ${ROOT}/out
steps:
  - {name: s, command: echo $OUT_DIR, output: OUT}
""", "succeeded", 0, outputs={"OUT": "/data/root/out"}),
    Case("v1-env-with-command-substitution", """
env:
  - STAMP: "`echo 20240101`"
steps:
  - {name: s, command: echo "day $STAMP", output: OUT}
""", "succeeded", 0, outputs={"OUT": "day 20240101"}, source="v1 docs backtick values"),
    Case("v1-json-path-of-an-output", """
steps:
  - name: get config
    command: |
      echo '{"port": 8080, "host": "localhost"}'
    output: CONFIG
  - name: start server
    command: echo "Starting server at ${CONFIG.host}:${CONFIG.port}"
    output: OUT1
    depends: get config
""", "succeeded", 0, outputs={"OUT1": "Starting server at localhost:8080"},
         source="v1 testdata json.yaml"),
    Case("v1-special-variables", """
steps:
  - {name: step1, command: echo $DAG_RUN_LOG_FILE, output: OUT1}
  - {name: step2, command: echo $DAG_RUN_STEP_STDOUT_FILE, output: OUT2}
  - {name: step3, command: echo $DAG_RUN_STEP_NAME, output: OUT3}
  - name: step4
    command: sh
    output: OUT4
    script: |
      echo $DAG_NAME
  - {name: step5, command: echo $DAG_RUN_ID, output: OUT5}
""", "succeeded", 0, outputs={"OUT1": contains("dag.log"), "OUT2": contains("step2.out"),
                              "OUT3": "step3", "OUT4": "dag", "OUT5": contains("-")},
         source="v1 testdata special-vars.yaml"),
    Case("v1-dir-with-tilde-and-variables", """
env:
  - WHERE: /tmp
steps:
  - {name: step1, dir: "~", command: pwd, output: OUT1}
  - {name: step2, dir: $WHERE, command: pwd, output: OUT2}
""", "succeeded", 0, outputs={"OUT1": "@HOME", "OUT2": "/tmp"},
         source="v1 testdata workdir.yaml"),
    Case("v1-shell-with-options", """
steps:
  - name: step1
    command: |
      echo 'hello world' | cat
    shell: sh -e -c
    output: OUT1
""", "succeeded", 0, outputs={"OUT1": "hello world"}, source="v1 testdata shellopts.yaml"),
    Case("v1-default-shell-is-shell-variable", """
steps:
  - {name: which, command: 'echo "$0"', output: OUT}
""", "succeeded", 0, env={"SHELL": "/bin/sh"}, outputs={"OUT": "dag"},
         source="v1 cmdutil.GetShellCommand: $SHELL else sh"),
    Case("v1-dotenv-files", """
dotenv:
  - first.env
  - second.env
steps:
  - name: step1
    command: echo "${ENV1} ${ENV2}"
    output: OUT1
""", "succeeded", 0, files={"first.env": "ENV1=123\n", "second.env": "ENV2=abc\n"},
         outputs={"OUT1": "123 abc"}, source="v1 testdata dotenv.yaml"),
    Case("v1-stdout-to-a-file", """
env:
  - TARGET: out.txt
steps:
  - {name: write, command: echo foo, stdout: "${TARGET}"}
  - {name: read, command: cat out.txt, output: OUT1}
""", "succeeded", 0, outputs={"OUT1": "foo"}, source="v1 testdata environment-var.yaml"),
    Case("v1-output-trimmed", """
steps:
  - name: spaced
    command: printf '  padded  \\n\\n'
    output: OUT
""", "succeeded", 0, outputs={"OUT": "padded"}),
    Case("v1-output-larger-than-the-limit-fails-the-step", """
maxOutputSize: 51200
steps:
  - name: custom-limit-test
    command: python3 -c "print('x' * (100 * 1024))"
    output: RESULT
""", "failed", 1, steps={"custom-limit-test": "failed"},
         source="v1 node_output_test.go TestNode_CustomOutputLimit (the concurrent capture's "
                "error; [OUTPUT TRUNCATED] is its unused fallback)"),
    Case("v1-missing-command-is-127", """
steps:
  - {name: nope, command: no-such-command-here}
""", "failed", 1, exit_codes={"nope": 127}),
    Case("v1-script-without-shebang-runs-through-sh", """
steps:
  - {name: make, command: "sh -c 'printf \\"echo from-script\\" > plain; chmod +x plain'"}
  - {name: run, command: ./plain, output: OUT}
""", "succeeded", 0, outputs={"OUT": "from-script"}, source="execvp's ENOEXEC rule"),

    # -- v1: handlers --------------------------------------------------------------------
    Case("v1-handlers-on-failure", """
steps:
  - {name: bad, command: "false"}
handlerOn:
  success: {command: echo ok}
  failure: {command: echo "status $DAG_RUN_STATUS"}
  exit: {command: echo bye}
""", "failed", 1, handlers={"onFailure": "succeeded", "onExit": "succeeded"},
         logs={"onFailure": "status failed"}, source="v1 scheduler handlers"),
    Case("v1-handlers-on-success", """
steps:
  - {name: good, command: "true"}
handlerOn:
  success: {command: echo ok}
  failure: {command: echo bad}
""", "succeeded", 0, handlers={"onSuccess": "succeeded"}),
    Case("v1-success-handler-on-partial-success", """
steps:
  - {name: bad, command: "false", continueOn: {failure: true}}
  - {name: good, command: "true"}
handlerOn:
  success: {command: echo ok}
""", "partially_succeeded", 1, handlers={"onSuccess": "succeeded"},
         source="v1 scheduler: PartialSuccess runs onSuccess"),
    Case("v1-failing-exit-handler-fails-the-run", """
steps:
  - {name: good, command: "true"}
handlerOn:
  exit: {command: "false"}
""", "failed", 1, handlers={"onExit": "failed"}, source="v1 scheduler: handler error is lastError"),
    Case("v1-cancel-handler-on-unmet-preconditions", """
preconditions: ["false"]
steps:
  - {name: a, command: "true"}
handlerOn:
  cancel: {command: echo cancelled}
  exit: {command: echo bye}
""", "cancelled", 0, handlers={"onCancel": "succeeded", "onExit": "succeeded"}),

    # -- v1: sub-DAGs, local DAGs, parallel ----------------------------------------------
    Case("v1-run-a-sub-dag-and-read-its-outputs", """
steps:
  - {name: step1, run: sub, params: "SUB_P1=foo", output: OUT1}
  - name: step2
    command: echo "${OUT1.outputs.OUT}"
    output: OUT2
    depends: [step1]
""", "succeeded", 0, files={"sub.yaml": "params:\n  SUB_P1: xyz\nsteps:\n"
                                         "  - name: step1\n    command: echo $SUB_P1\n"
                                         "    output: OUT\n"},
         outputs={"OUT2": "foo"}, source="v1 testdata call-sub.yaml"),
    Case("v1-nested-three-levels", """
steps:
  - {name: child, run: middle, params: "PARAM=123", output: CHILD_OUTPUT}
  - name: output
    command: "echo ${CHILD_OUTPUT.outputs.OUTPUT}"
    output: OUT1
    depends: [child]
""", "succeeded", 0, files={
        "middle.yaml": "params:\n  PARAM: VALUE\nsteps:\n  - name: child\n    run: leaf\n"
                       "    params: \"PARAM=${PARAM}\"\n    output: GC\n  - name: output\n"
                       "    command: \"echo ${GC.outputs.OUTPUT}\"\n    depends: [child]\n"
                       "    output: OUTPUT\n",
        "leaf.yaml": "params:\n  PARAM: VALUE\nsteps:\n  - name: grand_child\n"
                     "    command: \"echo value is ${PARAM}\"\n    output: OUTPUT\n"},
         outputs={"OUT1": "value is 123"}, source="v1 testdata nested_parent.yaml"),
    Case("v1-failing-sub-dag-fails-its-step", """
steps:
  - {name: call, run: failing-child}
  - {name: after, command: "true"}
""", "failed", 1, files={"failing-child.yaml": FAILING_CHILD},
         steps={"call": "failed", "after": "cancelled"}),
    Case("v1-local-dag-after-separator", """
steps:
  - {name: call-local, run: worker, params: "NAME=local", output: RES}
  - {name: show, command: "echo ${RES.outputs.GREETING}", output: OUT}
---
name: worker
params: "NAME=none"
steps:
  - {name: greet, command: "echo hi ${NAME}", output: GREETING}
""", "succeeded", 0, outputs={"OUT": "hi local"}, source="v1 localdag_test"),
    Case("v1-parallel-over-items", """
steps:
  - name: process-items
    run: child-echo
    parallel:
      items: [item1, item2, item3]
      maxConcurrent: 2
    output: RESULTS
""", "succeeded", 0, files={"child-echo.yaml": CHILD_ECHO},
         outputs={"RESULTS": contains('"total": 3', '"succeeded": 3', "Processing item2")},
         attempts={"process-items": 3}, source="v1 parallel-simple.yaml"),
    Case("v1-parallel-over-a-json-param", """
params:
  - ITEMS: '["alpha", "beta", "gamma", "delta"]'
steps:
  - {name: fan, run: child-echo, parallel: "${ITEMS}"}
""", "succeeded", 0, files={"child-echo.yaml": CHILD_ECHO}, attempts={"fan": 4},
         source="v1 parallel-variable.yaml"),
    Case("v1-parallel-over-words", """
env:
  - SERVERS: "server1 server2 server3"
steps:
  - {name: fan, run: child-echo, parallel: $SERVERS}
""", "succeeded", 0, files={"child-echo.yaml": CHILD_ECHO}, attempts={"fan": 3},
         source="v1 parallel-space-separated.yaml"),
    Case("v1-parallel-objects-as-params", """
steps:
  - name: regions
    run: child-out
    parallel:
      items:
        - {P: us-east-1}
        - {P: eu-west-1}
    output: RES
  - {name: first, command: "echo ${RES.outputs[0].OUTPUT}", output: FIRST}
""", "succeeded", 0, files={"child-out.yaml": CHILD_OUT},
         outputs={"FIRST": "value is us-east-1"}, source="v1 parallel-objects.yaml"),
    Case("v1-parallel-deduplicates-items", """
steps:
  - {name: fan, run: child-echo, parallel: [a, b, a, b, c]}
""", "succeeded", 0, files={"child-echo.yaml": CHILD_ECHO}, attempts={"fan": 3},
         source="v1 parallel_test deduplication"),
    Case("v1-parallel-with-a-failing-child", """
steps:
  - {name: fan, run: "${CHILD}", parallel: [x, y]}
""", "failed", 1, env={"CHILD": "failing-child"},
         files={"failing-child.yaml": FAILING_CHILD}, steps={"fan": "failed"}),

    # -- v2: schema, forms, names ---------------------------------------------------------
    Case("v2-string-steps-chain", """
steps:
  - echo hello
  - echo world
""", "succeeded", 0, schema="v2", steps={"cmd_1": "succeeded", "cmd_2": "succeeded"},
         logs={"cmd_2": "world"}, source="v2 builder normalizeStepData, generated names"),
    Case("v2-generated-names-by-kind", """
type: graph
steps:
  - command: echo a
  - script: |
      echo b
  - command: |
      echo c
      echo d
  - id: named_by_id
    command: echo e
""", "succeeded", 0, schema="v2", steps={"cmd_1": "succeeded", "script_2": "succeeded",
                                         "script_3": "succeeded", "named_by_id": "succeeded"},
         source="v2 generateTypedStepName"),
    Case("v2-several-command-lines", """
steps:
  - name: multi-cmd
    command:
      - echo hello
      - echo world
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "hello\nworld"},
         source="v2 mltcmd_test TwoCommands"),
    Case("v2-command-lines-stop-at-the-first-failure", """
steps:
  - name: multi-cmd
    command:
      - echo "first runs"
      - "false"
      - echo "should not run"
""", "failed", 1, schema="v2", steps={"multi-cmd": "failed"},
         logs={"multi-cmd": "first runs"}, source="v2 mltcmd_test SecondCommandFails"),
    Case("v2-exec-without-a-shell", """
steps:
  - name: direct
    exec:
      command: printf
      args: ["%s-%s", "a;b", 7]
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "a;b-7"}, source="v2 buildExecCommand"),
    Case("v2-errexit-in-the-default-shell", """
max_active_steps: 1
steps:
  - name: stops-early
    command: |
      false
      echo unreachable
""", "failed", 1, schema="v2", steps={"stops-early": "failed"},
         source="v2 unixShell.Build adds -e"),
    Case("v1-no-errexit", """
steps:
  - name: goes-on
    command: |
      false
      echo reached
    output: OUT
""", "succeeded", 0, outputs={"OUT": "reached"}, source="v1 shell -c without -e"),
    Case("v2-step-shell-without-errexit", """
max_active_steps: 1
steps:
  - name: own-shell
    shell: sh
    command: |
      false
      echo reached
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "reached"},
         source="v2: a step's own shell gets no -e"),
    Case("v2-dag-shell-list", """
shell: ["sh", "-u"]
steps:
  - name: strict
    command: echo "$UNSET_VARIABLE_X"
""", "failed", 1, schema="v2", steps={"strict": "failed"}, source="v2 DAG-level shell"),
    Case("v2-shell-direct", """
shell: direct
steps:
  - name: no-shell
    command: printf "%s" "$HOME;x"
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "@HOME;x"}, source="v2 directShell"),
    Case("v2-depends-needs-type-graph", """
type: graph
max_active_steps: 2
steps:
  - name: a
    command: echo a
    output: A
  - name: b
    command: echo "b after ${A}"
    depends: [a]
    output: B
""", "succeeded", 0, schema="v2", outputs={"B": "b after a"}),
    Case("v2-parallel-group-in-a-chain", """
steps:
  - command: echo start
  - - {name: left, command: echo left}
    - {name: right, command: "false"}
  - {name: joined, command: echo joined}
""", "failed", 1, schema="v2", steps={"cmd_1": "succeeded", "left": "succeeded",
                                      "right": "failed", "joined": "aborted"},
         source="v2 buildSteps nested list"),
    Case("v2-steps-as-a-map-run-in-parallel", """
type: graph
max_active_steps: 2
steps:
  beta:
    command: echo beta
  alpha:
    command: echo alpha
""", "succeeded", 0, schema="v2", steps={"alpha": "succeeded", "beta": "succeeded"}),

    # -- v2: flow --------------------------------------------------------------------------
    Case("v2-aborted-downstream", """
max_active_steps: 1
steps:
  - {name: a, command: "true"}
  - {name: b, command: "exit 3"}
  - {name: c, command: "true"}
""", "failed", 1, schema="v2", steps={"a": "succeeded", "b": "failed", "c": "aborted"},
         exit_codes={"b": 3}),
    Case("v2-continue-on-failed-string", """
steps:
  - {name: a, command: "exit 1", continue_on: failed}
  - {name: b, command: echo b, output: B}
""", "partially_succeeded", 1, schema="v2", outputs={"B": "b"},
         source="v2 ContinueOnValue string form"),
    Case("v2-continue-on-skipped-string", """
steps:
  - {name: a, command: echo a, preconditions: "false", continue_on: skipped}
  - {name: b, command: echo b}
""", "succeeded", 0, schema="v2", steps={"a": "skipped", "b": "succeeded"}),
    Case("v2-mark-success", """
steps:
  - name: a
    command: exit 1
    continue_on: {failure: true, mark_success: true}
  - {name: b, command: "true"}
""", "succeeded", 0, schema="v2", steps={"a": "succeeded", "b": "succeeded"}),
    Case("v2-exit-code-reference", """
type: graph
steps:
  - {id: success, command: exit 0}
  - id: failure
    command: exit 42
    continue_on: {failure: true}
  - depends: [success, failure]
    command: |
      echo "success_code=${success.exitCode}"
      echo "failure_code=${failure.exitCode}"
    output: EXIT_CODES
""", "partially_succeeded", 1, schema="v2",
         outputs={"EXIT_CODES": "success_code=0\nfailure_code=42"},
         source="v2 stepref_test ExitCodeAccess"),
    Case("v2-stdout-reference-is-the-log-path", """
type: graph
steps:
  - {id: gen, command: echo data, output: GEN}
  - depends: [gen]
    command: cat "${gen.stdout}"
    output: READ
""", "succeeded", 0, schema="v2", outputs={"READ": "data"},
         source="v2 stepref_test stdout file access"),
    Case("v2-variable-json-path-wins-over-step-property", """
type: graph
steps:
  - id: check
    command: echo '{"status":"from-step"}'
    output: check
  - depends: [check]
    command: echo "variable=${check.status}"
    output: PRECEDENCE
""", "succeeded", 0, schema="v2", outputs={"PRECEDENCE": "variable=from-step"},
         source="v2 stepref_test precedence"),
    Case("v2-substring-expansion", """
max_active_steps: 1
params:
  - UID: HBL01_22OCT2025_0536
steps:
  - {name: s, command: 'echo "prefix ${UID:0:5} suffix"', output: OUT}
""", "succeeded", 0, schema="v2", env={"SHELL": "/bin/sh"},
         outputs={"OUT": "prefix HBL01 suffix"}, source="v2 eval ShellSubstringExpansion"),
    Case("v2-precondition-negate", """
params:
  - ENV_TYPE: staging
preconditions:
  - condition: "${ENV_TYPE}"
    expected: production
    negate: true
steps:
  - {command: echo "dag ran", output: OUT1}
""", "succeeded", 0, schema="v2", outputs={"OUT1": "dag ran"}, source="v2 cfg_test negate"),
    Case("v2-preconditions-abort-the-run", """
preconditions: "false"
handler_on:
  init:
    command: echo init-should-not-run
steps:
  - name: step1
    command: "true"
""", "aborted", 0, schema="v2", steps={"step1": "aborted"},
         source="v2 handler_test InitHandler_DAGPreconditionFails"),
    Case("v2-retry-with-backoff", """
steps:
  - name: flaky
    command: sh -c 'echo . >> tries; [ $(wc -l < tries) -ge 3 ]'
    retry_policy: {limit: 3, interval_sec: 0, backoff: 2.0}
""", "succeeded", 0, schema="v2", attempts={"flaky": 3}, source="v2 backoff_test"),
    Case("v2-timeout-preempts-retries", """
steps:
  - name: slow
    command: sleep 5
    timeout_sec: 1
    retry_policy: {limit: 5, interval_sec: 0}
""", "failed", 1, schema="v2", attempts={"slow": 1}, exit_codes={"slow": 124},
         source="v2 runner_test TimeoutPreemptsRetriesAndMarksFailed"),
    Case("v2-repeat-while-with-limit", """
steps:
  - command: echo run
    repeat_policy: {repeat: while, exit_code: [0], limit: 3, interval_sec: 0}
""", "succeeded", 0, schema="v2", attempts={"cmd_1": 3}, source="v2 repeat_test limit"),
    Case("v2-repeat-true-with-limit", """
steps:
  - command: "true"
    repeat_policy: {repeat: true, limit: 4, interval_sec: 0}
""", "succeeded", 0, schema="v2", attempts={"cmd_1": 4},
         source="v2 repeat_test BackwardCompatibilityTrue"),
    Case("v2-repeat-until-exit-code", """
steps:
  - name: counter
    script: |
      echo . >> runs
      [ "$(wc -l < runs)" -ge 3 ]
    repeat_policy: {repeat: until, exit_code: [0], interval_sec: 0}
    continue_on: {failure: true, mark_success: true, exit_code: [1]}
""", "succeeded", 0, schema="v2", attempts={"counter": 3},
         source="v2 repeat_test UntilWithExitCode"),
    Case("v2-repeat-while-condition-command", """
steps:
  - name: touch-once
    command: touch flag
    repeat_policy: {repeat: while, condition: "test ! -f flag", interval_sec: 0, limit: 2}
""", "succeeded", 0, schema="v2", attempts={"touch-once": 1},
         source="v2 repeat_test CommandConditionWithHomeRelativeDAGEnvVar"),
    Case("v2-defaults-apply-to-every-step", """
defaults:
  retry_policy: {limit: 2, interval_sec: 0}
  env:
    - GREETING: hi
steps:
  - name: flaky
    command: sh -c 'echo . >> tries; [ $(wc -l < tries) -ge 2 ]'
  - name: greet
    command: echo "$GREETING"
    output: OUT
""", "succeeded", 0, schema="v2", attempts={"flaky": 2}, outputs={"OUT": "hi"},
         source="v2 defaults.go applyDefaults; example 1"),
    Case("v2-step-overrides-defaults", """
defaults:
  continue_on: failed
steps:
  - {name: allowed, command: "false"}
  - name: strict
    command: "false"
    continue_on: {failure: false}
  - {name: never, command: "true"}
""", "failed", 1, schema="v2", steps={"allowed": "failed", "strict": "failed",
                                      "never": "aborted"}, source="v2 example 4"),
    Case("v2-dag-timeout-aborts-steps", """
timeout_sec: 1
steps:
  - {name: quick, command: "true"}
  - {name: slow, command: sleep 10}
""", "failed", 1, schema="v2", steps={"quick": "succeeded", "slow": "aborted"},
         source="v2 runner_test Timeout: failed, steps aborted"),
    Case("v2-output-over-the-limit-fails", """
max_output_size: 100
steps:
  - name: big
    command: python3 -c "print('x' * 500)"
    output: BIG
""", "failed", 1, schema="v2", steps={"big": "failed"},
         source="v2 outputCapture: exceeded limit is an error"),
    Case("v2-working-dir-relative-to-the-file", """
working_dir: sub
steps:
  - {name: where, command: pwd, output: OUT}
  - {name: inner, working_dir: deeper, command: pwd, output: INNER}
""", "succeeded", 0, schema="v2", outputs={"OUT": contains("/sub"),
                                           "INNER": contains("/sub/deeper")},
         source="v2 workingdir_test"),
    Case("v2-steps-run-in-the-run-work-dir", """
max_active_steps: 1
steps:
  - {name: where, command: pwd, output: OUT}
  - {name: same, command: 'echo "$DAG_RUN_WORK_DIR"', output: WORK}
""", "succeeded", 0, schema="v2", outputs={"OUT": contains("/work"),
                                           "WORK": contains("/work")},
         source="v2 runtime env.go dagRunWorkDir"),
    Case("v2-params-json-and-typed-params", """
params:
  - name: ENV
    type: string
    enum: [DEV, STG, PROD]
    default: STG
  - name: BATCH_SIZE
    type: integer
    default: 100
steps:
  - name: show
    command: echo "${BATCH_SIZE} in ${ENV}"
    output: OUT
  - {name: js, command: 'echo "$DAG_PARAMS_JSON"', output: JS}
""", "succeeded", 0, schema="v2", outputs={"OUT": "100 in STG",
                                           "JS": contains('"ENV":"STG"')},
         source="v2 example 3 (typed params)"),
    Case("v2-object-form-outputs", """
type: graph
steps:
  - id: publish_version
    output:
      version: "2.5.0"
  - id: publish_release
    output:
      label: "v${publish_version.output.version}"
    depends: [publish_version]
  - id: deploy
    command: echo "deploying ${publish_release.output.label}"
    depends: [publish_release]
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "deploying v2.5.0"},
         source="v2 example 2 output-passing"),
    Case("v2-object-output-from-stdout-json", """
type: graph
steps:
  - id: produce
    command: echo '{"title":"done","n":3}'
    output:
      title: {from: stdout, decode: json, select: .title}
  - {command: "echo ${produce.output.title}", depends: [produce], output: OUT}
""", "succeeded", 0, schema="v2", outputs={"OUT": "done"},
         source="v2 step output object from/decode/select"),
    Case("v2-handlers-init-success-exit", """
handler_on:
  init: {command: echo starting}
  success: {command: echo "final $DAG_RUN_STATUS"}
  exit: {command: echo cleanup}
steps:
  - {name: step-1, command: echo one}
""", "succeeded", 0, schema="v2", handlers={"onInit": "succeeded", "onSuccess": "succeeded",
                                            "onExit": "succeeded"},
         logs={"onSuccess": "final succeeded"}, source="v2 handler_test; example 6"),
    Case("v2-failing-init-aborts", """
handler_on:
  init: {command: exit 1}
  exit: {command: "true"}
steps:
  - {name: step1, command: echo should-not-run}
""", "aborted", 1, schema="v2", steps={"step1": "aborted"},
         handlers={"onInit": "failed", "onExit": "succeeded"},
         source="v2 handler_test InitHandler_Failure_StopsExecution"),
    Case("v2-skipped-init-lets-steps-run", """
handler_on:
  init:
    command: echo init-should-not-run
    preconditions: "false"
steps:
  - {name: step1, command: "true"}
""", "succeeded", 0, schema="v2", handlers={"onInit": "skipped"},
         steps={"step1": "succeeded"}, source="v2 handler_test InitHandler_PreconditionSkip"),
    Case("v2-abort-handler-on-unmet-preconditions", """
preconditions: "false"
handler_on:
  abort: {command: echo aborted}
steps:
  - {name: a, command: "true"}
""", "aborted", 0, schema="v2", handlers={"onAbort": "succeeded"}),
    Case("v2-call-a-local-dag", """
steps:
  - name: run-local-child
    call: local-child
    params: "NAME=World"
    output: SUB_RESULT
  - echo "Child said ${SUB_RESULT.outputs.GREETING}"
---
name: local-child
params:
  - NAME
steps:
  - command: echo "Hello, ${NAME}!"
    output: GREETING
""", "succeeded", 0, schema="v2", steps={"run-local-child": "succeeded"},
         logs={"cmd_2": "Child said Hello, World!"}, source="v2 subdag_test SimpleExecution"),
    Case("v2-call-a-file-and-use-step-outputs", """
steps:
  - {name: gen, call: child-out, params: "P=42"}
  - "echo got ${gen.outputs.OUTPUT}"
""", "succeeded", 0, schema="v2", files={"child-out.yaml": CHILD_OUT},
         logs={"cmd_2": "got value is 42"}, source="issue 11: ${step.outputs.KEY}"),
    Case("v2-parallel-with-max-concurrent-and-item", """
steps:
  - name: fan
    call: child-echo
    parallel:
      items: [one, two, three]
      max_concurrent: 1
    params: "ITEM=${ITEM}"
    output: RESULTS
""", "succeeded", 0, schema="v2", files={"child-echo.yaml": CHILD_ECHO},
         attempts={"fan": 3}, outputs={"RESULTS": contains('"total": 3', '"succeeded": 3')},
         source="v2 parallel_test"),
    Case("v2-schedule-is-checked-not-run", """
schedule: "0 2 * * *"
max_active_steps: 1
steps:
  - {name: once, command: echo once, output: OUT}
""", "succeeded", 0, schema="v2", outputs={"OUT": "once"}),
    # -- issue 20: escapes, preconditions with env, missing sub-DAGs (v2.6.5 internal/intg)
    Case("v2-escaped-dollar-in-env-is-literal", """
max_active_steps: 1
env:
  - PRICE: '\\$9.99'
steps:
  - name: price
    command: printf '%s' "$PRICE"
    output: PRICE_OUT
""", "succeeded", 0, schema="v2", outputs={"PRICE_OUT": "$9.99"},
         source="v2 intg/dollar_escape_test BackslashDollarLiteralInJQ (a command for jq)"),
    Case("v2-escaped-dollar-with-shell", """
shell: /bin/sh
steps:
  - name: test
    command: echo "\\$HOME"
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "$HOME"},
         source="v2 intg/command_escape_test WithShell"),
    Case("v2-escaped-dollar-in-script-with-shell", """
shell: /bin/sh
steps:
  - name: test
    script: |
      echo "\\$HOME"
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "$HOME"},
         source="v2 intg/command_escape_test ScriptWithShell"),
    Case("v2-escaped-dollar-direct", """
shell: direct
steps:
  - name: test
    command: /bin/echo '\\$HOME'
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "$HOME"},
         source="v2 intg/command_escape_test WithoutShell_Direct"),
    Case("v2-script-under-direct-is-the-command's", """
shell: direct
steps:
  - name: test
    command: /bin/sh
    script: |
      echo "\\$HOME"
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "@HOME"},
         source="v2 intg/command_escape_test ScriptWithoutShell_Direct"),
    Case("v2-precondition-with-dag-env", THRESHOLD % 90, "succeeded", 0, schema="v2",
         outputs={"RESULT": "alert triggered"},
         source="v2 intg/precondition_env_test TestPreconditionWithDAGEnvVars"),
    Case("v2-precondition-with-dag-env-not-met", THRESHOLD % 50, "succeeded", 0, schema="v2",
         steps={"check-threshold": "skipped"},
         outputs={"RESULT": lambda value: not value},
         source="v2 intg/precondition_env_test TestPreconditionWithDAGEnvVarsNotMet"),
    Case("v2-dag-precondition-with-env", """
type: graph
max_active_steps: 4
env:
  - ENABLED: "yes"
preconditions:
  - condition: "test ${ENABLED} = yes"
steps:
  - name: run
    command: echo "executed"
    output: RESULT
""", "succeeded", 0, schema="v2", outputs={"RESULT": "executed"},
         source="v2 intg/precondition_env_test TestDAGLevelPreconditionWithEnvVars"),
    Case("v2-precondition-with-step-output", """
type: graph
max_active_steps: 4
steps:
  - name: produce
    command: echo "go"
    output: STEP_RESULT
  - name: consume
    command: echo "ran"
    output: FINAL
    preconditions:
      - condition: "test ${STEP_RESULT} = go"
    depends: produce
""", "succeeded", 0, schema="v2", outputs={"STEP_RESULT": "go", "FINAL": "ran"},
         source="v2 intg/precondition_env_test TestPreconditionWithStepOutput"),
    Case("v2-call-of-a-missing-sub-dag-fails-the-step", """
type: graph
steps:
  - name: run-missing-dag
    call: non-existent-dag
""", "failed", 1, schema="v2", steps={"run-missing-dag": "failed"},
         source="v2 intg/subdag_test NonExistentReference"),
    Case("v1-run-of-a-missing-sub-dag-fails-the-step", """
steps:
  - name: run-missing-dag
    run: non-existent
""", "failed", 1, steps={"run-missing-dag": "failed"},
         source="v1 child_executor_test: NewChildDAGExecutor fails for a missing DAG"),
    Case("v2-run-work-dir-under-working-dir", """
type: graph
working_dir: .
steps:
  - name: write
    command: sh -c 'echo hi > "$DAG_RUN_WORK_DIR/x" && cat "$DAG_RUN_WORK_DIR/x"'
    output: OUT
""", "succeeded", 0, schema="v2", outputs={"OUT": "hi"},
         source="v2 core/exec/context.go: DAG_RUN_WORK_DIR set after every merge"),
]
"""Documents Dagu runs, with Dagu's results."""


REFUSED = [
    # (id, yaml, message part, line)
    ("v1-unknown-step-key", "steps:\n  - name: a\n    command: echo\n    dependss: b\n",
     "unknown step key 'dependss' (did you mean 'depends'?)", 4),
    ("v1-unknown-dag-key", "stepz:\n  - name: a\n", "unknown DAG key 'stepz' (did you mean "
     "'steps'?)", 1),
    ("v1-unknown-continue-on-key", "steps:\n  - name: a\n    command: echo\n"
     "    continueOn: {failures: true}\n", "unknown continueOn key 'failures'", 4),
    ("v1-step-needs-a-name", "handlerOn:\n  exit: {command: echo}\nsteps:\n"
     "  - command: echo\n", "a step needs a name", 4),
    ("v1-depends-on-unknown", "steps:\n  - name: fetch\n    command: echo\n  - name: b\n"
     "    command: echo\n    depends: fecth\n", "unknown step 'fecth' (did you mean 'fetch'?)",
     6),
    ("v1-cycle", "type: graph\nsteps:\n  - name: a\n    command: echo\n    depends: b\n"
     "  - name: b\n    command: echo\n    depends: a\n", "dependency cycle", 3),
    ("v1-run-and-command", "steps:\n  - name: a\n    command: echo\n    run: other\n",
     "starts a sub-DAG and cannot have a command", 4),
    ("v1-parallel-without-run", "steps:\n  - name: a\n    command: echo\n"
     "    parallel: [x]\n", "parallel runs a sub-DAG per item", 4),
    ("v1-executor-docker", "steps:\n  - name: a\n    command: echo\n    executor: docker\n",
     "executor 'docker' is not supported", 4),
    ("v1-bad-signal", "steps:\n  - name: a\n    command: echo\n    signalOnStop: SIGNOPE\n",
     "unknown signal 'SIGNOPE'", 4),
    ("v1-negate-is-v2", "steps:\n  - name: a\n    command: echo\n    continueOn:\n"
     "      failure: true\n    preconditions:\n      - condition: x\n        negate: true\n",
     "unknown precondition key 'negate'", 8),
    ("v1-timeout-out-of-range", "timeoutSec: 99999999999999\nsteps:\n  - name: a\n"
     "    command: echo\n", "timeoutSec must be between 0 and", 1),
    ("v1-negative-timeout", "steps:\n  - name: a\n    command: echo\n    timeoutSec: -5\n",
     "timeoutSec", 4),
    ("v1-bad-cron", "schedule: \"61 * * * *\"\nsteps:\n  - name: a\n    command: echo\n",
     "is not a cron expression", 1),
    ("v1-duplicate-step", "steps:\n  - name: a\n    command: echo\n  - name: a\n"
     "    command: echo\n", "duplicate step name 'a'", 4),
    ("v1-local-dag-needs-a-name", "steps:\n  - name: a\n    command: echo\n---\nsteps:\n"
     "  - name: b\n    command: echo\n", "needs a name", 5),
    ("v2-camel-case-key", "steps:\n  - command: echo\n    retryPolicy: {limit: 1}\n"
     "    working_dir: /tmp\n", "mixes Dagu v1 key 'retryPolicy'", 3),
    ("v2-unknown-key-with-snake-hint", "type: graph\nsteps:\n  - name: a\n    command: echo\n"
     "    continue_on: failed\n    timeoutSec: 3\n", "mixes Dagu v1 key 'timeoutSec'", 6),
    ("v2-unknown-step-key", "steps:\n  - command: echo\n    exec_args: [x]\n",
     "unknown step key 'exec_args'", 3),
    ("v2-depends-in-a-chain", "steps:\n  - command: echo a\n  - command: echo b\n"
     "    depends: [cmd_1]\n    continue_on: failed\n",
     "depends is not allowed in a chain DAG", 4),
    ("v2-retry-needs-interval", "steps:\n  - command: echo\n    retry_policy: {limit: 2}\n",
     "interval_sec is required", 3),
    ("v2-bad-continue-on-word", "steps:\n  - command: echo\n    continue_on: sometimes\n",
     "expected 'skipped' or 'failed'", 3),
    ("v2-exec-with-command", "steps:\n  - command: echo\n    exec: {command: ls}\n",
     "exec cannot be used together with command", 3),
    ("v2-container", "container: {image: alpine}\nsteps:\n  - command: echo\n",
     "container is not supported", 1),
    ("v2-approval", "steps:\n  - command: echo\n    approval: {prompt: ready}\n",
     "approval steps need a Dagu server", 3),
    ("v2-step-type-docker", "steps:\n  - type: docker\n    command: echo\n",
     "type 'docker' is not supported", 2),
    ("v2-repeat-until-without-condition", "steps:\n  - command: echo\n"
     "    repeat_policy: {repeat: until}\n", "needs a condition or exit codes", 3),
    ("v2-same-stdout-and-stderr", "steps:\n  - command: echo\n    stdout: out.log\n"
     "    stderr: out.log\n", "stdout and stderr cannot point to the same file", 4),
    ("v2-cancel-is-abort", "handler_on:\n  cancel: {command: echo}\nsteps:\n"
     "  - command: echo\n    working_dir: .\n", "mixes Dagu v1 key 'cancel'", 2),
    ("v2-bad-step-id", "type: graph\nsteps:\n  - id: my-step\n    command: echo\n"
     "    continue_on: failed\n", "step id 'my-step' must match", 3),
    ("v2-unknown-reference", "type: graph\nsteps:\n  - id: a\n    command: echo\n"
     "  - command: echo ${nosuch.stdout}\n    depends: [a]\n",
     "no variable or step named nosuch", 5),
    ("v2-reserved-step-id", "type: graph\nsteps:\n  - id: stdout\n    command: echo\n"
     "    continue_on: failed\n", "reserved word", 3),
]
"""Documents refused, with the message and the line it names."""
