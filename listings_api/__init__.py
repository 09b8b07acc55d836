"""The listing-provider API app."""
