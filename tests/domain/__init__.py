"""The pure rules: clock, event broker."""
