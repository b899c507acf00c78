"""Tests of the public intake app (intake/)."""
