"""Middleware of our own, and the UI's middlewares narrowed to the pages that use them.

The JSON API under /api/ is authenticated by project keys, never by a browser session:
it has no use for the session, the logged-in user, flash messages or htmx, and it
answers in English (its error codes are the contract; the widget words its own
messages in the page's language). Django's
middlewares for those also link each request to objects that point back at it (the
message storage, the htmx details, the lazy user), so every request left garbage that
only Python's cyclic collector could free, and its pauses (about 12 ms each, every few
dozen votes) stalled every request in flight. The subclasses below leave API requests
alone; everywhere else they are Django's and django-htmx's own.
"""

from collections.abc import Callable

from corsheaders.conf import conf as cors_conf
from corsheaders.middleware import ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.locale import LocaleMiddleware as _LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxMiddleware as _HtmxMiddleware

API_PREFIX = "/api/"
WIDGET_FEEDBACK_PATH = "/api/v1/widget/feedback/"
# The API's documentation pages are read in a browser.
_API_DOCUMENT_PREFIXES = ("/api/v1/docs/", "/api/v1/redoc/", "/api/v1/schema/")


def is_key_api(request: HttpRequest) -> bool:
    """Whether the request is for the key-authenticated JSON API."""
    path = request.path_info
    return path.startswith(API_PREFIX) and not path.startswith(_API_DOCUMENT_PREFIXES)


class _BrowserOnly:
    """Run the middleware it is mixed into only for requests outside the key API."""

    sync_capable = True
    async_capable = False
    get_response: Callable[[HttpRequest], HttpResponse]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_key_api(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_BrowserOnly, _SessionMiddleware):
    pass


class LocaleMiddleware(_BrowserOnly, _LocaleMiddleware):
    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_key_api(request):
            # A thread may have served a page in Korean just before.
            translation.activate(settings.LANGUAGE_CODE)
        return super().__call__(request)


class AuthenticationMiddleware(_BrowserOnly, _AuthenticationMiddleware):
    pass


class MessageMiddleware(_BrowserOnly, _MessageMiddleware):
    pass


class HtmxMiddleware(_BrowserOnly, _HtmxMiddleware):
    pass


class ApiBodyLimitMiddleware:
    """Refuse API bodies over API_MAX_BODY_BYTES with 413 before anything reads them.

    Bodies without a Content-Length (chunked) are bounded later, when the view reads
    request.body and Django raises RequestDataTooBig (DATA_UPLOAD_MAX_MEMORY_SIZE).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    {
                        "error": {
                            "code": "payload_too_large",
                            "message": f"The request body is {length} bytes; the limit is {limit}.",
                            "fields": {},
                        }
                    },
                    status=413,
                )
        return self.get_response(request)


NUL_MESSAGE = "NUL characters are not allowed in addresses, queries or form fields."


class NulInputMiddleware:
    """Refuse a NUL character in the path, the query string or a submitted form field
    with a 400: PostgreSQL text cannot hold one, and a lookup or a write with it would
    fail as a server error. (JSON bodies are checked where they are validated, naming
    the fields.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return self._refuse(request)
        if (
            request.method == "POST"
            and not is_key_api(request)
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
            and any(
                "\x00" in key or any("\x00" in value for value in values)
                for key, values in request.POST.lists()
            )
        ):
            return self._refuse(request)
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest) -> HttpResponse:
        if is_key_api(request):
            body = {"error": {"code": "invalid", "message": NUL_MESSAGE, "fields": {}}}
            return JsonResponse(body, status=400)
        return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")


class WidgetVoteMiddleware:
    """Serve a widget vote that is in order ahead of the rest of the stack.

    First in MIDDLEWARE: a vote is the widget's hot path, and the other middlewares
    cost about a fifth of its CPU. annotations.api.widget.vote_fast_response says what
    it serves; the answer gets what the skipped middlewares would add to it (the
    CORS headers of an allowed origin, the security headers, by SecurityMiddleware
    itself), and a test compares it with the DRF view's. A request with a query
    string, one that SecurityMiddleware redirects to HTTPS, anything else and any vote
    declined go through the whole stack to the DRF view.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.middleware.security import SecurityMiddleware

        from annotations.api.widget import vote_fast_response

        self.get_response = get_response
        self.vote_fast_response = vote_fast_response
        self.security = SecurityMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method == "POST"
            and request.path_info == WIDGET_FEEDBACK_PATH
            and not request.META.get("QUERY_STRING")
            and self.security.process_request(request) is None
        ):
            response = self.vote_fast_response(request)
            if response is not None:
                _cors_headers(request, response)
                return self.security.process_response(request, response)
        return self.get_response(request)


def _cors_headers(request: HttpRequest, response: HttpResponse) -> None:
    """What django-cors-headers adds to an answer to an allowed origin (the vote's
    origin was checked against its project's), credentials never allowed."""
    patch_vary_headers(response, ("origin",))
    response[ACCESS_CONTROL_ALLOW_ORIGIN] = request.META["HTTP_ORIGIN"]
    if cors_conf.CORS_EXPOSE_HEADERS:
        response[ACCESS_CONTROL_EXPOSE_HEADERS] = ", ".join(cors_conf.CORS_EXPOSE_HEADERS)
