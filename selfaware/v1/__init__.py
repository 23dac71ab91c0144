"""Generated protobuf and gRPC stubs of the `selfaware.v1` proto package. Never edit by hand:
regenerate with `python -m selfaware.protogen`."""
