"""The long-running side: scheduling runs, the HTTP endpoints and GitHub webhooks."""
