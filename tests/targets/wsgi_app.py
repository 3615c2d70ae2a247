# The smallest WSGI application, for gunicorn in upspan's end-to-end tests: 200 with the
# request's path as the body.


def app(environ, start_response):
    body = environ.get("PATH_INFO", "/").encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
