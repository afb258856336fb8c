"""The composition root: `services.Platform` turns `Settings` into the live objects the API,
the workers and the CLI share; `providers` picks the providers a render uses.

Nothing below this package reads settings. The package itself imports nothing, so
`reelforge.platform.providers` stays light for the CLI's render command.
"""
