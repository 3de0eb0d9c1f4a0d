"""Indicator definitions as data: the small expression language numerators, denominators and
filters are written in, checked against the source's columns before anything runs."""
