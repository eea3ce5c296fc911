"""cirahub.core."""
