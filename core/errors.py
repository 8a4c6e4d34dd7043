"""Domain errors raised by services. The API turns them into 409 / 403 / 400 with a code."""

from __future__ import annotations


class DomainError(Exception):
    """A rule forbids this now (HTTP 409): e.g. a transition from the wrong state."""

    status_code = 409
    default_code = "conflict"

    def __init__(self, detail: str, *, code: str | None = None, data: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.data = data or {}


class InvalidTransition(DomainError):
    default_code = "invalid_transition"

    def __init__(self, subject: str, current: str, action: str, *, allowed_from: list[str] | None = None):
        detail = f"cannot {action} a {subject} in status '{current}'"
        if allowed_from:
            detail += f" (allowed from: {', '.join(allowed_from)})"
        super().__init__(detail, code="invalid_transition", data={"status": current, "action": action})


class Forbidden(DomainError):
    """The actor may see the object but not do this to it (HTTP 403)."""

    status_code = 403
    default_code = "forbidden"


class RuleViolation(DomainError):
    """Input that a rule refuses (HTTP 400), e.g. a reason that does not fit the order's stage."""

    status_code = 400
    default_code = "rule_violation"

    def __init__(self, detail: str, *, code: str | None = None, field: str | None = None, data: dict | None = None):
        super().__init__(detail, code=code, data=data)
        self.field = field
