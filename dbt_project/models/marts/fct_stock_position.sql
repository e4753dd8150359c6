with

products as (
    select * from {{ ref('stg_feed__products') }}
),

daily_sales as (
    select * from {{ ref('int_sales_aggregated_to_daily') }}
),

inventory as (
    select * from {{ ref('int_inventory_daily') }}
),

open_orders as (
    select * from {{ ref('fct_open_purchase_orders') }}
),

series as (
    select sku, location from daily_sales
    union
    select sku, location from inventory
),

latest_snapshot as (
    -- the last snapshot of each series (a row_number() subquery: Postgres has no QUALIFY)
    select
        sku,
        location,
        snapshot_date,
        on_hand,
        on_order
    from (
        select
            sku,
            location,
            date as snapshot_date,
            on_hand,
            on_order,
            row_number() over (partition by sku, location order by date desc) as recency
        from inventory
    ) as ranked
    where recency = 1
),

open_by_series as (
    select
        sku,
        location,
        sum(open_quantity) as open_quantity
    from open_orders
    group by sku, location
),

final as (
    select
        series.sku,
        series.location,
        latest_snapshot.on_hand is not null as stock_known,
        cast(latest_snapshot.on_hand as {{ type_double() }}) as on_hand,
        -- open purchase orders when the feed has them, else the snapshot's on_order, else 0
        cast(coalesce(open_by_series.open_quantity, latest_snapshot.on_order, 0) as {{ type_double() }})
            as on_order,
        cast(0 as {{ type_double() }}) as backorders,
        latest_snapshot.snapshot_date
    from series
    inner join products
        on products.sku = series.sku
    left join latest_snapshot
        on latest_snapshot.sku = series.sku
        and latest_snapshot.location = series.location
    left join open_by_series
        on open_by_series.sku = series.sku
        and open_by_series.location = series.location
    where products.active
)

select * from final
