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
            disputes = self._disputes(people, shops)
        self.stdout.write(
            f"demo data loaded: {len(people)} users, {len(shops)} shops, {count} orders, {disputes} disputes. "
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

    def _disputes(self, people, shops) -> int:
        """Refunds, complaints and cases in every state a newcomer should see."""
        from disputes import services as disputes
        from disputes.models import Case

        now = timezone.now()
        api = people["integration"]
        made = 0

        def received_order(shop, buyer, *, days_ago: int, item=0, complete=False):
            title, sku, price = ITEMS[shop.category][item]
            order = orders.order_create(
                actor=api,
                shop=shop,
                buyer=buyer,
                total_amount=Decimal(price),
                created_at=now - dt.timedelta(days=days_ago),
                items=[
                    {"title": title, "sku": sku, "unit_price": Decimal(price), "quantity": 1, "category": shop.category}
                ],
                shipping_address="浙江省杭州市西湖区文三路90号",
            )
            orders.order_pay(
                order=order, actor=api, paid_at=now - dt.timedelta(days=days_ago) + dt.timedelta(minutes=5)
            )
            orders.order_ship(
                order=order,
                actor=shop.owner,
                carrier="韵达快递",
                tracking_number=f"YD{order.pk:08d}",
                picked_up_at=now - dt.timedelta(days=days_ago - 1),
            )
            orders.order_deliver(order=order, actor=api, signed_at=now - dt.timedelta(days=days_ago - 2))
            if complete:
                orders.order_confirm_receipt(order=order, actor=buyer)
            return order

        apparel, electronics, food = shops
        buyer, buyer2, buyer3 = people["buyer"], people["buyer2"], people["buyer3"]
        agent, arbitrator, seller2 = people["agent"], people["arbitrator"], people["seller2"]

        # Waiting for the seller (R-T04): a quality problem on a down jacket.
        o = received_order(apparel, buyer, days_ago=4)
        disputes.refund_file(
            actor=buyer,
            order=o,
            kind="return_and_refund",
            reason="quality_issue",
            amount=o.total_amount,
            description="羽绒服袖口开线,跑绒严重",
        )
        # Seven-day no-reason return, agreed: the buyer must send it back (R-T05).
        o = received_order(electronics, buyer2, days_ago=3, item=1)
        r = disputes.refund_file(
            actor=buyer2,
            order=o,
            kind="return_and_refund",
            reason="no_reason_7d",
            amount=o.total_amount,
            description="买多了,未拆封",
        )
        disputes.refund_approve(refund=r, actor=seller2)
        # Refused by the seller: the buyer may modify or ask the platform (R-T08, R-T09).
        o = received_order(food, buyer3, days_ago=6, complete=True)
        r = disputes.refund_file(
            actor=buyer3,
            order=o,
            kind="refund_only",
            reason="spoiled",
            amount=Decimal("100.00"),
            description="菌菇受潮发霉",
        )
        disputes.refund_refuse(refund=r, actor=people["seller3"], reason="发货时检查无霉变")
        # Escalated to the platform: a case in the queue, assigned to an agent.
        o = received_order(electronics, buyer, days_ago=8, complete=True)
        r = disputes.refund_file(
            actor=buyer,
            order=o,
            kind="refund_only",
            reason="quality_issue",
            amount=o.total_amount,
            description="耳机左耳无声",
        )
        disputes.refund_refuse(refund=r, actor=seller2, reason="人为损坏")
        disputes.refund_escalate(refund=r, actor=buyer, reason="卖家拒绝售后")
        case = Case.objects.get(refund=r)
        disputes.case_assign(case=case, actor=agent, assignee=agent)
        disputes.case_note_add(case=case, actor=agent, body="买家提供了开箱视频,待卖家举证")
        disputes.case_request_evidence(case=case, actor=agent, party="seller", note="请提供出库检测记录", hours=48)
        # A complaint waiting for the seller's appeal (R-T10, 24 h).
        o = received_order(apparel, buyer2, days_ago=5)
        disputes.complaint_file(
            actor=buyer2,
            order=o,
            type="breach_of_promise",
            promise_kind="invoice",
            description="承诺开具发票,至今未开",
            contacted_first=True,
        )
        # A rule-type complaint, queued for arbitration at once (R-C02).
        o = received_order(apparel, buyer3, days_ago=5, item=1)
        disputes.complaint_file(
            actor=buyer3,
            order=o,
            type="misdescription",
            severity="affects_use",
            description="标注纯棉,实际含涤纶60%",
            contacted_first=False,
        )
        # A ruled case: the buyer won; the ruling can still be reviewed (R-T20).
        o = received_order(food, buyer, days_ago=9, complete=True, item=1)
        c = disputes.complaint_file(actor=buyer, order=o, type="out_of_stock", description="付款后说没货")
        disputes.complaint_appeal(complaint=c, actor=people["seller3"], statement="库存系统故障")
        disputes.complaint_rebut(complaint=c, actor=buyer, statement="多次催促无果")
        disputes.case_rule(
            case=Case.objects.get(complaint=c),
            actor=arbitrator,
            outcome="buyer_wins",
            responsibility="seller",
            note="卖家确认缺货,按规则处理",
        )
        made += 7
        return made
