from __future__ import annotations

from ninja import Schema


class DepartmentOut(Schema):
    id: int
    name: str
    parent_id: int | None


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    role: str
    department: DepartmentOut | None
    language: str
    is_active: bool
