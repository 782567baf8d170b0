"""Exit codes of `run`, `once` and `status` (README: the CLI contract), apart so `preview` starts without the passes."""

EXIT_IN_SYNC = 0
EXIT_OUT_OF_SYNC = 1
EXIT_BAD_CONFIG = 2
