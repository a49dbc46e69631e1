"""Referee's gRPC service (``referee.v1.Referee``) beside the HTTP app.

Nothing is imported here, so that clients can use the generated modules in
``referee.service.grpc.v1`` and :mod:`referee.service.grpc.convert` without the
server's dependencies.
"""
