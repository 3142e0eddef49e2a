"""The console's themes: dark, light, presentation (high contrast), colour-blind safe and
monochrome. Data lives in ``themes.specs``; ``themes.register`` turns it into Textual
themes and resolves a remembered or requested name with a safe fallback."""
