"""A deterministic synthetic retail chain written as a contract feed, plus its true demand.

The demo chain has four categories (FRESH, GROCERY, HOUSEHOLD, TOYS), eight suppliers with
lead times from 2 to 21 days, five stores, an online shop (``WEB``) and a distribution centre,
and uses every table of the feed contract. Demand is count data (negative binomial around a
mean) with weekly and yearly seasonality, trends, promotions, US holidays and retail events,
temperature-sensitive subcategories, fast, slow and lumpy movers, items launched late (cold
start) and a few discontinued items. Stock is simulated day by day with a deliberately naive
static (s, S) policy and gamma-distributed supplier lead times, so sales are censored by
stockouts on a few percent of the days, exactly the situation a replenishment pipeline must see
through. The uncensored demand is written outside the feed, for tests and evaluation only.

Everything about the chain is drawn from one ``numpy.random.Generator`` in a fixed order (the
customers from a second one): the same arguments give byte-identical files.

Conventions of the demo feed: ``promotions.discount_pct`` is a percentage (20 = 20% off; 10..40
here); a promotion lifts mean demand by ``exp(beta * discount)`` with beta in 2..4 per SKU.
Returns are extra sales rows with negative quantity and are not put back on the shelf. Sales
are lost (not backordered) when stock runs out; ``inventory.on_hand`` is the closing stock and
``on_order`` the units ordered and not yet received (cancelled orders leave it 3 days after
ordering). The static policy sizes its reorder point from the series' average
non-promotional demand over the whole history (a planner's one-off setting), so it is too
low in seasonal peaks and promotions and too high in troughs.

Customers (``customers``): every sale line carries a ``customer_id`` (with ``order_id`` and
``line_id``); regular customers who meet stock-outs of their regular items leave with a
probability that rises with the stock-outs they met, and are replaced. They are drawn from a
second generator, ``default_rng([seed, 99])``, after the chain, so demand, stock and the daily
sales totals of a seed are those of the chain alone. The churn truth
(``customer_churn.parquet``, ``customer_hits.parquet``) goes beside the true demand; the
mechanism and its parameters are in :mod:`restock.feed.demo.customers`.

Modules, in the order of the draws: ``chain`` (the fixed description), ``catalogue`` (SKUs and
assortment), ``demand`` (weather, events, promotions, expected demand), ``stock`` (the (s, S)
simulation and purchase orders), ``tables`` (feed tables and true demand), ``customers`` (its own
generator: who bought each line, who left), ``generate`` (the entry point that calls them in
order and writes the feed).
"""

from restock.feed.demo.chain import FUTURE_DAYS
from restock.feed.demo.generate import default_truth_path, generate_demo_feed

__all__ = ["FUTURE_DAYS", "default_truth_path", "generate_demo_feed"]
