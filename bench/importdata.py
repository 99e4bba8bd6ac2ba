"""Realistic import files for the import benchmark: Chinese companies with one contact each.

Names are assembled like real registrations (city, brand characters, trade, legal form), contacts
have Chinese names, job titles, mobiles of the real prefixes and e-mails at common mail domains or
the company's own domain. About ``duplicates`` of the rows repeat an earlier row's mobile (the
duplicate check must find and skip them); a few rows carry an invalid phone or date (errors the
cleaning must report). Everything is derived from a seed, so a file is reproducible.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

HEADERS = [
    "客户名称",
    "所属行业",
    "所在地区",
    "信息来源",
    "企业规模",
    "联系人",
    "职务",
    "手机",
    "邮箱",
    "成立日期",
    "详细地址",
]
CITIES = [
    ("上海", "上海市", "浦东新区张江路"),
    ("北京", "北京市", "海淀区中关村大街"),
    ("深圳", "深圳市", "南山区科技园路"),
    ("广州", "广州市", "天河区天河路"),
    ("杭州", "杭州市", "西湖区文三路"),
    ("苏州", "苏州市", "工业园区星湖街"),
    ("南京", "南京市", "江宁区双龙大道"),
    ("成都", "成都市", "高新区天府大道"),
    ("武汉", "武汉市", "东湖高新区光谷大道"),
    ("宁波", "宁波市", "鄞州区天童路"),
    ("青岛", "青岛市", "崂山区海尔路"),
    ("厦门", "厦门市", "思明区软件园路"),
    ("天津", "天津市", "滨海新区第三大街"),
    ("重庆", "重庆市", "渝北区金开大道"),
    ("长沙", "长沙市", "岳麓区麓谷大道"),
    ("无锡", "无锡市", "新吴区长江路"),
]
BRAND = (
    "华瑞德兴恒泰安康盛达信诚通宏远鑫源博创新智联合众嘉和中天明辉"
    + "精工科永隆佳乐美丰腾飞启航东方金银海"
)
TRADES = [
    ("机械设备", "通用设备制造业"),
    ("精密制造", "专用设备制造业"),
    ("电子科技", "计算机、通信和其他电子设备制造业"),
    ("汽车零部件", "汽车制造业"),
    ("医疗器械", "专用设备制造业"),
    ("软件", "软件和信息技术服务业"),
    ("信息技术", "软件和信息技术服务业"),
    ("网络科技", "互联网和相关服务"),
    ("商贸", "批发业"),
    ("供应链管理", "商务服务业"),
    ("建设工程", "土木工程建筑业"),
    ("检测技术", "专业技术服务业"),
    ("物流", "道路运输业"),
    ("餐饮管理", "餐饮业"),
]
LEGAL = ["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司", "科技有限公司"]
SOURCES = ["展会", "官网", "电话咨询", "转介绍", "社交媒体", "陌拜", "市场调研", ""]
SIZES = ["50人以下", "50-300人", "300-500人", "500人以上", ""]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰晨宇浩然子涵欣怡梓轩"
LATIN = "wei fang na min jing li qiang lei jun yang yong yan jie juan tao ming chao xiu".split()  # noqa: SIM905
TITLES = ["采购经理", "技术总监", "总经理", "财务经理", "行政主管", "IT经理", "生产经理", "董事长"]
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "aliyun.com", "foxmail.com"]
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "166", "170", "176", "177", "180", "181", "182",
    "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip


def rows(
    count: int, *, seed: int = 1, duplicates: float = 0.01, bad: float = 0.002
) -> Iterator[list[str]]:
    """``count`` data rows (without the header)."""
    rng = random.Random(seed)
    mobiles: list[str] = []
    used_names: set[str] = set()
    for index in range(count):
        city, region, street = rng.choice(CITIES)
        trade, industry = rng.choice(TRADES)
        name = ""
        while not name or name in used_names:
            brand = "".join(rng.choice(BRAND) for _ in range(rng.choice((2, 2, 3, 4))))
            name = city + brand + trade + rng.choice(LEGAL)
        if count <= 2_000_000:
            used_names.add(name)
        if mobiles and rng.random() < duplicates:
            mobile = rng.choice(mobiles)  # the same contact again: a duplicate
        else:
            mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if len(mobiles) < 100_000:
                mobiles.append(mobile)
        person = rng.choice(SURNAMES) + "".join(
            rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))
        )
        if rng.random() < 0.6:
            email = f"{rng.choice(LATIN)}{rng.choice(LATIN)}{index}@{rng.choice(MAIL_DOMAINS)}"
        else:
            email = f"{rng.choice(LATIN)}.{index}@corp{index % 5000}.com.cn"
        founded = f"{rng.randint(1990, 2023)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        if rng.random() < bad:
            mobile = "1" + mobile[1:5]  # too short: an invalid phone
        if rng.random() < bad:
            founded = "2019年13月1日"  # no such month
        yield [
            name,
            industry,
            region,
            rng.choice(SOURCES),
            rng.choice(SIZES),
            person,
            rng.choice(TITLES),
            f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}" if index % 3 == 0 else mobile,
            email,
            founded,
            f"{street}{rng.randint(1, 999)}号" if rng.random() < 0.7 else "",
        ]


def write(path: Path, count: int, *, fmt: str, seed: int = 1) -> Path:
    """Write ``count`` rows as CSV (UTF-8 with BOM, as Excel saves it) or XLSX."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADERS)
            writer.writerows(rows(count, seed=seed))
        return path
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(HEADERS)
    for row in rows(count, seed=seed):
        sheet.append(row)
    workbook.save(path)
    return path
