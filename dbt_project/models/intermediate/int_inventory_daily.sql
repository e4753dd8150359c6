with

inventory as (
    select * from {{ ref('stg_feed__inventory') }}
),

final as (
    select
        sku,
        location,
        date,
        on_hand,
        stockout_hours,
        on_order,
        -- a day that closed empty or lost selling hours: its sales are a lower bound of demand
        coalesce(on_hand = 0, false) or coalesce(stockout_hours > 0, false) as is_censored
    from inventory
    where date <= {{ as_of_date() }}
)

select * from final
