"""Generated-code package (see cirahub.proto.gen)."""
