with

products as (
    select * from {{ ref('stg_feed__products') }}
),

lead_times as (
    select * from {{ ref('int_lead_times_from_purchase_orders') }}
),

lead_time_spread as (
    select
        sku,
        stddev_samp(lead_time_days) as lead_time_std_days
    from lead_times
    group by sku
),

final as (
    select
        products.sku,
        products.category,
        products.subcategory,
        products.name,
        products.supplier,
        products.lead_time_days,
        -- products value, else the spread of received purchase orders, else 0
        coalesce(products.lead_time_std_days, lead_time_spread.lead_time_std_days, 0)
            as lead_time_std_days,
        products.unit_cost,
        products.unit_price,
        products.moq,
        products.pack_size,
        products.max_stock,
        products.service_level,
        products.active
    from products
    left join lead_time_spread
        on lead_time_spread.sku = products.sku
)

select * from final
