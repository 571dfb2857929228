# Declarative metadata is in setup.cfg; this file only adds the preset folders,
# which sit outside the package directory, as packages of their own.
from setuptools import find_packages, setup

setup(packages=find_packages(include=["wafersim", "wafersim.*"]) + ["wafersim.data.meshes", "wafersim.data.workloads", "wafersim.data.runtimes", "wafersim.data.designs"])
