-- Every accepted sales unit dated on or before as_of reaches fct_daily_demand, on the sold or
-- the returned side: returns are kept apart, nothing is lost or double counted by the spine.
-- dagster-dbt attaches this multi-model test to fct_daily_demand as an asset check
{{ config(meta={'dagster': {'ref': {'name': 'fct_daily_demand'}}}) }}

with

sales as (
    select * from {{ ref('stg_feed__sales') }}
),

daily_demand as (
    select * from {{ ref('fct_daily_demand') }}
),

products as (
    select * from {{ ref('stg_feed__products') }}
),

sales_totals as (
    select
        coalesce(sum(case when sales.quantity > 0 then sales.quantity else 0 end), 0) as sold,
        coalesce(-sum(case when sales.quantity < 0 then sales.quantity else 0 end), 0) as returned
    from sales
    inner join products
        on products.sku = sales.sku
    where sales.date <= {{ as_of_date() }}
),

demand_totals as (
    select
        coalesce(sum(units_sold), 0) as sold,
        coalesce(sum(units_returned), 0) as returned
    from daily_demand
),

final as (
    select
        sales_totals.sold as sales_sold,
        demand_totals.sold as demand_sold,
        sales_totals.returned as sales_returned,
        demand_totals.returned as demand_returned
    from sales_totals
    cross join demand_totals
    where abs(sales_totals.sold - demand_totals.sold) > 1e-6
        or abs(sales_totals.returned - demand_totals.returned) > 1e-6
)

select * from final
