"""Thin entry points that compose schemas, agents and the warehouse."""
