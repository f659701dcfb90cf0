"""Helpers the tests share: storage tiers, stored documents, live servers, clients."""
