"""Tests of the reviewer console (admin/); helpers in admin_testlib.py."""
