"""The `outdial-graphql` command line: serve, import, export, demo, export-schema."""
