"""moto's DynamoDB-compatible server, applying one request at a time.

moto's in-memory backend does not isolate concurrent requests: two TransactWriteItems calls
can interleave, so both pass an `attribute_not_exists` condition on the same item. DynamoDB
itself serializes conflicting writes. Without this lock the concurrency tests would measure
moto's races instead of ours. Connections stay threaded (HTTP/1.1 keep-alive); only the
handling of each request is serialized.

usage: python3 scripts/moto_serializable.py -p PORT [-H HOST]
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # Materialize the body inside the lock: moto does its work while building it.
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serialized, threaded=True)


if __name__ == "__main__":
    main()
