"""python -m reconciler run|once|status|preview --config FILE (see reconciler/__init__.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from reconciler.exit_codes import EXIT_BAD_CONFIG, EXIT_OUT_OF_SYNC
from reconciler.process_setup import redactor_for
from reconciler.settings import ConfigError, ServiceConfig, load_config
from reconciler.telemetry.log_format import configure_logging
from reconciler.telemetry.redaction import Redactor


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m reconciler", description="Keeps Pulumi stacks at their Git branch head.")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the service: poll, webhooks, drift checks, /status and /metrics")
    run.add_argument("--config", required=True, metavar="FILE")
    once = sub.add_parser("once", help="one pass over every (or one) stack, then exit 0 (in sync), 1 (not) or 2 (bad config)")
    once.add_argument("--config", required=True, metavar="FILE")
    once.add_argument("--stack", metavar="NAME", help="only this stack (its name in the config)")
    once.add_argument("--json", action="store_true", help="one JSON object per line per stack")
    status = sub.add_parser("status", help="what the status store holds")
    status.add_argument("--config", required=True, metavar="FILE")
    status.add_argument("--json", action="store_true", help="one JSON object per line per stack")
    preview = sub.add_parser(
        "preview", help="one stack's preview at a ref, as Markdown or JSON; with --post, kept as one comment on the pull request",
    )
    preview.add_argument("--config", required=True, metavar="FILE")
    preview.add_argument("--stack", required=True, metavar="NAME", help="the stack's name in the config")
    preview.add_argument("--ref", required=True, help="a full commit, a branch, or a fetched ref such as refs/pull/7/head")
    preview.add_argument("--base", metavar="REF", help="the commit the pull request is based on (shown with the commit)")
    preview.add_argument("--format", choices=("markdown", "json"), default="markdown", dest="output_format")
    preview.add_argument("--post", action="store_true", help="create or edit this stack's comment on the pull request")
    preview.add_argument(
        "--pull-request", metavar="OWNER/REPO#N", help="where --post comments (default: the pull request of the Actions run)",
    )
    schema = sub.add_parser("schema", help="print the config file's JSON schema (reconciler/config.schema.json)")
    schema.add_argument("--readme", metavar="FILE", help="instead, rewrite the config table between the markers in FILE")
    return top


# Status store, checkouts, preview cache, file-backend state: nothing the reconciler writes is for other users.
PRIVATE_UMASK = 0o077


def main(argv: list[str]) -> int:
    os.umask(PRIVATE_UMASK)
    args = parser().parse_args(argv)
    if args.command == "schema":
        from reconciler.settings import json_schema

        if args.readme:
            readme = Path(args.readme)
            table = json_schema.markdown_table(json_schema.config_schema())
            readme.write_text(json_schema.with_table(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
        else:
            sys.stdout.write(json_schema.schema_text())
        return 0
    try:
        config = load_config(args.config)
        if getattr(args, "stack", None) and args.stack not in {spec.name for spec in config.stacks}:
            names = ", ".join(spec.name for spec in config.stacks)
            raise ConfigError(args.config, [f"--stack {args.stack}: no such stack in the config; it has {names}"])
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_CONFIG
    # One redactor for the process: what a stack teaches it (decrypted config secrets) is masked in the log too.
    redactor = redactor_for(config)
    configure_logging(redactor, config.log_format, config.log_level)
    try:
        if args.command == "preview":
            from reconciler.preview.command import preview

            return preview(config, args.stack, args.ref, args.base, args.output_format, args.post, args.pull_request)
        return _stack_command(args, config, redactor)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_CONFIG


def _stack_command(args: argparse.Namespace, config: ServiceConfig, redactor: Redactor) -> int:
    """run, once and status; the reconciler's passes are imported here, so that `preview` starts without them."""
    from reconciler import commands
    from reconciler.stack_set import StateDirBusy

    try:
        if args.command == "run":
            return commands.run(config, redactor)
        if args.command == "once":
            return commands.once(config, redactor, args.stack, args.json)
        return commands.status(config, redactor, args.json)
    except StateDirBusy as error:
        logging.getLogger("reconciler").error("%s", error)
        return EXIT_OUT_OF_SYNC


def entry() -> None:
    """The `gitops-reconciler` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
