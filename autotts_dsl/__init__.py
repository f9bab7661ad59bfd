"""tts-dsl: a checked, declarative language for test-time-scaling controllers."""

__version__ = "0.1.0"
