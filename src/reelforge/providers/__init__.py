"""Providers: one protocol per capability (base.py), offline defaults first."""
