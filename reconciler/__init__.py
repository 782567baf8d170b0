"""The reconciler: keeps every configured Pulumi stack at its Git branch head, replacing Flux.

    python -m reconciler run    --config FILE                       the service
    python -m reconciler once   --config FILE [--stack NAME] [--json]  one pass; exit 0 in sync, 1 not, 2 bad config
    python -m reconciler status --config FILE [--json]                what the status store holds
    python -m reconciler preview --config FILE --stack NAME --ref REF [--base REF] [--format markdown|json] [--post]
                                 a pull request's preview; exit 0 it ran, 1 it failed, 2 bad arguments

Per stack, a pass is: find the branch head (`git ls-remote`), decide, check
out that exact commit into the stack's own clean work tree, then preview,
deletion guard and `up` through the Automation API on that checkout (the
same program `pulumi up` runs), and record the result in SQLite.

Packages: settings/ (the config file), source/ (git), engine/ (Automation
API), policy/ (error classes, backoff, deletion guard), status/ (SQLite),
telemetry/ (logs, redaction, metrics), service/ (scheduler, HTTP, webhooks),
preview/ (pull request previews in throwaway checkouts).
"""
