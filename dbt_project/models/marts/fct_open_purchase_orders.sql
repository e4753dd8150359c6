with

purchase_orders as (
    select * from {{ ref('stg_feed__purchase_orders') }}
),

open_lines as (
    select
        po_id,
        sku,
        location,
        order_date,
        expected_date,
        quantity - coalesce(received_quantity, 0) as open_quantity
    from purchase_orders
    where status = 'open'
        and order_date <= {{ as_of_date() }}
        and (received_date is null or received_date > {{ as_of_date() }})
),

final as (
    select * from open_lines
    where open_quantity > 0
)

select * from final
