"""The benchmarks (docs/performance.md): run each from the checkout as ``python -m bench.<script>``.

They share bench/common.py and the tests' live servers (tests/live.py, one set of environment
variables for both).
"""
