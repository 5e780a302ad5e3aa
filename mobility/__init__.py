"""Weak mobility: a content-addressed code repository that guests fetch programs from at
run time (store.py, serve.py, repodev.py), and a virtual network between guests and
between hosts (net.py). docs/mobility.md describes both."""
