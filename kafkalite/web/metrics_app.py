"""GET /metrics (being built)."""

from kafkalite.web.http import HttpResponse


class MetricsApp:
    def __init__(self, broker):
        self.broker = broker

    async def __call__(self, request):
        return HttpResponse.text("metrics are not built yet\n", 503)
