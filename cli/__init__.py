"""The `tts-dsl` command line: wires the passes together, nothing more."""
