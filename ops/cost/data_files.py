"""The two inputs besides the template: dated AWS prices, and what one call or item does (with its basis)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

DATA_DIR = Path(__file__).resolve().parent / "data"
NonNegative = Annotated[float, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Frozen):
    usd: NonNegative
    #: Key of `AwsPrices.sources`: the page the figure was taken from.
    source: str


class AwsPrices(_Frozen):
    as_of: date
    region: str
    currency: str
    note: str = ""
    sources: dict[str, str]
    prices: dict[str, Price]

    def __getitem__(self, name: str) -> float:
        """USD per single unit: `…_per_million` and `…_per_thousand` prices are divided down."""
        usd = self.prices[name].usd
        if name.endswith("_per_million"):
            return usd / 1_000_000
        return usd / 1000 if name.endswith("_per_thousand") else usd


class Figure(_Frozen):
    value: NonNegative
    #: measured / counted / assumed, and from where: a reader must be able to tell a guess from a measurement.
    basis: str


class Workload(_Frozen):
    note: str = ""
    hours_per_month: NonNegative
    chat_call: dict[str, Figure]
    batch_item: dict[str, Figure]
    idle: dict[str, Figure]
    xray_sampling: dict[str, Figure]

    def chat(self, name: str) -> float:
        return self.chat_call[name].value

    def batch(self, name: str) -> float:
        return self.batch_item[name].value


def load_prices(path: Path = DATA_DIR / "aws_prices.json") -> AwsPrices:
    prices = AwsPrices.model_validate(json.loads(path.read_text()))
    unknown = {price.source for price in prices.prices.values()} - set(prices.sources)
    if unknown:
        raise ValueError(f"{path}: prices cite sources with no page: {sorted(unknown)}")
    return prices


def load_workload(path: Path = DATA_DIR / "workload.json") -> Workload:
    return Workload.model_validate(json.loads(path.read_text()))
