"""The storage backends: query plans, change feeds, the writer, durability."""
