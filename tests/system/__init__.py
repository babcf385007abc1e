"""Tests of the whole, across modules: the HTTP flow, the lifecycle, faults, fuzzing, leaks,
concurrency, permissions on every surface, packaging, translations, the demo."""
