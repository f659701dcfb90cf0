"""Thin glue: arguments in, one domain call, types out."""
