with

suppliers as (
    select * from {{ ref('stg_feed__suppliers') }}
),

final as (
    select
        supplier,
        lead_time_days,
        min_order_value,
        min_order_units,
        order_weekdays,
        case_size,
        express_lead_time_days,
        express_cost_pct
    from suppliers
)

select * from final
