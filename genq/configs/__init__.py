"""Hydra configs shipped with genq (a package so Hydra can find them when installed)."""
