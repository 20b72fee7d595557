"""The web console (being built)."""

from kafkalite.web.http import HttpResponse


class ConsoleApp:
    def __init__(self, broker):
        self.broker = broker

    async def __call__(self, request):
        return HttpResponse.text("the web console is not built yet\n", 503)
