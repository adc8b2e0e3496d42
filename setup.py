"""Build step for the one compiled module (metadata lives in pyproject.toml).

`aupguard.content._scorer` counts the spam classifier's features in C for
ASCII texts. It is optional: where it cannot be compiled, aupguard scores the
same features in Python (same results, slower), see
`aupguard.content.classifier`.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aupguard.content._scorer",
            ["src/aupguard/content/_scorer.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
