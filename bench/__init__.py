"""Benches of issue #9 (Double-11 scale). See bench/README.md; run with `make bench`."""
