"""The MongoDB backend (Motor or PyMongo's AsyncMongoClient): production, many instances."""
