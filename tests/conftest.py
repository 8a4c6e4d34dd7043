from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from tests.factories import ShopFactory, UserFactory


@pytest.fixture
def cast(db):
    """The named cast: a buyer, the seller and their shop, a stranger seller, an agent, an arbitrator,
    the shop platform's integration account, and a second buyer."""
    seller = UserFactory(username="seller", roles=["seller"])
    stranger = UserFactory(username="stranger_seller", roles=["seller"])
    return SimpleNamespace(
        buyer=UserFactory(username="buyer", roles=["buyer"]),
        other_buyer=UserFactory(username="other_buyer", roles=["buyer"]),
        seller=seller,
        shop=ShopFactory(owner=seller, name="杭州小棉袄服饰店"),
        stranger_seller=stranger,
        stranger_shop=ShopFactory(owner=stranger, name="别人家的店"),
        agent=UserFactory(username="agent", roles=["agent"]),
        arbitrator=UserFactory(username="arbitrator", roles=["arbitrator"]),
        integration=UserFactory(username="integration", roles=["integration"]),
    )


@pytest.fixture
def api():
    """`api(user)` is a DRF client authenticated as `user` (or anonymous for None)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
