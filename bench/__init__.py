"""Hubbub's benchmark suite: `python -m bench` starts a server on loopback, seeds it and runs W1-W5.

See bench/README.md for the workloads, the targets and how to read the results.
"""
