"""A realistic demo data set: Chinese shops, buyers, items, orders in every state, and clocks that run
out minutes after loading, so a newcomer sees the engine at work. Idempotent."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from orders import services as orders
from orders.models import Shop

User = get_user_model()
PASSWORD = "demo12345"

PEOPLE = [
    ("buyer", "张伟", "buyer"),
    ("buyer2", "李娜", "buyer"),
    ("buyer3", "刘洋", "buyer"),
    ("seller", "王芳", "seller"),
    ("seller2", "陈静", "seller"),
    ("seller3", "赵磊", "seller"),
    ("agent", "小美", "agent"),
    ("agent2", "小蓝", "agent"),
    ("arbitrator", "周正", "arbitrator"),
    ("arbitrator2", "吴敏", "arbitrator"),
    ("integration", "开放平台", "integration"),
]

SHOPS = [
    (
        "杭州小棉袄服饰店",
        "marketplace",
        "seller",
        "apparel",
        None,
        "浙江省杭州市余杭区仓前街道良睦路1399号 小棉袄售后部",
    ),
    (
        "良品数码天猫旗舰店",
        "mall",
        "seller2",
        "electronics",
        24,
        "广东省深圳市南山区科技园南区深南大道9988号 良品数码退货组",
    ),
    ("云南山货铺", "marketplace", "seller3", "food", 48, "云南省昆明市五华区青年路432号 山货铺"),
]

ITEMS = {
    "apparel": [("加厚连帽羽绒服 女款", "DOWN-W-M", "399.00"), ("纯棉圆领T恤 三件装", "TEE-3P-L", "89.00")],
    "electronics": [("降噪蓝牙耳机 Pro", "EAR-PRO-BLK", "1299.00"), ("65W 氮化镓快充头", "GAN65", "129.00")],
    "food": [("云南野生菌干货礼盒 500g", "MUSH-500", "268.00"), ("普洱熟茶饼 357g", "PUER-357", "158.00")],
}


class Command(BaseCommand):
    help = "Load the demo data set (idempotent). Every demo user's password is 'demo12345'."

    def handle(self, *args, **options):
        with transaction.atomic():
            people = self._people()
            if Shop.objects.filter(name=SHOPS[0][0]).exists():
                self.stdout.write("demo data already present; nothing to do")
                return
            shops = self._shops(people)
            count = self._orders(people, shops)
        self.stdout.write(
            f"demo data loaded: {len(people)} users, {len(shops)} shops, {count} orders. "
            f"Sign in as buyer / seller / agent / arbitrator / admin with password '{PASSWORD}'."
        )

    def _people(self) -> dict:
        people = {}
        for username, name, role in PEOPLE:
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": name})
            if created:
                user.set_password(PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))
            people[username] = user
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_superuser": True, "is_staff": True, "first_name": "管理员"}
        )
        if created:
            admin.set_password(PASSWORD)
            admin.save()
        people["admin"] = admin
        return people

    def _shops(self, people) -> list[Shop]:
        return [
            orders.shop_create(
                actor=people["integration"],
                name=name,
                kind=kind,
                owner=people[owner],
                category=category,
                shipping_promise_hours=promise,
                return_address=address,
            )
            for name, kind, owner, category, promise, address in SHOPS
        ]

    def _orders(self, people, shops) -> int:
        now = timezone.now()
        api = people["integration"]
        buyers = [people["buyer"], people["buyer2"], people["buyer3"]]
        made = 0

        def new(shop, buyer, *, ago: dt.timedelta, item=0, qty=1, **extra):
            nonlocal made
            title, sku, price = ITEMS[shop.category][item]
            made += 1
            return orders.order_create(
                actor=api,
                shop=shop,
                buyer=buyer,
                total_amount=Decimal(price) * qty,
                items=[
                    {
                        "title": title,
                        "sku": sku,
                        "unit_price": Decimal(price),
                        "quantity": qty,
                        "category": shop.category,
                    }
                ],
                created_at=now - ago,
                free_shipping=shop.kind == "mall",
                **extra,
            )

        def ship_hours(shop) -> int:
            return min(72, shop.shipping_promise_hours or 72)

        for i, shop in enumerate(shops):
            buyer = buyers[i % 3]
            hours = ship_hours(shop)
            # awaiting payment
            new(shop, buyer, ago=dt.timedelta(minutes=20))
            # paid; the ship-by clock runs out in a few minutes (R-T01)
            o = new(shop, buyer, ago=dt.timedelta(hours=hours, minutes=10))
            orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(hours=hours) + dt.timedelta(minutes=3 + i))
            # paid and already late: the first sweep penalises it
            o = new(shop, buyers[(i + 1) % 3], ago=dt.timedelta(hours=hours + 5), item=1)
            orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(hours=hours + 4))
            # paid, comfortably in time
            o = new(shop, buyers[(i + 2) % 3], ago=dt.timedelta(hours=3), item=1, qty=2)
            orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(hours=2))
            # shipped; auto-confirm (R-T16) runs out in a few minutes
            o = new(shop, buyer, ago=dt.timedelta(days=11))
            orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(days=10, hours=23))
            orders.order_ship(
                order=o,
                actor=shop.owner,
                carrier="中通快递",
                tracking_number=f"ZT7{i}0001",
                picked_up_at=now - dt.timedelta(days=10) + dt.timedelta(minutes=6 + i),
            )
            # delivered
            o = new(shop, buyers[(i + 1) % 3], ago=dt.timedelta(days=4))
            orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(days=4) + dt.timedelta(minutes=5))
            orders.order_ship(
                order=o,
                actor=shop.owner,
                carrier="顺丰速运",
                tracking_number=f"SF1{i}0002",
                picked_up_at=now - dt.timedelta(days=3),
            )
            orders.order_deliver(order=o, actor=api, signed_at=now - dt.timedelta(days=1))
            # completed
            o = new(shop, buyers[(i + 2) % 3], ago=dt.timedelta(days=9), item=1)
            orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(days=9) + dt.timedelta(minutes=2))
            orders.order_ship(
                order=o,
                actor=shop.owner,
                carrier="圆通速递",
                tracking_number=f"YT8{i}0003",
                picked_up_at=now - dt.timedelta(days=8),
            )
            orders.order_deliver(order=o, actor=api, signed_at=now - dt.timedelta(days=6))
            orders.order_confirm_receipt(order=o, actor=o.buyer)
            # closed unpaid
            o = new(shop, buyer, ago=dt.timedelta(days=2))
            orders.order_close(order=o, actor=api)
        # a presale and a custom-made order (exempt from R-T01)
        o = new(shops[0], buyers[0], ago=dt.timedelta(hours=1), presale_ship_by=now + dt.timedelta(days=12))
        orders.order_pay(order=o, actor=api, paid_at=now - dt.timedelta(minutes=30))
        made += 1
        custom = orders.order_create(
            actor=api,
            shop=shops[0],
            buyer=buyers[1],
            total_amount=Decimal("520.00"),
            created_at=now,
            items=[
                {
                    "title": "定制刻字情侣卫衣",
                    "sku": "CUSTOM-HOODIE",
                    "unit_price": Decimal("260.00"),
                    "quantity": 2,
                    "category": "apparel",
                    "custom_made": True,
                }
            ],
        )
        orders.order_pay(order=custom, actor=api)
        return made
