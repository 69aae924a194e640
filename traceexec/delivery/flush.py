"""``traceexec flush``: deliver every spooled span now and report, per destination,
what was sent and what is left; ``--list`` what waits where, and why;
``--discard DESTINATION`` drops a destination's spool (a mistyped endpoint)."""
import json
import os
import sys

from . import config, spool
from ..errors import UsageError
from .drain import dead_letters, describe, drain
from .limit import take_dropped


def add_destination_options(parser) -> None:
    """--endpoint, --header, --insecure, --client-certificate, --client-key,
    --export-timeout (flush and doctor)."""
    parser.add_argument("--endpoint", help="the endpoint whose header values and TLS "
                        "settings are given here (default: OTEL_EXPORTER_OTLP_*)")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                        help="header value for that endpoint")
    parser.add_argument("--insecure", action="store_true", help="https:// endpoint: TLS "
                        "without certificate checks; gRPC host:port: no TLS")
    parser.add_argument("--client-certificate", metavar="PEM", help="client certificate "
                        "for mTLS (default: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)")
    parser.add_argument("--client-key", metavar="PEM", help="its key (default: "
                        "OTEL_EXPORTER_OTLP_CLIENT_KEY)")
    parser.add_argument("--export-timeout", metavar="DURATION",
                        help="bound on each request (default 10s)")


def _flush_parser():
    from ..cli import subcommand_parser
    parser = subcommand_parser(
        "flush",
        "Send every span waiting in the spool now and say what was sent and "
                    "what is left, per destination.  Exit status 0 when nothing is left.")
    add_destination_options(parser)
    parser.add_argument("--retry-dead-letters", action="store_true",
                        help="send the spans set aside as refused by the collector again")
    parser.add_argument("--list", action="store_true",
                        help="send nothing: list each destination's spool, what waits "
                        "there and its last delivery problem")
    parser.add_argument("--discard", metavar="DESTINATION",
                        help="send nothing: delete the spool of DESTINATION (its endpoint "
                        "or its folder name, as --list shows them), spans and all")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    return parser


def destinations(home: str) -> list:
    """The spool folders under ``home``, by name."""
    root = spool.spool_root(home)
    try:
        return sorted(os.path.join(root, n) for n in os.listdir(root)
                      if os.path.isdir(os.path.join(root, n)))
    except OSError:
        return []


def spool_entry(directory: str) -> dict:
    """What ``--list`` says about one destination folder (nothing is claimed or sent)."""
    from . import health
    endpoint, protocol, _ = describe(directory)
    files = [os.path.join(directory, spool.CURRENT)]
    try:
        files += [os.path.join(directory, n) for n in os.listdir(directory)
                  if n.endswith(spool.SUFFIX)]
    except OSError:
        pass
    problem = health.last_problem(directory)
    return {"folder": os.path.basename(directory), "destination": endpoint,
            "protocol": protocol, "waiting": sum(spool.count_file(p) for p in files),
            "dead_letters": dead_letters(directory),
            "problem": problem[1] if problem else None,
            "problem_since": problem[0] if problem else None}


def list_line(entry: dict) -> str:
    import time
    text = "%s%s: %d spans waiting" % (
        entry["destination"], " (%s)" % entry["protocol"] if entry["protocol"] else "",
        entry["waiting"])
    if entry["dead_letters"]:
        text += ", %d set aside" % entry["dead_letters"]
    if entry["problem"]:
        text += "; failing since %s: %s" % (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["problem_since"])),
            entry["problem"])
    return text + "  [%s]" % entry["folder"]


def discard(home: str, which: str, wait_s: float) -> dict:
    """Delete the spool of the destination named ``which`` (endpoint or folder name)
    once no exporter works on it; its entry as it was.  UsageError when none matches."""
    import shutil
    from . import marks
    found = [d for d in destinations(home)
             if which in (os.path.basename(d), describe(d)[0])]
    if not found:
        raise UsageError("flush --discard: no spool for %r (see traceexec flush --list)"
                         % which)
    entries = []
    for directory in found:
        lock = marks.Lock(directory)
        try:
            if not lock.acquire(wait_s):
                raise UsageError("flush --discard: an exporter is still sending to %s; "
                                 "try again" % which)
            entries.append(spool_entry(directory))
            shutil.rmtree(directory)
        finally:
            lock.release()
    return entries


def options_config(options) -> config.ExportConfig:
    """Settings from the destination options, then OTEL_* (flags win)."""
    flags = {"insecure": options.insecure, "client_certificate": options.client_certificate,
             "client_key": options.client_key}
    if options.endpoint:
        flags["endpoint"] = options.endpoint
    if options.export_timeout is not None:
        flags["export_timeout"] = config.parse_duration(options.export_timeout, "--export-timeout")
    headers = {}
    for item in options.header:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError("--header wants KEY=VALUE")
        headers[key] = value
    flags["headers"] = headers
    return config.resolve(flags, None, os.environ)


class Progress:
    """One line on a terminal, rewritten at most every half second while sending."""

    def __init__(self, stream):
        self.stream = stream if stream is not None and stream.isatty() else None
        self.shown = 0.0

    def __call__(self, result) -> None:
        import time
        now = time.monotonic()
        if self.stream is None or now - self.shown < 0.5:
            return
        self.shown = now
        self.stream.write("\rflush: %s: sent %d spans" % (result.destination, result.sent))
        self.stream.flush()

    def done(self) -> None:
        if self.stream is not None and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def flush(cfg: config.ExportConfig, log=None, *, progress=None, retry_dead=False) -> list:
    """Drain every destination in ``cfg.home``'s spool; a DrainResult per destination.

    Each destination is sent until its spool is empty or a request fails
    (``cfg.timeout_s`` bounds each request).  A destination spooled for
    ``cfg.endpoint`` is sent with ``cfg``'s header values and TLS settings
    (so a rotated token or a fixed CA applies); others with what was stored,
    and without header values.
    """
    root = spool.spool_root(cfg.home)
    try:
        names = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    except OSError:
        names = []
    results = []
    for name in names:
        directory = os.path.join(root, name)
        _, _, stored = describe(directory)
        headers, dest = {}, None
        if stored is not None and cfg.endpoint is not None and stored["endpoint"] == cfg.endpoint:
            headers = cfg.headers
            dest = dict(stored, insecure=cfg.insecure, certificate=cfg.certificate,
                        compression=cfg.compression, client_certificate=cfg.client_certificate,
                        client_key=cfg.client_key)
        waiting = spool.pending(directory)
        dropped_before = take_dropped(directory)
        dead_before = dead_letters(directory)
        if not waiting and not dropped_before and not dead_before:
            continue
        result = drain(directory, headers, cfg.timeout_s, dest=dest, log=log,
                       progress=progress, retry_dead=retry_dead)
        result.dropped = dropped_before + take_dropped(directory)  # drain's drops included
        result.dead_total = dead_letters(directory)
        results.append(result)
    return results


def flush_main(args) -> int:
    """``traceexec flush``: deliver now; exit 0 when nothing is left, else 1."""
    options = _flush_parser().parse_args(args)
    cfg = options_config(options)
    for problem in cfg.problems:
        sys.stderr.write("traceexec: warning: %s\n" % problem)
    if options.list or options.discard:
        return _list_or_discard(cfg, options)
    progress = Progress(None if options.json else sys.stderr)
    try:
        results = flush(cfg, progress=progress, retry_dead=options.retry_dead_letters)
    finally:
        progress.done()
    sent = sum(r.sent for r in results)
    left = sum(r.left for r in results)
    dropped = sum(r.dropped for r in results)
    dead = sum(r.dead_total for r in results)
    quarantined = sum(r.quarantined for r in results)
    if options.json:
        sys.stdout.write(json.dumps({"destinations": [r.as_dict() for r in results],
                                     "sent": sent, "left": left, "dropped": dropped,
                                     "dead_letters": dead, "quarantined_bytes": quarantined},
                                    indent=2) + "\n")
    elif not results:
        sys.stdout.write("nothing to flush\n")
    else:
        for result in results:
            sys.stdout.write(result.summary() + "\n")
        extra = "".join(", %s %d" % item for item in (
            ("dropped", dropped), ("set aside", dead), ("quarantined bytes", quarantined))
            if item[1])
        sys.stdout.write("total: sent %d, left %d%s\n" % (sent, left, extra))
        if dead:
            sys.stdout.write("%d spans refused by the collector are set aside in "
                             "spool/<destination>/dead/ (reasons.log says why); "
                             "'traceexec flush --retry-dead-letters' sends them again\n" % dead)
    return 0 if left == 0 else 1


def _list_or_discard(cfg, options) -> int:
    if options.discard:
        entries = discard(cfg.home, options.discard, cfg.timeout_s)
        lines = ["discarded %s: %d spans, %d set aside" % (
            e["destination"], e["waiting"], e["dead_letters"]) for e in entries]
    else:
        entries = [spool_entry(d) for d in destinations(cfg.home)]
        lines = [list_line(e) for e in entries] or ["the spool is empty"]
    if options.json:
        sys.stdout.write(json.dumps({"destinations": entries}, indent=2) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in lines))
    return 0
