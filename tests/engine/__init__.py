"""The execution engine: the fast paths answer what graphql-core answers."""
