"""What the tests and the benchmarks share: real Git remotes, the reconciler run as users run it, stand-in CLIs
and a recording GitHub, scale manifest sets. Installed with the project (`pip install -e .`), so nothing edits sys.path."""
