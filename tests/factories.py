"""factory_boy factories for every app's models, and the named cast of permission tests."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from orders.models import Order, OrderItem, Shop

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            # A transactional test's flush empties auth_group: the roles' data migration does not run again.
            self.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in extracted))
            self.save()


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    name = factory.Sequence(lambda n: f"店铺{n}")
    kind = Shop.Kind.MARKETPLACE
    owner = factory.SubFactory(UserFactory, roles=["seller"])
    return_address = "浙江省杭州市余杭区文一西路969号"


class OrderFactory(factory.django.DjangoModelFactory):
    """An order awaiting payment with one item; use the services to move it on."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    buyer = factory.SubFactory(UserFactory, roles=["buyer"])
    total_amount = Decimal("100.00")
    shipping_fee = Decimal("0.00")
    created_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if not create:
            return
        for item in extracted or [{}]:
            OrderItem.objects.create(
                order=self,
                title=item.get("title", "纯棉T恤"),
                sku=item.get("sku", "TSHIRT-M"),
                category=item.get("category", "apparel"),
                unit_price=item.get("unit_price", self.total_amount),
                quantity=item.get("quantity", 1),
                discounted=item.get("discounted", False),
                custom_made=item.get("custom_made", False),
            )
