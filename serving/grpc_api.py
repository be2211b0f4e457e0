"""Seldon's gRPC protocol for a MODEL unit on grpc.aio, in the worker's event loop.

The services and methods are those seldon-core 1.19 registers for a model
(seldon_core/wrapper.py, `get_grpc_server`: Model, Generic and Seldon share one servicer);
messages are seldon_core.proto's. A bad request answers INVALID_ARGUMENT with exactly the message
REST puts in `status.info`, and logs one line; anything else is INTERNAL.
"""

import logging
from typing import Any

import grpc
from google.protobuf import json_format
from grpc_reflection.v1alpha import reflection
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from serving.http_errors import ServingError
from serving.model_server import ModelServer

logger = logging.getLogger(__name__)

SERVICES = ("Model", "Generic", "Seldon")


class SeldonServicer(
    prediction_pb2_grpc.ModelServicer,
    prediction_pb2_grpc.GenericServicer,
    prediction_pb2_grpc.SeldonServicer,
):
    """Predict, SendFeedback and metadata; the other units' methods stay UNIMPLEMENTED."""

    def __init__(self, server: ModelServer, service: str) -> None:
        self._server = server
        self._service = service
        self._metadata = json_format.ParseDict(
            server.metadata(), prediction_pb2.SeldonModelMetadata(), ignore_unknown_fields=True
        )

    async def Predict(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._answer("Predict", _message_dict(request), context)

    async def SendFeedback(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        body = json_format.MessageToDict(request, preserving_proto_field_name=True)
        return await self._answer("SendFeedback", body, context)

    async def Metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._metadata

    async def ModelMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._metadata

    async def _answer(self, rpc: str, body: dict, context: grpc.aio.ServicerContext) -> Any:
        method = "predict" if rpc == "Predict" else "feedback"
        try:
            answer = getattr(self._server, method)(body)
        except ServingError as error:
            self._server.accounting.error(method, error.status_code)
            where = f"gRPC /seldon.protos.{self._service}/{rpc}"
            if error.status_code >= 500:
                logger.error("%s failed: %s", where, error.message)
                await context.abort(grpc.StatusCode.INTERNAL, error.message)
            logger.warning("%s rejected: %s", where, error.message)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        except Exception:
            self._server.accounting.error(method, 500)  # grpcio answers UNKNOWN and logs it
            raise
        return json_format.ParseDict(answer, prediction_pb2.SeldonMessage())


def _message_dict(message: Any) -> dict[str, Any]:
    """The SeldonMessage as the JSON body REST would carry, for the same validation."""
    body: dict[str, Any] = {}
    which = message.WhichOneof("data_oneof")
    if which == "data":
        data = message.data
        kind = data.WhichOneof("data_oneof")
        payload: dict[str, Any] = {"names": list(data.names)} if data.names else {}
        if kind == "tensor":
            payload["tensor"] = {
                "shape": list(data.tensor.shape),
                "values": list(data.tensor.values),
            }
        elif kind == "ndarray":
            payload["ndarray"] = json_format.MessageToDict(data.ndarray)
        elif kind is not None:
            payload[kind] = {}
        body["data"] = payload
    elif which is not None:
        body[which] = "..."
    if message.meta.puid:
        body["meta"] = {"puid": message.meta.puid}
    return body


async def start_grpc(server: ModelServer, port: int) -> grpc.aio.Server:
    """Serve on `port` beside the other workers (SO_REUSEPORT, grpcio's default)."""
    grpc_server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
    for service in SERVICES:
        add = getattr(prediction_pb2_grpc, f"add_{service}Servicer_to_server")
        add(SeldonServicer(server, service), grpc_server)
    names = [prediction_pb2.DESCRIPTOR.services_by_name[s].full_name for s in SERVICES]
    reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], grpc_server)
    grpc_server.add_insecure_port(f"0.0.0.0:{port}")
    await grpc_server.start()
    return grpc_server
