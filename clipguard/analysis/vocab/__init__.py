"""The vocabularies of the analysis: what libraries call things, as data, with sources."""
