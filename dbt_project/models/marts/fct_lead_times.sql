with

lead_times as (
    select * from {{ ref('int_lead_times_from_purchase_orders') }}
),

final as (
    select
        sku,
        location,
        count(*) as n_receipts,
        avg(lead_time_days) as lead_time_mean_days,
        -- one receipt shows no spread: 0 rather than NULL
        coalesce(stddev_samp(lead_time_days), 0) as lead_time_std_days
    from lead_times
    group by sku, location
)

select * from final
