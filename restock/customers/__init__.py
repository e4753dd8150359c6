"""Customers hit by stock-outs (issue 18): plain-library maths, not yet wired into the nightly.

- :mod:`restock.customers.inferred_stockouts`: per series and day, the probability that the item
  was unavailable, from sales alone (series without inventory rows), the ``stockout_days`` table
  and the censoring flags censored-demand handling reads.
- :mod:`restock.customers.impact`: which customers were turned away by a stock-out of an item
  they buy regularly (the hit definition), the ``customer_stockout_impact`` and
  ``sku_customer_impact`` tables.
- :mod:`restock.customers.churn`: the churn-risk model (logistic regression on recency,
  frequency, monetary value and hits), fitted on earlier windows and scored out of time.
"""
