"""The smoke engine: SMK-1..7 as real probes of the camera service, pytest-like flow."""
