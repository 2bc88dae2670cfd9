"""A real local Kubernetes control plane (kwok, binary runtime) for tests and demos.

`binaries` finds the locally built kube-apiserver, etcd, kwok..., `kwok` starts
and stops clusters with kwokctl, and `jobrunner` runs a Job's workload as a
local subprocess and reports its exit code back to the cluster.
"""
