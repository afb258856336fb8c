"""Pipeline stages: pure functions of their inputs, each reporting progress."""
