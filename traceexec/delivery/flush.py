"""``traceexec flush``: deliver every spooled span now and report, per destination,
what was sent and what is left."""
import json
import os
import sys

from . import config, spool
from ..errors import UsageError
from .export import describe, drain, take_dropped


def _flush_parser():
    from ..cli import subcommand_parser
    parser = subcommand_parser(
        "flush",
        "Send every span waiting in the spool now and say what was sent and "
                    "what is left, per destination.  Exit status 0 when nothing is left.")
    parser.add_argument("--endpoint", help="the endpoint whose header values and TLS "
                        "settings are given here (default: OTEL_EXPORTER_OTLP_*)")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                        help="header value for spans spooled for that endpoint")
    parser.add_argument("--insecure", action="store_true", help="no TLS for that endpoint")
    parser.add_argument("--export-timeout", metavar="DURATION",
                        help="bound per destination (default 10s)")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    return parser


def _flush_config(options) -> config.ExportConfig:
    flags = {"insecure": options.insecure}
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


def flush(cfg: config.ExportConfig, log=None) -> list:
    """Drain every destination in ``cfg.home``'s spool; a DrainResult per destination.

    A destination spooled for ``cfg.endpoint`` is sent with ``cfg``'s header
    values and TLS settings (so a rotated token or a fixed CA applies);
    others with what was stored, and without header values.
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
                        compression=cfg.compression)
        waiting = spool.pending(directory)
        dropped_before = take_dropped(directory)
        if not waiting and not dropped_before:
            continue
        result = drain(directory, headers, cfg.timeout_s, dest=dest, log=log)
        result.dropped = dropped_before + take_dropped(directory)  # drain's drops included
        results.append(result)
    return results


def flush_main(args) -> int:
    """``traceexec flush``: deliver now; exit 0 when nothing is left, else 1."""
    options = _flush_parser().parse_args(args)
    cfg = _flush_config(options)
    results = flush(cfg)
    sent = sum(r.sent for r in results)
    left = sum(r.left for r in results)
    dropped = sum(r.dropped for r in results)
    if options.json:
        sys.stdout.write(json.dumps({"destinations": [r.as_dict() for r in results],
                                     "sent": sent, "left": left, "dropped": dropped},
                                    indent=2) + "\n")
    elif not results:
        sys.stdout.write("nothing to flush\n")
    else:
        for result in results:
            sys.stdout.write(result.summary() + "\n")
        sys.stdout.write("total: sent %d, left %d%s\n" % (
            sent, left, ", dropped %d" % dropped if dropped else ""))
    return 0 if left == 0 else 1
