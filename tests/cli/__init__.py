"""The command line: import, export, demo, and the environment it reads."""
