"""Previews of pull requests: a throwaway checkout, `preview --diff` against the real state, one comment per stack."""
