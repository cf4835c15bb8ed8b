"""Price table and cost computation.

``PriceBook(overrides).cost(usage, model)`` turns a normalised :class:`~thrifty.types.Usage`
into an exact :class:`~thrifty.types.Cost` (``Decimal`` US dollars), or
:data:`~thrifty.types.UNPRICED` when nobody knows the model's price.  Rates come from user
overrides, the explicit local $0 tier, or the bundled snapshot of the ``genai-prices``
package (never fetched over the network).  Batch discount reasoning is in
:mod:`thrifty.pricing.genai`; the choice of genai-prices over tokencost and LiteLLM's price
JSON is argued in docs/pricing.md.

Nothing is loaded at import time: the genai-prices data module is imported on a
``PriceBook``'s first snapshot lookup.
"""

from thrifty.pricing.book import PriceBook
from thrifty.pricing.display import format_rates, rates_to_json
from thrifty.pricing.rates import ModelRates, compute_cost

__all__ = ["ModelRates", "PriceBook", "compute_cost", "format_rates", "rates_to_json"]
