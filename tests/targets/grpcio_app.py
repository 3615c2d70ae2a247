"""grpcio (PyPI) server or client of one service with raw-bytes messages, no generated stubs.

The arguments and lines are those of the grpc-go fixture (`grpc_fixture.ts` starts both).
`serve 127.0.0.1:PORT` answers demo.Echo/Say (echoes) and demo.Echo/Fail (NOT_FOUND, or INTERNAL for
the request b"internal") on an insecure port and prints "ready". `client 127.0.0.1:PORT` opens an
insecure channel, prints "ready", and on each "go" line on stdin makes three calls (Say,
Fail, Fail internal), prints their codes, then "done".
"""

import sys

import grpc


def say(request, context):
    return request


def fail(request, context):
    if request == b"internal":
        context.abort(grpc.StatusCode.INTERNAL, "broken")
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


def serve(address):
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        "demo.Echo",
        {
            "Say": grpc.unary_unary_rpc_method_handler(say),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(address)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def client(address):
    channel = grpc.insecure_channel(address)
    calls = [("Say", b"hello"), ("Fail", b"x"), ("Fail", b"internal")]
    print("ready", flush=True)
    for _ in sys.stdin:
        for method, body in calls:
            call = channel.unary_unary(f"/demo.Echo/{method}")
            try:
                reply = call(body, timeout=10)
                print(f"{method} {reply.decode()!r} OK", flush=True)
            except grpc.RpcError as e:
                print(f"{method} {e.code().name}", flush=True)
        print("done", flush=True)


if __name__ == "__main__":
    {"serve": serve, "client": client}[sys.argv[1]](sys.argv[2])
