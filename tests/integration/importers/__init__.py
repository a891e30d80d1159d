"""Tests of the importers: each reader on files written from its tool's specification."""
