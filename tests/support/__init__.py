"""Reusable test helpers: real HTTP(S) servers and a proxy on loopback (no mocking)."""
