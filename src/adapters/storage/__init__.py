"""Object storage adapters."""

# Sent with every upload: storage refuses to replace an object, so an upload URL still valid after its
# file was confirmed cannot swap that file for another of the same size.
CREATE_ONLY = {"If-None-Match": "*"}
