"""Price table and cost computation.

``PriceBook(overrides).cost(usage, model)`` turns a normalised :class:`~thrifty.types.Usage`
into an exact :class:`~thrifty.types.Cost` (``Decimal`` US dollars), or
:data:`~thrifty.types.UNPRICED` when nobody knows the model's price.  Rates come from user
overrides, the explicit local $0 tier, or the bundled snapshot of the ``genai-prices``
package (never fetched over the network), resolved for the call's time and service tier,
plus server-tool fees.  ``PriceBook.price_call(call, ...)`` prices a
:class:`~thrifty.types.Call`.  Batch discount reasoning is in
:mod:`thrifty.pricing.genai`; the choice of genai-prices over tokencost and LiteLLM's price
JSON is argued in docs/pricing.md.

Nothing is loaded at import time: the genai-prices data module is imported on a
``PriceBook``'s first snapshot lookup.
"""

from thrifty.pricing.book import PriceBook
from thrifty.pricing.display import format_rates, rates_to_json
from thrifty.pricing.fees import PROVIDER_TOOL_FEES
from thrifty.pricing.rates import ModelRates, compute_cost, quantize_rate

__all__ = [
    "PROVIDER_TOOL_FEES",
    "ModelRates",
    "PriceBook",
    "compute_cost",
    "format_rates",
    "quantize_rate",
    "rates_to_json",
]
