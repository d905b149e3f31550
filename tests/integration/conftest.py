"""Fixtures for integration tests: real Postgres, Redis, S3 server, PDFs and HTTP."""

from tests.integration.support.clients import *  # noqa: F403
from tests.integration.support.databases import *  # noqa: F403
from tests.integration.support.redis import *  # noqa: F403
from tests.integration.support.samples import *  # noqa: F403
from tests.integration.support.seaweed import *  # noqa: F403
