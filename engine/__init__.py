"""The execution engine: prepared documents, their plans, and the paths that run them.

Imports graphql-core, and strawberry only through `engine.seam`; never the domain, storage,
resolvers or server. Its one entry for a request is `engine.prepared.PreparedDocuments`.
"""
