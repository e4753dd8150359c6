with

daily_sales as (
    select * from {{ ref('int_sales_aggregated_to_daily') }}
),

inventory as (
    select * from {{ ref('int_inventory_daily') }}
),

promotion_days as (
    select * from {{ ref('fct_promotion_days') }}
),

events as (
    select * from {{ ref('fct_events') }}
),

products as (
    select * from {{ ref('stg_feed__products') }}
),

series as (
    select
        sku,
        location,
        min(date) as first_date
    from daily_sales
    group by sku, location
),

spine as (
    -- every day from the series' first sale to as_of: missing days are zero-sales days
    select
        sku,
        location,
        {{ days_between('first_date', as_of_date()) }} as date
    from series
),

events_everywhere as (
    select distinct date from events where location is null
),

events_local as (
    select distinct date, location from events where location is not null
),

final as (
    select
        spine.sku,
        spine.location,
        products.category,
        spine.date,
        coalesce(daily_sales.units_sold, 0) as units_sold,
        coalesce(daily_sales.units_returned, 0) as units_returned,
        inventory.on_hand,
        inventory.stockout_hours,
        coalesce(inventory.is_censored, false) as is_censored,
        coalesce(daily_sales.promo, false) or promotion_days.date is not null as promo,
        promotion_days.discount_pct,
        daily_sales.unit_price,
        daily_sales.n_customers,
        events_everywhere.date is not null or events_local.date is not null as is_event
    from spine
    inner join products
        on products.sku = spine.sku
    left join daily_sales
        on daily_sales.sku = spine.sku
        and daily_sales.location = spine.location
        and daily_sales.date = spine.date
    left join inventory
        on inventory.sku = spine.sku
        and inventory.location = spine.location
        and inventory.date = spine.date
    left join promotion_days
        on promotion_days.sku = spine.sku
        and promotion_days.location = spine.location
        and promotion_days.date = spine.date
    left join events_everywhere
        on events_everywhere.date = spine.date
    left join events_local
        on events_local.date = spine.date
        and events_local.location = spine.location
)

select * from final
