"""The gRPC port, served from an HTTP worker, with client errors answered as INVALID_ARGUMENT.

Seldon's gRPC servicer lets the model's exceptions escape to grpcio, which logs a traceback per
request and answers UNKNOWN with "Exception calling application: ...". A bad request is the
client's error: here it answers INVALID_ARGUMENT with exactly the message REST puts in
`status.info`, and logs one line. Anything else is still a server error (INTERNAL, traceback).
"""

import logging
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.metrics import SeldonMetrics
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.wrapper import SeldonModelGRPC

logger = logging.getLogger(__name__)

# What a MODEL unit answers (seldon_core/wrapper.py get_grpc_server registers the same servicer
# for every unit type; routers, combiners and transformers are not this server).
SERVICES = ("Model", "Generic", "Seldon")


class ClientErrorInterceptor(grpc.ServerInterceptor):
    """Maps a 4xx SeldonMicroserviceException (e.g. InvalidRequest) to INVALID_ARGUMENT."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        behaviour = handler.unary_unary

        def checked(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behaviour(request, context)
            except SeldonMicroserviceException as error:
                if error.status_code >= 500:
                    raise
                logger.warning("gRPC %s rejected: %s", method, error.message)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)

        return grpc.unary_unary_rpc_method_handler(
            checked,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def start_grpc_server(
    user_object: Any, seldon_metrics: SeldonMetrics, port: int, threads: int
) -> grpc.Server:
    """Serve Seldon's gRPC API for `user_object` on `port`, shared with sibling workers."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads),
        interceptors=[ClientErrorInterceptor()],
        options=[("grpc.so_reuseport", 1)],
    )
    servicer = SeldonModelGRPC(user_object, seldon_metrics)
    for service in SERVICES:
        getattr(prediction_pb2_grpc, f"add_{service}Servicer_to_server")(servicer, server)
    names = [prediction_pb2.DESCRIPTOR.services_by_name[s].full_name for s in SERVICES]
    reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
    server.add_insecure_port(f"0.0.0.0:{port}")
    server.start()
    logger.info("gRPC on port %d (%d threads in worker)", port, threads)
    return server
