"""The MongoDB backend (Motor): the production and multi-instance path."""
