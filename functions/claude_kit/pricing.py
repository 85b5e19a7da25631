"""What a call cost, from the per-model prices in data/models.json (plus `KIT_PRICE_OVERRIDES`).

Prices change more often than code: they live in one data file with the date and source of every figure, and
an environment can correct one without a release.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from claude_kit.calls import Usage
from claude_kit.observability import logger
from claude_kit.settings import get_settings

Price = Annotated[float, Field(ge=0)]
_PER_TOKEN = 1 / 1_000_000
# Dated snapshots ("claude-sonnet-4-5-20250929") cost what their alias costs.
_SNAPSHOT_SUFFIX = re.compile(r"-\d{8}$")


class Rates(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Price
    output: Price
    cache_write_5m: Price
    cache_write_1h: Price
    cache_read: Price

    def cost(self, usage: Usage) -> float:
        writes_1h = usage.cache_creation_1h_input_tokens
        writes_5m = usage.cache_creation_input_tokens - writes_1h
        return _PER_TOKEN * (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + writes_5m * self.cache_write_5m
            + writes_1h * self.cache_write_1h
            + usage.cache_read_input_tokens * self.cache_read
        )


class LongContextRates(Rates):
    """Rates for the whole call once its prompt is longer than `above_prompt_tokens`."""

    above_prompt_tokens: Annotated[int, Field(gt=0)]


class ModelPricing(Rates):
    long_context: LongContextRates | None = None
    #: Shortest prompt prefix the model caches; None when unpublished (the table's default applies).
    min_cacheable_tokens: Annotated[int, Field(gt=0)] | None = None
    source: str | None = None

    def rates_for(self, usage: Usage) -> Rates:
        tier = self.long_context
        return tier if tier is not None and usage.prompt_tokens > tier.above_prompt_tokens else self


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: date
    sources: dict[str, str] = Field(default_factory=dict)
    units: str = ""
    batch_discount: Annotated[float, Field(gt=0, le=1)]
    default_min_cacheable_tokens: Annotated[int, Field(gt=0)]
    models: dict[str, ModelPricing]

    def lookup(self, model: str) -> ModelPricing | None:
        return self.models.get(model) or self.models.get(_SNAPSHOT_SUFFIX.sub("", model))

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> float | None:
        pricing = self.lookup(model)
        if pricing is None:
            return None
        cost = pricing.rates_for(usage).cost(usage)
        return cost * self.batch_discount if batch else cost

    def min_cacheable_tokens(self, model: str) -> int:
        pricing = self.lookup(model)
        known = pricing.min_cacheable_tokens if pricing is not None else None
        return known or self.default_min_cacheable_tokens

    def with_overrides(self, overrides: dict[str, dict[str, float]]) -> PriceTable:
        """Field-by-field overrides; a model absent from the file needs all five prices."""
        if not overrides:
            return self
        models = {name: pricing.model_dump() for name, pricing in self.models.items()}
        for name, fields in overrides.items():
            models[name] = {**models.get(name, {}), **fields}
        return PriceTable.model_validate({**self.model_dump(), "models": models})


def load_price_table(overrides: dict[str, dict[str, float]] | None = None) -> PriceTable:
    text = resources.files("claude_kit").joinpath("data/models.json").read_text(encoding="utf-8")
    return PriceTable.model_validate(json.loads(text)).with_overrides(overrides or {})


@cache
def get_price_table() -> PriceTable:
    """The container's prices: the data file with this environment's overrides, validated once."""
    return load_price_table(get_settings().price_overrides)


def estimate_cost(
    model: str, usage: Usage, batch: bool = False, *, table: PriceTable | None = None
) -> float | None:
    """USD for one call, or None (and a warning) for a model without a price: never a crash."""
    cost = (table or get_price_table()).cost(model, usage, batch=batch)
    if cost is None:
        _warn_unknown_model(model)
        return None
    # Float noise (0.00032399999999999996) would reach callers and logs; a nano-dollar is precision enough.
    return round(cost, 9)


@cache
def _warn_unknown_model(model: str) -> None:
    """Once per model per container: the `UnknownModelCost` metric counts every occurrence."""
    logger.warning("No price for model: its cost is not counted", extra={"model": model})
