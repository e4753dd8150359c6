"""Register the published DuckDB file in Superset and make one chart, through the REST API."""
import json
import sys

import requests

BASE = "http://127.0.0.1:8088"
WAREHOUSE = sys.argv[1]
s = requests.Session()
_request = s.request
s.request = lambda *a, **kw: _request(*a, timeout=kw.pop("timeout", 60), **kw)  # type: ignore
tok = s.post(f"{BASE}/api/v1/security/login", json={
    "username": "admin", "password": "admin", "provider": "db", "refresh": True}).json()
s.headers["Authorization"] = f"Bearer {tok['access_token']}"
s.headers["X-CSRFToken"] = s.get(f"{BASE}/api/v1/security/csrf_token/").json()["result"]
s.headers["Referer"] = BASE

db = s.post(f"{BASE}/api/v1/database/", json={
    "database_name": "restock (DuckDB file)",
    "sqlalchemy_uri": f"duckdb:///{WAREHOUSE}",
    "extra": json.dumps({"engine_params": {"connect_args": {"read_only": True}}}),
    "expose_in_sqllab": True,
})
print("database", db.status_code, db.text[:300])
db_id = db.json()["id"]
ds = s.post(f"{BASE}/api/v1/dataset/", json={
    "database": db_id, "schema": "marts", "table_name": "reorder_recommendations"})
print("dataset", ds.status_code, ds.text[:300])
ds_id = ds.json()["id"]
params = {
    "datasource": f"{ds_id}__table", "viz_type": "echarts_timeseries_bar",
    "x_axis": "category", "metrics": [{
        "expressionType": "SIMPLE", "column": {"column_name": "recommended_order_units"},
        "aggregate": "SUM", "label": "units to order"}],
    "groupby": [], "adhoc_filters": [], "row_limit": 100, "orientation": "vertical",
    "show_legend": False, "x_axis_title": "category", "y_axis_title": "units to order",
}
chart = s.post(f"{BASE}/api/v1/chart/", json={
    "slice_name": "Units to order by category (restock.reorder_recommendations)",
    "viz_type": "echarts_timeseries_bar", "datasource_id": ds_id,
    "datasource_type": "table", "params": json.dumps(params)})
print("chart", chart.status_code, chart.text[:300])
chart_id = chart.json()["id"]
data = s.post(f"{BASE}/api/v1/chart/data", json={
    "datasource": {"id": ds_id, "type": "table"},
    "queries": [{"columns": ["category"], "metrics": params["metrics"], "row_limit": 100}],
    "result_format": "json", "result_type": "full"})
print("data", data.status_code, json.dumps(data.json()["result"][0]["data"])[:400])
print("CHART_ID", chart_id)
