"""Review stacks: a labelled pull request's own stack, created from its head and destroyed when it ends."""
