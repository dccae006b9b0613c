"""Degradation diagnostics: sensitivity, timestep ranges, error accumulation, latents,
classifier vs generator."""
