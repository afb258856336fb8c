"""The render engine: storyboard → stages → timeline → ffmpeg. Never imports settings or db."""
