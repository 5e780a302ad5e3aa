# The native core is compiled by cffi at install time (see native/build_core.py).
from setuptools import setup

setup(cffi_modules=["native/build_core.py:ffibuilder"])
