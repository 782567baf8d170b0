"""Entry point of `pulumi up`; the reconciler runs the same program through the Automation API."""

from program import gitops_program

gitops_program()
