"""Builders of import files for the transfer tests."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

HEADERS = ["客户名称", "所属行业", "所在地区", "信息来源", "联系人", "手机", "邮箱", "成立日期"]


POOL = "华瑞德兴恒泰安康盛达信诚通宏远鑫源博创新智联合众嘉和中天明辉精工科永隆佳乐美丰腾飞启航东方"


def company_name(index: int) -> str:
    """Distinct names that are not fuzzy duplicates of each other (base-50 characters)."""
    chars = []
    value = index
    for _position in range(4):
        value, digit = divmod(value, len(POOL))
        chars.append(POOL[digit])
    return "".join(reversed(chars)) + "科技有限公司"


def customer_rows(count: int, start: int = 0) -> list[list[Any]]:
    rows = []
    for index in range(start, start + count):
        rows.append(
            [
                company_name(index),
                "通用设备制造业",
                "上海市",
                "行业展会",
                f"联系人{index}",
                f"139{index:08d}",
                f"user{index}@example.cn",
                "2015年5月20日",
            ]
        )
    return rows


def write_csv(
    path: Path,
    rows: list[list[Any]],
    headers: list[str] = HEADERS,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[Any]], headers: list[str] = HEADERS) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path
