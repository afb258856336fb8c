"""Local servers that speak the real wire protocols of remote AI/stock vendors, so the
provider clients are tested over real HTTP without the network (see base.py)."""
