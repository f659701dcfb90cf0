"""The GraphQL API as clients use it, on every storage tier: the contract's rules."""
