"""An executor's settings in a DAG step: v1's ``executor: {type, config}``, v2's
``with:`` (or ``config:``, never both, as Dagu 2.6.5 rules)."""


def executor_config(s, key, v1: bool, check, kind: str):
    """(the config mapping or None, ``problem(message, bad_key)``) of step ``s``
    whose ``key`` names the executor; ``problem`` reports with the file:line of
    ``bad_key`` in the config (of the config itself when None)."""
    if v1:
        value = s[key]
        holder, config = value, value.get("config") if isinstance(value, dict) else None
        config_key = "config"
    else:
        both = [k for k in ("with", "config") if k in s]
        if len(both) == 2:
            check.problem("with and config cannot be used together; use with",
                          check.place(s, "config"))
        holder, config_key = s, (both or ["with"])[0]
        config = s.get(config_key)
    if "script" in s:
        check.problem("script is not supported with the %s executor: use command" % kind,
                      check.place(s, "script"))

    def problem(message, bad_key):
        place_of = getattr(config, "place_of", None)
        if bad_key is not None and place_of is not None:
            check.problem(message, place_of(bad_key))
        else:
            check.problem(message, check.place(holder, config_key if config is not None
                                               else key))
    return config, problem
