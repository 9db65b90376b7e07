"""The limits the validation suites encode, in one typed place.

The schemas (``fraudlake.schemas``) fix columns, types and nullability; these rules fix
the *values*: the simulation grid, the accepted currencies and the cap on an amount. They
come from ``params.yaml`` (:meth:`ValidationRules.from_params`) so that a change of grid
size or currency there changes what the gate accepts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fraudlake.params import Params, SimulateParams

#: ISO 4217 codes of the card markets the platform accepts by default.
DEFAULT_ACCEPTED_CURRENCIES: frozenset[str] = frozenset(
    {
        "AUD",
        "CAD",
        "CHF",
        "CZK",
        "DKK",
        "EUR",
        "GBP",
        "HUF",
        "JPY",
        "NOK",
        "PLN",
        "RON",
        "SEK",
        "USD",
    }
)

#: Default cap on one card transaction's amount: anything at or above it is a feed error.
DEFAULT_MAX_AMOUNT = 100_000.0


class ValidationRules(BaseModel):
    """Value limits of the validation suites.

    Contract: ``currency`` is always one of ``accepted_currencies`` (construction fails
    otherwise), every code is three upper-case letters, and ``grid_size`` and
    ``max_amount`` are positive.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid_size: float = Field(100.0, gt=0, description="coordinates lie in [0, grid_size]")
    currency: str = Field("EUR", description="the configured currency of the simulation")
    accepted_currencies: frozenset[str] = Field(
        DEFAULT_ACCEPTED_CURRENCIES, description="ISO 4217 codes a batch may carry"
    )
    max_amount: float = Field(
        DEFAULT_MAX_AMOUNT, gt=0, description="amounts must lie in [0, max_amount)"
    )

    @field_validator("accepted_currencies")
    @classmethod
    def _iso_codes(cls, codes: frozenset[str]) -> frozenset[str]:
        bad = sorted(c for c in codes if len(c) != 3 or not c.isalpha() or not c.isupper())
        if bad:
            raise ValueError(f"not ISO 4217 codes (three upper-case letters): {bad}")
        if not codes:
            raise ValueError("accept at least one currency")
        return codes

    @model_validator(mode="after")
    def _currency_accepted(self) -> ValidationRules:
        if self.currency not in self.accepted_currencies:
            raise ValueError(
                f"configured currency {self.currency!r} is not among the accepted "
                f"currencies {sorted(self.accepted_currencies)}"
            )
        return self

    @classmethod
    def from_params(
        cls,
        params: Params | SimulateParams,
        *,
        accepted_currencies: frozenset[str] = DEFAULT_ACCEPTED_CURRENCIES,
        max_amount: float = DEFAULT_MAX_AMOUNT,
    ) -> ValidationRules:
        """Rules for the data ``params.yaml`` describes (grid size and currency).

        Accepts the whole :class:`Params` or its ``simulate`` section.
        """
        simulate = params.simulate if isinstance(params, Params) else params
        return cls(
            grid_size=simulate.grid_size,
            currency=simulate.currency,
            accepted_currencies=accepted_currencies,
            max_amount=max_amount,
        )
