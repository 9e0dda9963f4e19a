"""Only for the optional C part; everything else about the package is in pyproject.toml.

``turngym.sandbox._forkloop`` speeds up the sandbox's fork server (see its source). It is
optional: without a C compiler the build skips it and the sandbox uses the pure-Python loop.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("turngym.sandbox._forkloop", ["turngym/sandbox/_forkloop.c"], optional=True,
                  extra_compile_args=["-O2", "-Wall"]),
    ],
)
