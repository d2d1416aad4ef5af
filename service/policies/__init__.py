"""Payer policies declared as data (see model.py) and the registry that loads them."""
