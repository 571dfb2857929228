"""Engines: given a dataflow program on a mesh, how long it takes."""
