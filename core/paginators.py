"""Paginators without the API's imports: the admin and the dashboard use them in every process that
loads the apps (a sweeping worker too), where importing DRF would cost each worker about 8 MiB."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows: a queue of millions pages without a COUNT(*) over all of them."""

    CAP = 10_000
    # QueuePagination.paginate_counted keeps a count past the cap this long (docs/DECISIONS.md "Queue counts").
    CAPPED_COUNT_SECONDS = 5

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()  # type: ignore[attr-defined]

    @property
    def capped(self) -> bool:
        return self.count > self.CAP

    @property
    def count_shown(self) -> int:
        """What a page says: the exact count, or CAP (shown as "≥ CAP") past it."""
        return min(self.count, self.CAP)
