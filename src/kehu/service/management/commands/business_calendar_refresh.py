"""``kehu manage business_calendar_refresh [YEAR ...]``: load public holidays and 调休."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from kehu.service.services.calendar import calendar_refresh


class Command(BaseCommand):
    help = "Load the public holidays and make-up working days of the business calendar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("years", nargs="*", type=int, help="default: this year and the next")

    def handle(self, *args: Any, **options: Any) -> None:
        found = calendar_refresh(years=options["years"] or None)
        self.stdout.write(
            "created {created}, deleted {deleted}, skipped (overlapping) {skipped}".format(**found)
        )
