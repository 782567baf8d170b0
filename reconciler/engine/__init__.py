"""The Automation API side: a stack opened on a checkout, its runs, drift checks and crash recovery."""
