"""What a request may do before anything runs: tokens and scopes, budgets, document limits."""
