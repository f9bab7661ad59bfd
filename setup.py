"""The one thing pyproject.toml cannot say stably: the VM's C extension.

The VM (autotts_dsl/vm/vm.c) is built at install time. It is `optional`:
without a C compiler the install still succeeds and programs run on the
reference interpreter (slower, same results); `tts-dsl doctor` says which.
No -ffast-math, and no fused multiply-add: the VM must round as Python does.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "autotts_dsl._vm",
            sources=["autotts_dsl/vm/vm.c"],
            depends=["autotts_dsl/vm/opcodes.h"],
            extra_compile_args=["-ffp-contract=off", "-fno-fast-math"],
            optional=True,
        )
    ]
)
