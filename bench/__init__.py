"""The benchmark harness of issue 11 (`make bench`, notes in docs/benchmarks.md).

Nothing here is part of the product: the bare comparison endpoints are mounted only by
bench.settings (ROOT_URLCONF = bench.urls), which only the harness's own server uses.
"""
