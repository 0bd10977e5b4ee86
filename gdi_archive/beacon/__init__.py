"""Beacon v2: counts, allele frequencies and records from the archive's own VCF/BCF files."""
