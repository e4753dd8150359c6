"""The report's sections, by theme: each function returns the HTML of one section's body.

``summary`` (run summary, headline, the page's lead line), ``orders`` (reorder lines, unknown
stock, alerts), ``forecasts`` (leaderboard, accuracy, key series), ``replay`` (the frontier),
``quality`` (data quality). ``restock.report.html`` lists them in page order.
"""
