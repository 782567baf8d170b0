"""Each run of a stack whose repository is on GitHub, posted as a commit status `gitops/<stack>` on its commit."""
