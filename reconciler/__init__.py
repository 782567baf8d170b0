"""The reconciler: keeps every configured Pulumi stack at its Git branch head, replacing Flux.

    python -m reconciler run    --config FILE                       the service
    python -m reconciler once   --config FILE [--stack NAME] [--json]  one pass; exit 0 in sync, 1 not, 2 bad config
    python -m reconciler status --config FILE [--json]                what the status store holds
    python -m reconciler preview --config FILE --stack NAME --ref REF [--base REF] [--format markdown|json] [--post]
                                 a pull request's preview; exit 0 it ran, 1 it failed, 2 bad arguments

Per stack, a pass is an ordered list of steps (reconcile.py): recover, observe
the branch head, decide, gate (promotion from another stack), check out that
exact commit into the stack's own clean work tree, filter, prepare, guard, apply
(or check drift) through the Automation API on that checkout (the same program
`pulumi up` runs); one recorder (recorder.py) writes the result to SQLite.

Modules: reconcile.py (the steps), recorder.py (the one writer), workspace.py
(the executor: git and the engine), errors.py (Temporary, Waiting, Stalled),
decision.py, promotion.py (the promotion gate), guard.py, desired_state.py. Packages: settings/ (the config
file), source/ (git), engine/ (Automation API, locks, deadlines), policy/
(the deletion guard's rule), status/ (model, transitions, SQLite), telemetry/
(logs, redaction, metrics), service/ (scheduler, HTTP, webhooks), preview/
(pull request previews in throwaway checkouts), coordination/ (replicas sharing
the stacks through Kubernetes Leases).
"""
