"""Engines: how long a program or a collective takes on a system."""
