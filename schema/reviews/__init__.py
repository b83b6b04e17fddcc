"""Global review: the Action Plan, coalitions' reports on it, and the review view every node
computes identically from the reports it holds."""
