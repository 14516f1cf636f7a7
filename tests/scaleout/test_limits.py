"""The per-user stream limit across workers: one user's tabs on server A (two workers) and
server B (one) send at the same moment; only the limit streams, in all of them together."""

from __future__ import annotations

from tests.integration.test_limits import only_the_limit_streams
from tests.scaleout.conftest import STREAMS_PER_USER


async def test_the_stream_limit_holds_across_workers(cluster, model):
    await only_the_limit_streams([cluster.a.url, cluster.b.url], model, STREAMS_PER_USER)
