"""E2E fixtures: the fake platforms and a subprocess stack pointed at them."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack
from tests.fakes.platforms import FakePlatforms


@pytest.fixture
def fake_platforms():
    with FakePlatforms() as fake:
        yield fake


@pytest.fixture
def stack_factory(tmp_path, fake_platforms):
    stacks: list[Stack] = []

    def make(**env: str) -> Stack:
        defaults = {"KLAVIYO_API_URL": fake_platforms.url, "LOOPS_API_URL": fake_platforms.url}
        stack = Stack(tmp_path, **{**defaults, **env})
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()
