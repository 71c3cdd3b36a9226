"""The library behind ``python -m scripts.benchmark``: one module per section of the benchmark.

``settings`` (modes and resolved options), ``timing`` (synchronised timers, peak memory), ``stages``
(the stage models as every section builds them), ``flops``, ``training``, ``synthesis``,
``data_loading``, ``runner`` (all sections, ratios, utilisation), ``tables`` (the text report) and
``cli``. It imports options, models, data and util, so it lives at the entry-point level, beside the
commands that use it.
"""
