"""Roles and what each may do. Every route declares the permission it needs."""

from __future__ import annotations

from enum import StrEnum

from kefu.vocabulary import Role


class Permission(StrEnum):
    HOME = "home"  # the home page and its live counts
    CONVERSATIONS_READ = "conversations.read"
    CUSTOMERS_READ = "customers.read"
    AGENTS_READ = "agents.read"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"
    BRANCH_COUNTER = "branch.counter"
    BRANCHES_READ = "branches.read"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset(
        {Permission.HOME, Permission.CONVERSATIONS_READ, Permission.CUSTOMERS_READ,
         Permission.BRANCHES_READ}
    ),
    Role.SUPERVISOR: frozenset(
        {Permission.HOME, Permission.CONVERSATIONS_READ, Permission.CUSTOMERS_READ,
         Permission.AGENTS_READ, Permission.REPORTS_READ, Permission.BRANCHES_READ}
    ),
    Role.ADMIN: frozenset(
        {Permission.HOME, Permission.USERS_MANAGE, Permission.AUDIT_READ,
         Permission.AGENTS_READ, Permission.BRANCHES_READ}
    ),
    Role.ANALYST: frozenset({Permission.HOME, Permission.REPORTS_READ, Permission.BRANCHES_READ}),
    Role.TELLER: frozenset(
        {Permission.HOME, Permission.BRANCH_COUNTER, Permission.CUSTOMERS_READ,
         Permission.BRANCHES_READ}
    ),
}  # fmt: skip


def allowed(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
