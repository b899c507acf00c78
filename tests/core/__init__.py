"""Tests of the shared core (core/): the envelope format against its vectors."""
