"""The only code that talks to a database: MongoDB (mongo/) and the embedded SQLite store
(sqlite/), behind the domain's TargetStore; documents.py maps the stored shape for both."""
