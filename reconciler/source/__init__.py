"""The source side of a reconcile: the branch head from the remote, and a clean checkout of one commit."""
