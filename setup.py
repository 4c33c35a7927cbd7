"""The one compiled part of Arbiter: the order book's levels (framework/arbiter/market/_book.c).

Everything else is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "arbiter.market._book",
            sources=["framework/arbiter/market/_book.c"],
            extra_compile_args=["-O2", "-Wall", "-Werror", "-std=c11"],
        )
    ]
)
