with

purchase_orders as (
    select * from {{ ref('stg_feed__purchase_orders') }}
),

received as (
    select
        po_id,
        sku,
        location,
        order_date,
        received_date,
        cast({{ dbt.datediff('order_date', 'received_date', 'day') }} as {{ type_double() }})
            as lead_time_days
    from purchase_orders
    where received_date is not null
        and status <> 'cancelled'
        and received_date <= {{ as_of_date() }}
),

final as (
    select * from received
)

select * from final
